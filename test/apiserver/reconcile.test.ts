// The node reconcile (webhook/reconcile startReconcile) in-process against a real API server, as the
// controller runs it: an informer catalog of Relays, a Node object made by the test (no kubelet here),
// config files in a temp folder, the node's RelayNode written with server-side apply under
// socat-relay/<node>. No node agent runs in this file (the full flow has one), so the node reports the
// agent missing. No elected controller runs here either: the node never writes a Relay.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { Registry } from 'prom-client';
import { silentLogger } from '../../lib/log.js';
import { configFileName } from '../../relay/index.js';
import { InformerRelayCatalog } from '../../webhook/catalog/informer.js';
import { startReconcile } from '../../webhook/reconcile/index.js';
import {
  installCrds,
  skipUnlessControlPlane,
  startControlPlane,
  waitFor,
  type ControlPlane,
} from '../harness/index.js';
import { relay, type AnyObject } from '../harness/apiserver-fixtures.js';

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
  /** This node's RelayNode when it lists the relay. */
  const nodeEntry = async (name: string) => {
    const rn = await api().getOrUndefined<AnyObject>('socat.io/v1alpha1', 'RelayNode', NODE);
    return rn?.status?.relays?.find((e: { name: string }) => e.name === name) ? rn : undefined;
  };

  before(async () => {
    if (skip) return;
    cp = await startControlPlane();
    await installCrds(api());
    await api().apply({
      apiVersion: 'v1',
      kind: 'Node',
      metadata: { name: NODE, labels: { [LABEL]: 'true', 'kubernetes.io/hostname': NODE } },
    });
    configDir = path.join(cp.dir, 'node', 'relays.d');
    const socketDir = path.join(cp.dir, 'node', 'run');
    mkdirSync(configDir, { recursive: true });
    mkdirSync(socketDir, { recursive: true });
    catalog = new InformerRelayCatalog({ kc: cp.kc, log: silentLogger });
    await catalog.start();
    await waitFor('the relay informer to sync', () => catalog!.synced());
    reconcile = await startReconcile({
      kc: cp.kc,
      catalog,
      nodeName: NODE,
      configDir,
      socketDir,
      registry: new Registry(),
      log: silentLogger,
    });
  });
  after(async () => {
    await reconcile?.stop();
    await catalog?.stop();
    await cp?.stop();
  });

  test('a Relay that selects this node gets its config file: the Relay object itself', { skip }, async () => {
    await api().create(
      relay('node-http', (r) => {
        r.spec.nodeSelector = { [LABEL]: 'true' };
      }),
    );
    const file = configFile('node-http');
    await waitFor(`${file} to be written`, () => existsSync(file));
    const written = JSON.parse(readFileSync(file, 'utf8')) as AnyObject;
    const stored = await api().get<AnyObject>('socat.io/v1alpha1', 'Relay', 'node-http');
    assert.equal(written.apiVersion, 'socat.io/v1alpha1');
    assert.equal(written.kind, 'Relay');
    assert.equal(written.metadata.name, 'node-http');
    assert.deepEqual(written.spec, stored.spec);
  });

  test(
    "the node's RelayNode lists the relay, applied server-side by the field manager socat-relay/<node>; the Relay is not written",
    { skip },
    async () => {
      const rn = await waitFor('the RelayNode to list the relay', () => nodeEntry('node-http'), { timeoutMs: 15_000 });
      const entry = rn.status.relays.find((e: { name: string }) => e.name === 'node-http');
      const relayObj = await api().get<AnyObject>('socat.io/v1alpha1', 'Relay', 'node-http');
      assert.equal(entry.uid, relayObj.metadata.uid);
      assert.equal(entry.ready, false, 'no node agent runs in this test');
      assert.equal(entry.state, 'AgentMissing');
      const node = await api().get<AnyObject>('v1', 'Node', NODE);
      assert.deepEqual(
        (rn.metadata.ownerReferences as { kind: string; name: string; uid: string }[]).map(
          (o: { kind: string; name: string; uid: string }) => [o.kind, o.name, o.uid],
        ),
        [['Node', NODE, node.metadata.uid]],
      );
      const managers = (rn.metadata.managedFields as { manager: string; operation: string }[]).map((m) => [
        m.manager,
        m.operation,
      ]);
      assert.deepEqual(managers, [[`socat-relay/${NODE}`, 'Apply']]);
      assert.equal(relayObj.status, undefined, 'the node writes no Relay status');
    },
  );

  test(
    'a Relay whose nodeSelector does not match this node gets no config file and no entry for it',
    { skip },
    async () => {
      await api().create(
        relay('elsewhere', (r) => {
          r.spec.nodeSelector = { [LABEL]: 'false' };
        }),
      );
      // A matching relay created after it is the signal that the reconcile has seen both.
      await api().create(
        relay('after-elsewhere', (r) => {
          r.spec.nodeSelector = { [LABEL]: 'true' };
        }),
      );
      await waitFor(
        'the later relay to be reconciled',
        async () => existsSync(configFile('after-elsewhere')) && (await nodeEntry('after-elsewhere')) !== undefined,
        { timeoutMs: 15_000 },
      );
      assert.equal(existsSync(configFile('elsewhere')), false);
      assert.equal(await nodeEntry('elsewhere'), undefined);
    },
  );

  test('deleting a Relay deletes its config file', { skip }, async () => {
    assert.ok(existsSync(configFile('node-http')));
    await api().delete('socat.io/v1alpha1', 'Relay', 'node-http');
    await waitFor(`${configFile('node-http')} to be removed`, () => !existsSync(configFile('node-http')));
    assert.ok(existsSync(configFile('after-elsewhere')), 'the other relay stays');
  });

  test(
    'a node relabeled so that the Relay no longer selects it loses the config file and the entry',
    { skip },
    async () => {
      await api().apply({
        apiVersion: 'v1',
        kind: 'Node',
        metadata: { name: NODE, labels: { [LABEL]: 'no', 'kubernetes.io/hostname': NODE } },
      });
      await waitFor(
        `${configFile('after-elsewhere')} to be removed`,
        () => !existsSync(configFile('after-elsewhere')),
        { timeoutMs: 15_000 },
      );
      await waitFor(
        'its entry to leave the RelayNode',
        async () => (await nodeEntry('after-elsewhere')) === undefined,
        { timeoutMs: 15_000 },
      );
    },
  );
});
