// startReconcile against a StaticCatalog and a temp folder, with the API behind in-memory seams (the
// real API server is another suite): files written, rewritten, removed (delete, node labels), nothing
// unchanged touched, admins' files left alone, the node's RelayNode from status.json, a restart and a
// failed apply, Events; and one run with the real agent and socat.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { TestContext } from 'node:test';
import type { KubeConfig } from '@kubernetes/client-node';
import { Registry } from 'prom-client';
import { silentLogger } from '../../../lib/log.js';
import { agentStatusPath, parseDocuments, type Relay } from '../../../relay/index.js';
import { StaticCatalog } from '../../../webhook/catalog/catalog.js';
import { startReconcile } from '../../../webhook/reconcile/index.js';
import {
  defer,
  httpService,
  socatUnavailable,
  startAgent,
  tempDirs,
  waitFor,
  getViaSocket,
  type Dirs,
} from '../../harness/agent.js';
import { required } from '../../harness/required.js';
import { FakeApi, FakeNamespaces, FakeNode } from './fakes.js';
import { consumerNamespacesOf } from '../../../node-contract/index.js';
import { consumerVerdict, validateRelay, CONSUMER_NAMESPACES_ANNOTATION } from '../../../relay/index.js';

const FIX = path.resolve(import.meta.dirname, '../../fixtures/node');
const fixtureRelays = (): Relay[] => parseDocuments(readFileSync(path.join(FIX, 'relays.yaml'), 'utf8')) as Relay[];
const CONTROL_PLANE = { 'node-role.kubernetes.io/control-plane': '', 'kubernetes.io/os': 'linux' };

async function setup(
  t: TestContext,
  relays: Relay[],
  labels: Record<string, string> = CONTROL_PLANE,
  dirs?: Dirs,
  namespaces?: FakeNamespaces,
) {
  const d = dirs ?? (await tempDirs(t, 'reconcile'));
  const catalog = new StaticCatalog(relays);
  const api = new FakeApi();
  const node = new FakeNode(labels);
  const registry = new Registry();
  const handle = await startReconcile({
    kc: {} as KubeConfig,
    catalog,
    nodeName: 'node-a',
    configDir: d.configDir,
    socketDir: d.socketDir,
    registry,
    log: silentLogger,
    api,
    nodeSource: node,
    statusPollMs: 50,
    resyncSeconds: 3600,
    ...(namespaces ? { namespaces } : {}),
    schedule: (fn, ms) => {
      const h = setTimeout(fn, Math.min(ms, 20));
      return () => clearTimeout(h);
    },
  });
  defer(t, () => handle.stop());
  return { dirs: d, catalog, api, node, registry, handle };
}

/** The folder's visible files, sorted. */
const files = (dir: string): string[] =>
  existsSync(dir)
    ? readdirSync(dir)
        .filter((f) => !f.startsWith('.'))
        .sort()
    : [];

async function writeAgentStatus(socketDir: string, text: string): Promise<void> {
  await mkdir(path.dirname(agentStatusPath(socketDir)), { recursive: true });
  await writeFile(agentStatusPath(socketDir), text);
}

test('writes one file per relay selecting this node, nothing for others or invalid relays', async (t) => {
  const { dirs, handle } = await setup(t, fixtureRelays());
  await waitFor('files', () => files(dirs.configDir).length === 2);
  await handle.idle();
  assert.deepEqual(files(dirs.configDir), ['kube-scheduler.json', 'syslog.json']);
  const obj = JSON.parse(readFileSync(path.join(dirs.configDir, 'kube-scheduler.json'), 'utf8'));
  assert.equal(obj.spec.target.port, 10259);
  assert.equal(statSync(path.join(dirs.configDir, 'kube-scheduler.json')).mode & 0o777, 0o644);
  assert.match(await handle.metrics.filesWritten.get().then((m) => String(m.values[0]?.value)), /^2$/);
});

test("a changed relay is rewritten; the unchanged file keeps its inode and mtime; a deleted relay's file is removed", async (t) => {
  const { dirs, catalog, handle } = await setup(t, fixtureRelays());
  await waitFor('files', () => files(dirs.configDir).length === 2);
  await handle.idle();
  const sched = path.join(dirs.configDir, 'kube-scheduler.json');
  const sys = path.join(dirs.configDir, 'syslog.json');
  const before = statSync(sys);
  const schedIno = statSync(sched).ino;
  const r = structuredClone(catalog.get('kube-scheduler')!);
  r.spec.target.port = 10260;
  r.metadata.generation = 3;
  catalog.put(r);
  await waitFor('rewritten', () => JSON.parse(readFileSync(sched, 'utf8')).spec.target.port === 10260);
  assert.notEqual(statSync(sched).ino, schedIno, 'written by rename of a new file');
  // An update that changes nothing in the file (status, resourceVersion) writes nothing.
  const s = structuredClone(catalog.get('syslog')!);
  s.metadata.resourceVersion = '999';
  s.status = { readyNodes: 3 };
  catalog.put(s);
  catalog.delete('kube-scheduler');
  await waitFor('removed', () => !existsSync(sched));
  await handle.idle();
  const after = statSync(sys);
  assert.equal(after.ino, before.ino);
  assert.equal(after.mtimeMs, before.mtimeMs);
  assert.deepEqual(files(dirs.configDir), ['syslog.json']);
});

