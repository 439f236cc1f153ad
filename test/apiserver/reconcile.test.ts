// The node reconcile (webhook/reconcile startReconcile) in-process against a real API server, as the
// controller runs it: an informer catalog of Relays, a Node object made by the test (no kubelet here),
// config files in a temp folder, status written with server-side apply under socat-relay/<node>.
// No node agent runs in this file (the full flow has one), so the node reports the agent missing.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { Registry } from 'prom-client';
import { silentLogger } from '../../lib/log.js';
import { configFileName } from '../../relay/index.js';
import { InformerRelayCatalog } from '../../webhook/catalog/informer.js';
import { startReconcile } from '../../webhook/reconcile/index.js';
import { installCrds, skipUnlessControlPlane, startControlPlane, waitFor, type ControlPlane } from '../harness/index.js';
import { relay, type AnyObject } from './fixtures.js';

const NODE = 'envtest-node';
const LABEL = 'socat.io/relay-node';

// Each test carries the skip (not the suite) so the run's summary counts them as skipped.
const skip = skipUnlessControlPlane();

describe('node reconcile against a real API server', () => {
  let cp: ControlPlane | undefined;
  let catalog: InformerRelayCatalog | undefined;
  let reconcile: { stop(): Promise<void> } | undefined;
  let configDir = '';
  const api = () => cp!.client;
  const configFile = (name: string) => path.join(configDir, configFileName(name));
  const nodeEntry = async (name: string) => {
    const r = await api().get<AnyObject>('socat.io/v1alpha1', 'Relay', name);
    return r.status?.nodes?.find((n: { name: string }) => n.name === NODE) ? r : undefined;
  };

  before(async () => {
    if (skip) return;
    cp = await startControlPlane();
    await installCrds(api());
    await api().apply({ apiVersion: 'v1', kind: 'Node', metadata: { name: NODE, labels: { [LABEL]: 'true', 'kubernetes.io/hostname': NODE } } });
    configDir = path.join(cp.dir, 'node', 'relays.d');
    const socketDir = path.join(cp.dir, 'node', 'run');
    mkdirSync(configDir, { recursive: true });
    mkdirSync(socketDir, { recursive: true });
    catalog = new InformerRelayCatalog({ kc: cp.kc, log: silentLogger });
    await catalog.start();
    await waitFor('the relay informer to sync', () => catalog!.synced());
    reconcile = await startReconcile({ kc: cp.kc, catalog, nodeName: NODE, configDir, socketDir, registry: new Registry(), log: silentLogger });
  });
  after(async () => {
    await reconcile?.stop();
    await catalog?.stop();
    await cp?.stop();
  });

  test('a Relay that selects this node gets its config file: the Relay object itself', { skip }, async () => {
    await api().create(relay('node-http', (r) => { r.spec.nodeSelector = { [LABEL]: 'true' }; }));
    const file = configFile('node-http');
    await waitFor(`${file} to be written`, () => existsSync(file));
    const written = JSON.parse(readFileSync(file, 'utf8')) as AnyObject;
    const stored = await api().get<AnyObject>('socat.io/v1alpha1', 'Relay', 'node-http');
    assert.equal(written.apiVersion, 'socat.io/v1alpha1');
    assert.equal(written.kind, 'Relay');
    assert.equal(written.metadata.name, 'node-http');
    assert.deepEqual(written.spec, stored.spec);
  });

  test('status.nodes shows the node, applied server-side by the field manager socat-relay/<node>', { skip }, async () => {
    const r = await waitFor('status.nodes to list the node', () => nodeEntry('node-http'), { timeoutMs: 15_000 });
    const entry = r.status.nodes.find((n: { name: string }) => n.name === NODE);
    assert.equal(typeof entry.ready, 'boolean');
    assert.ok(['Running', 'Starting', 'Failing', 'Invalid', 'AgentMissing'].includes(entry.state), `state ${entry.state}`);
    assert.equal(entry.ready, false, 'no node agent runs in this test');
    const managers = (r.metadata.managedFields as { manager: string; operation: string; subresource?: string }[])
      .filter((m) => m.manager === `socat-relay/${NODE}`);
    assert.deepEqual(managers.map((m) => [m.operation, m.subresource]), [['Apply', 'status']]);
  });

  test('kubectl get relays shows the port consumers reach (the target port when listen.port is unset)', { skip }, async () => {
    await api().create(relay('no-listen', (r) => { delete r.spec.listen; }));
    await waitFor('status.listenPort', async () => (await api().get<AnyObject>('socat.io/v1alpha1', 'Relay', 'no-listen')).status?.listenPort === 18080, { timeoutMs: 15_000 });
    const table = await api().request<{ columnDefinitions: { name: string }[]; rows: { cells: unknown[] }[] }>('GET', '/apis/socat.io/v1alpha1/relays/no-listen', {
      accept: 'application/json;as=Table;v=v1;g=meta.k8s.io',
    });
    const col = table.columnDefinitions.findIndex((c) => c.name === 'Listen');
    assert.equal(table.rows[0]?.cells[col], 18080);
  });

  test('a Relay whose nodeSelector does not match this node gets no config file and no entry for it', { skip }, async () => {
    await api().create(relay('elsewhere', (r) => { r.spec.nodeSelector = { [LABEL]: 'false' }; }));
    // A matching relay created after it is the signal that the reconcile has seen both.
    await api().create(relay('after-elsewhere', (r) => { r.spec.nodeSelector = { [LABEL]: 'true' }; }));
    await waitFor('the later relay to be reconciled', async () => existsSync(configFile('after-elsewhere')) && (await nodeEntry('after-elsewhere')) !== undefined, { timeoutMs: 15_000 });
    assert.equal(existsSync(configFile('elsewhere')), false);
    assert.equal(await nodeEntry('elsewhere'), undefined);
  });

  test('deleting a Relay deletes its config file', { skip }, async () => {
    assert.ok(existsSync(configFile('node-http')));
    await api().delete('socat.io/v1alpha1', 'Relay', 'node-http');
    await waitFor(`${configFile('node-http')} to be removed`, () => !existsSync(configFile('node-http')));
    assert.ok(existsSync(configFile('after-elsewhere')), 'the other relay stays');
  });

  test('a node relabeled so that the Relay no longer selects it loses the config file', { skip }, async () => {
    await api().apply({ apiVersion: 'v1', kind: 'Node', metadata: { name: NODE, labels: { [LABEL]: 'no', 'kubernetes.io/hostname': NODE } } });
    await waitFor(`${configFile('after-elsewhere')} to be removed`, () => !existsSync(configFile('after-elsewhere')), { timeoutMs: 15_000 });
  });
});