test("when the node's labels change so a relay no longer selects it, its file and its entry in the RelayNode are removed", async (t) => {
  const { dirs, node, api, handle } = await setup(t, fixtureRelays());
  await writeAgentStatus(dirs.socketDir, readFileSync(path.join(FIX, 'status-running.json'), 'utf8'));
  await waitFor('scheduler entry', () => api.entry('kube-scheduler')?.state === 'Running');
  node.set({ 'kubernetes.io/os': 'linux' }); // no longer a control-plane node
  await waitFor('file removed', () => !existsSync(path.join(dirs.configDir, 'kube-scheduler.json')));
  await waitFor('entry removed', () => api.entry('kube-scheduler') === undefined);
  await handle.idle();
  assert.deepEqual(
    api.stored!.status!.relays!.map((e) => e.name),
    ['metadata-server', 'syslog'],
    'the relays that still select the node stay (the invalid one reported Invalid)',
  );
  assert.deepEqual(files(dirs.configDir), ['syslog.json']);
});

test("hand-dropped files are left alone: an admin's YAML, and an admin's JSON even with a relay's file name", async (t) => {
  const d = await tempDirs(t, 'reconcile-admin');
  const adminYaml =
    'apiVersion: socat.io/v1alpha1\nkind: Relay\nmetadata: {name: docker}\nspec: {target: {host: 127.0.0.1, port: 9323}, consumers: {namespaces: [monitoring]}}\n';
  const adminJson = JSON.stringify({
    apiVersion: 'socat.io/v1alpha1',
    kind: 'Relay',
    metadata: { name: 'syslog' },
    spec: { protocol: 'UDP', target: { host: '127.0.0.1', port: 514 }, consumers: { namespaces: ['x'] } },
  });
  const stray = '{"note": "not a relay at all"}';
  await writeFile(path.join(d.configDir, 'docker.yaml'), adminYaml);
  await writeFile(path.join(d.configDir, 'syslog.json'), adminJson);
  await writeFile(path.join(d.configDir, 'notes.json'), stray);
  const { handle } = await setup(t, fixtureRelays(), CONTROL_PLANE, d);
  await waitFor('scheduler file', () => existsSync(path.join(d.configDir, 'kube-scheduler.json')));
  await handle.idle();
  assert.equal(readFileSync(path.join(d.configDir, 'docker.yaml'), 'utf8'), adminYaml);
  assert.equal(readFileSync(path.join(d.configDir, 'syslog.json'), 'utf8'), adminJson);
  assert.equal(readFileSync(path.join(d.configDir, 'notes.json'), 'utf8'), stray);
  assert.deepEqual(files(d.configDir), ['docker.yaml', 'kube-scheduler.json', 'notes.json', 'syslog.json']);
});

test("status: entries follow the agent's status file (running, failing, missing, half-written) with Events on changes", async (t) => {
  const { dirs, catalog, api, handle } = await setup(t, fixtureRelays());
  const entry = (relay: string) => api.entry(relay);
  // No status file yet: the agent is missing.
  await waitFor('AgentMissing', () => entry('kube-scheduler')?.state === 'AgentMissing');
  assert.match(entry('kube-scheduler')!.message!, /no agent status/);
  const running = readFileSync(path.join(FIX, 'status-running.json'), 'utf8');
  await writeAgentStatus(dirs.socketDir, running);
  await waitFor('Running', () => entry('kube-scheduler')?.state === 'Running');
  await waitFor('syslog Failing', () => entry('syslog')?.state === 'Failing');
  await handle.idle();
  assert.equal(entry('kube-scheduler')!.ready, true);
  assert.equal(entry('kube-scheduler')!.observedGeneration, 2);
  assert.equal(entry('syslog')!.restarts, 4);
  assert.match(entry('syslog')!.message!, /Address already in use/);
  // The RelayNode: named after the node, owned by its Node, the counts for the printer columns.
  const rn = api.stored!;
  assert.equal(rn.metadata.name, 'node-a');
  assert.deepEqual(rn.metadata.ownerReferences, [
    { apiVersion: 'v1', kind: 'Node', name: 'node-a', uid: 'uid-node-a' },
  ]);
  assert.deepEqual(
    [rn.status!.relayCount, rn.status!.readyRelays, rn.status!.ready],
    [3, 1, '1/3'],
    'scheduler Running, syslog Failing, the invalid metadata-server relay Invalid',
  );
  assert.equal(entry('kube-scheduler')!.uid, catalog.get('kube-scheduler')!.metadata.uid);
  // The node never writes a Relay.
  assert.equal(catalog.get('kube-scheduler')!.status, undefined);
  const reasons = (relay: string) => api.events.filter((e) => e.relay === relay).map((e) => e.e.reason);
  assert.deepEqual(reasons('kube-scheduler'), ['RelayAgentMissing', 'RelayReady']);
  assert.deepEqual(reasons('syslog'), ['RelayAgentMissing', 'RelayFailing']);
  // The scheduler's socat dies.
  const failing = JSON.parse(running);
  failing.relays['kube-scheduler'] = {
    ...failing.relays['kube-scheduler'],
    running: false,
    lastError: 'socat killed by SIGKILL',
    restarts: 1,
  };
  await writeAgentStatus(dirs.socketDir, JSON.stringify(failing));
  await waitFor('scheduler Failing', () => entry('kube-scheduler')?.state === 'Failing');
  await handle.idle();
  assert.deepEqual(reasons('kube-scheduler'), ['RelayAgentMissing', 'RelayReady', 'RelayFailing']);
  // Half-written file: reported, no crash.
  await writeAgentStatus(dirs.socketDir, running.slice(0, 80));
  await waitFor('half-written reported', () => /not valid JSON/.test(entry('kube-scheduler')?.message ?? ''));
  assert.equal(entry('kube-scheduler')!.state, 'AgentMissing');
  // The file disappears.
  await rm(agentStatusPath(dirs.socketDir));
  await waitFor('missing reported', () => /no agent status/.test(entry('kube-scheduler')?.message ?? ''));
  // Back to running; then nothing more is written while nothing changes (a relay's status update neither).
  await writeAgentStatus(dirs.socketDir, running);
  await waitFor('Running again', () => entry('kube-scheduler')?.state === 'Running');
  await handle.idle();
  const writes = api.writes.length;
  const r = structuredClone(catalog.get('kube-scheduler')!);
  r.status = { readyNodes: 1, ready: '1/1' };
  catalog.put(r);
  await new Promise((res) => setTimeout(res, 200));
  await handle.idle();
  assert.equal(api.writes.length, writes, 'no writes while nothing changes');
});

test('status: a restarted controller keeps the stored transition times and sends no Event for an unchanged state; a failed apply is retried', async (t) => {
  const d = await tempDirs(t, 'reconcile-restart');
  await writeAgentStatus(d.socketDir, readFileSync(path.join(FIX, 'status-running.json'), 'utf8'));
  const relays = fixtureRelays().filter((r) => r.metadata.name === 'kube-scheduler');
  const first = await setup(t, relays, CONTROL_PLANE, d);
  await waitFor('Running', () => first.api.entry('kube-scheduler')?.state === 'Running');
  await first.handle.idle();
  await first.handle.stop();
  const since = first.api.entry('kube-scheduler')!.lastTransitionTime;
  await new Promise((res) => setTimeout(res, 20));
  const catalog = new StaticCatalog(relays);
  const api = new FakeApi();
  api.stored = first.api.stored;
  api.failures = 1;
  const handle = await startReconcile({
    kc: {} as KubeConfig,
    catalog,
    nodeName: 'node-a',
    configDir: d.configDir,
    socketDir: d.socketDir,
    registry: new Registry(),
    log: silentLogger,
    api,
    nodeSource: new FakeNode(CONTROL_PLANE),
    statusPollMs: 50,
    resyncSeconds: 3600,
    schedule: (fn, ms) => {
      const h = setTimeout(fn, Math.min(ms, 20));
      return () => clearTimeout(h);
    },
  });
  defer(t, () => handle.stop());
  await handle.idle();
  assert.equal(api.writes.length, 0, 'the stored RelayNode is already right: nothing to write');
  assert.deepEqual(api.events, [], 'no Event: the state did not change');
  // A new relay: the write fails once, then lands; the old entry keeps its time.
  catalog.put({ ...structuredClone(relays[0]!), metadata: { name: 'second', uid: 'uid-second' } });
  await waitFor('second written', () => api.entry('second') !== undefined);
  assert.equal(api.entry('kube-scheduler')!.lastTransitionTime, since);
});

test('status: a RelayNode deleted by hand is written back at the next resync (read again, then applied)', async (t) => {
  const d = await tempDirs(t, 'reconcile-resync');
  await writeAgentStatus(d.socketDir, readFileSync(path.join(FIX, 'status-running.json'), 'utf8'));
  const catalog = new StaticCatalog(fixtureRelays().filter((r) => r.metadata.name === 'kube-scheduler'));
  const api = new FakeApi();
  const handle = await startReconcile({
    kc: {} as KubeConfig,
    catalog,
    nodeName: 'node-a',
    configDir: d.configDir,
    socketDir: d.socketDir,
    registry: new Registry(),
    log: silentLogger,
    api,
    nodeSource: new FakeNode(CONTROL_PLANE),
    statusPollMs: 50,
    resyncSeconds: 0.3,
    schedule: (fn, ms) => {
      const h = setTimeout(fn, Math.min(ms, 20));
      return () => clearTimeout(h);
    },
  });
  defer(t, () => handle.stop());
  await waitFor('Running', () => api.entry('kube-scheduler')?.state === 'Running');
  const writes = api.writes.length;
  api.stored = undefined; // kubectl delete relaynode node-a
  await waitFor('written back', () => api.entry('kube-scheduler')?.state === 'Running', 5000);
  assert.equal(api.writes.length, writes + 1);
});

test(
  'end to end on one node: the reconcile writes the file, the real agent runs socat, the Relay reports Running',
  {
    skip: required(
      socatUnavailable(),
      process.getuid?.() !== 0 ? 'needs root (chown of the socket to the socket group)' : null,
    ),
  },
  async (t) => {
    const d = await tempDirs(t, 'reconcile-e2e');
    const svc = await httpService(t, 'e2e');
    const relay = parseDocuments(`apiVersion: socat.io/v1alpha1
kind: Relay
metadata: {name: e2e, generation: 1}
spec: {target: {host: 127.0.0.1, port: ${svc.port}}, consumers: {namespaces: [default]}}
`)[0] as Relay;
    await startAgent(t, d);
    const { catalog, api } = await setup(t, [relay], {}, d);
    await waitFor('Running on node-a', () => api.entry('e2e')?.state === 'Running', 10_000);
    assert.equal(await getViaSocket(path.join(d.socketDir, 'e2e', 'socket')), 'e2e GET /');
    assert.equal(api.stored!.status!.ready, '1/1');
    assert.ok(api.events.some((e) => e.e.reason === 'RelayReady'));
    catalog.delete('e2e');
    await waitFor(
      'socket gone after the relay was deleted',
      () => !existsSync(path.join(d.socketDir, 'e2e', 'socket')),
      10_000,
    );
  },
);

test('each node file carries the namespaces its namespaceSelector resolves to, rewritten when namespace labels change', async (t) => {
  const relay = (name: string, consumers: Relay['spec']['consumers']): Relay => ({
    apiVersion: 'socat.io/v1alpha1',
    kind: 'Relay',
    metadata: { name },
    spec: { target: { host: '127.0.0.1', port: 9100 }, consumers },
  });
  const namespaces = new FakeNamespaces([
    { name: 'monitoring', labels: { team: 'observability' } },
    { name: 'apps', labels: { team: 'apps' } },
  ]);
  const { dirs } = await setup(
    t,
    [
      relay('by-selector', { namespaceSelector: { matchLabels: { team: 'observability' } } }),
      relay('by-name', { namespaces: ['monitoring'] }),
    ],
    CONTROL_PLANE,
    undefined,
    namespaces,
  );
  const doc = (name: string): unknown => JSON.parse(readFileSync(path.join(dirs.configDir, `${name}.json`), 'utf8'));
  await waitFor('files', () => files(dirs.configDir).length === 2);
  assert.deepEqual(consumerNamespacesOf(doc('by-selector')), ['monitoring']);
  assert.equal(
    (doc('by-name') as Relay).metadata.annotations?.[CONSUMER_NAMESPACES_ANNOTATION],
    undefined,
    'no selector: no annotation',
  );
  // The node's consumer check, fed from the file, agrees with the selector.
  const resolved = validateRelay(doc('by-selector')).resolved!;
  assert.equal(
    consumerVerdict(resolved, 'monitoring', { resolvedNames: consumerNamespacesOf(doc('by-selector')) }).allowed,
    true,
  );
  assert.equal(
    consumerVerdict(resolved, 'apps', { resolvedNames: consumerNamespacesOf(doc('by-selector')) }).allowed,
    false,
  );
  namespaces.set([
    { name: 'monitoring', labels: { team: 'observability' } },
    { name: 'apps', labels: { team: 'observability' } },
    { name: 'zeta', labels: {} },
  ]);
  await waitFor('annotation rewritten', () => String(consumerNamespacesOf(doc('by-selector'))) === 'apps,monitoring');
  namespaces.set([{ name: 'apps', labels: { team: 'apps' } }]);
  await waitFor('no namespace matches any more', () => consumerNamespacesOf(doc('by-selector'))?.length === 0);
  assert.equal(
    (doc('by-selector') as Relay).metadata.annotations?.[CONSUMER_NAMESPACES_ANNOTATION],
    '',
    'present and empty: the selector admits nobody now',
  );
});
