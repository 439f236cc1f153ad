// The fleet topology on a real API server, with the controllers as shipped (cli/controller.ts, real
// processes): three serving controllers (webhook + their node's reconcile; candidates for election) and
// one reconcile-only controller, each on its own Node object (no kubelet: each node's agent is its
// status file). What must hold:
// - each node writes its own RelayNode only (owned by its Node, field manager socat-relay/<node>) and
//   never a Relay; exactly one elected controller writes the Relays' summaries (field manager
//   socat-relay): ready "4/4", desiredNodes, Ready, observedGeneration; an older version's
//   status.nodes[] is removed;
// - the reconcile-only controller is never elected;
// - the leader stops: another serving controller takes over and its summary counts the stopped node
//   as stale once that node's Lease expires;
// - a Node deleted: the garbage collector (the test control plane's kube-controller-manager) deletes
//   its RelayNode, and the summary follows.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import type { Relay, RelayNode } from '../../relay/index.js';
import {
  POD_CONTROLLERS,
  installCrds,
  skipUnlessControlPlane,
  startControlPlane,
  startNodeController,
  waitFor,
  type ControlPlane,
  type RunningController,
} from '../harness/index.js';

const skip = skipUnlessControlPlane();
const NS = 'socat-relay-system';
const SERVING = ['cp-1', 'cp-2', 'cp-3'];
const WORKER = 'worker-1';
const NODES = [...SERVING, WORKER];
// Short times: node Leases 2 s + 1 s grace (stale after 3 s), leader Lease 3 s.
const TIMES = {
  SOCAT_RELAY_LEASE_DURATION_SECONDS: '2',
  SOCAT_RELAY_LEASE_RENEW_SECONDS: '0.5',
  SOCAT_RELAY_LEASE_GRACE_SECONDS: '1',
  SOCAT_RELAY_LEADER_LEASE_SECONDS: '3',
};

interface Lease {
  spec: { holderIdentity?: string; leaseTransitions?: number };
}
interface Managed {
  manager: string;
  operation: string;
  subresource?: string;
}

describe('fleet: RelayNodes, one elected controller, failover, garbage collection', () => {
  let cp: ControlPlane | undefined;
  const controllers = new Map<string, RunningController>();
  const api = () => cp!.client;
  const relay = (name: string): Promise<Relay & { metadata: { managedFields?: Managed[] } }> =>
    api().get('socat.io/v1alpha1', 'Relay', name);
  const relayNode = (name: string): Promise<RelayNode | undefined> =>
    api().getOrUndefined('socat.io/v1alpha1', 'RelayNode', name);
  const leader = async (): Promise<string | undefined> =>
    (await api().getOrUndefined<Lease>('coordination.k8s.io/v1', 'Lease', 'socat-relay-leader', NS))?.spec
      .holderIdentity || undefined;
  const nodeOf = (identity: string | undefined): string | undefined => identity?.split('/')[0];

  const start = async (node: string, generation: Record<string, number>): Promise<RunningController> => {
    const c = await startNodeController({
      kubeconfigPath: cp!.kubeconfigPath,
      dir: path.join(cp!.dir, `fleet-${node}`),
      nodeName: node,
      generations: generation,
      serveAdmission: node !== WORKER,
      env: { POD_NAMESPACE: NS, LOG_LEVEL: 'info', ...TIMES },
    });
    controllers.set(node, c);
    return c;
  };

  before(async () => {
    if (skip) return;
    cp = await startControlPlane({
      controllers: [...POD_CONTROLLERS, 'garbage-collector-controller'],
      namespaces: [NS],
    });
    await installCrds(api());
    for (const n of NODES)
      await api().apply({
        apiVersion: 'v1',
        kind: 'Node',
        metadata: {
          name: n,
          labels: {
            'fleet-test': 'yes',
            ...(SERVING.includes(n) ? { 'node-role.kubernetes.io/control-plane': '' } : {}),
          },
        },
      });
    const spec = (port: number, nodeSelector?: Record<string, string>) => ({
      target: { host: '127.0.0.1', port },
      consumers: { namespaces: ['monitoring'] },
      ...(nodeSelector ? { nodeSelector } : {}),
    });
    await api().apply({
      apiVersion: 'socat.io/v1alpha1',
      kind: 'Relay',
      metadata: { name: 'everywhere' },
      spec: spec(9100),
    } as any);
    await api().apply({
      apiVersion: 'socat.io/v1alpha1',
      kind: 'Relay',
      metadata: { name: 'sched' },
      spec: spec(10259, { 'node-role.kubernetes.io/control-plane': '' }),
    } as any);
    // What an older version left: one entry per node in status.nodes, under each node's field manager.
    await api().apply(
      {
        apiVersion: 'socat.io/v1alpha1',
        kind: 'Relay',
        metadata: { name: 'everywhere' },
        status: { nodes: [{ name: 'gone-node', ready: true, state: 'Running' }] },
      } as any,
      { subresource: 'status', fieldManager: 'socat-relay/gone-node' },
    );
    const generation = {
      everywhere: (await relay('everywhere')).metadata.generation!,
      sched: (await relay('sched')).metadata.generation!,
    };
    for (const n of NODES) await start(n, generation);
  });
  after(async () => {
    for (const c of controllers.values()) await c.stop().catch(() => undefined);
    await cp?.stop();
  });

  test(
    'each node has its own RelayNode, owned by its Node and written only by its own field manager',
    { skip },
    async () => {
      for (const n of NODES) {
        const rn = await waitFor(
          `RelayNode ${n}`,
          async () => {
            const r = await relayNode(n);
            return r?.status?.ready === (n === WORKER ? '1/1' : '2/2') ? r : undefined;
          },
          { timeoutMs: 60_000, intervalMs: 300 },
        );
        const node = await api().get('v1', 'Node', n);
        assert.deepEqual(
          rn.metadata.ownerReferences?.map((o) => [o.kind, o.name, o.uid]),
          [['Node', n, node.metadata.uid]],
        );
        assert.deepEqual(
          rn.status!.relays!.map((e) => [e.name, e.state]),
          n === WORKER
            ? [['everywhere', 'Running']]
            : [
                ['everywhere', 'Running'],
                ['sched', 'Running'],
              ],
        );
        const managers = ((rn.metadata as { managedFields?: Managed[] }).managedFields ?? []).map((m) => m.manager);
        assert.deepEqual([...new Set(managers)], [`socat-relay/${n}`]);
      }
      const table = await api().request<{ columnDefinitions: { name: string }[]; rows: { cells: unknown[] }[] }>(
        'GET',
        '/apis/socat.io/v1alpha1/relaynodes',
        { accept: 'application/json;as=Table;v=v1;g=meta.k8s.io' },
      );
      assert.deepEqual(
        table.columnDefinitions.map((c) => c.name),
        ['Name', 'Relays', 'Ready', 'Age'],
      );
      assert.deepEqual(table.rows.map((r) => r.cells.slice(0, 3)).sort(), [
        ['cp-1', 2, '2/2'],
        ['cp-2', 2, '2/2'],
        ['cp-3', 2, '2/2'],
        [WORKER, 1, '1/1'],
      ]);
    },
  );

  test(
    "one elected serving controller writes every Relay's summary; no node writes a Relay; status.nodes of an older version is gone",
    { skip },
    async () => {
      const r = await waitFor(
        'everywhere 4/4 and its old status.nodes removed',
        async () => {
          const x = await relay('everywhere');
          return x.status?.ready === '4/4' && x.status.nodes === undefined ? x : undefined;
        },
        { timeoutMs: 60_000, intervalMs: 300 },
      );
      assert.deepEqual(
        [r.status!.readyNodes, r.status!.desiredNodes, r.status!.observedGeneration, r.status!.listenPort],
        [4, 4, r.metadata.generation, 9100],
      );
      const cond = r.status!.conditions!.find((c) => c.type === 'Ready')!;
      assert.deepEqual([cond.status, cond.reason, cond.message], ['True', 'AllNodesReady', '4/4 nodes ready']);
      await waitFor('sched 3/3', async () => (await relay('sched')).status?.ready === '3/3', {
        timeoutMs: 30_000,
        intervalMs: 300,
      });
      const statusManagers = (r.metadata.managedFields ?? [])
        .filter((m) => m.subresource === 'status')
        .map((m) => m.manager);
      assert.deepEqual(statusManagers, ['socat-relay'], "the status is the elected controller's alone");
      const table = await api().request<{ columnDefinitions: { name: string }[]; rows: { cells: unknown[] }[] }>(
        'GET',
        '/apis/socat.io/v1alpha1/relays/everywhere',
        { accept: 'application/json;as=Table;v=v1;g=meta.k8s.io' },
      );
      assert.equal(table.rows[0]!.cells[table.columnDefinitions.findIndex((c) => c.name === 'Ready')], '4/4');
      assert.equal(
        table.rows[0]!.cells[table.columnDefinitions.findIndex((c) => c.name === 'Listen')],
        9100,
        'listen.port unset: the Listen column shows the target port',
      );
      const holder = await leader();
      assert.ok(holder && SERVING.includes(nodeOf(holder)!), `the leader is a serving controller: ${holder}`);
    },
  );

  test(
    'idle, nothing is rewritten: no Relay and no RelayNode changes while no state changes (sweeps every 0.5 s, Leases renewed)',
    { skip },
    async () => {
      const versions = async (): Promise<string[]> =>
        [
          ...(await api().list<Relay>('socat.io/v1alpha1', 'Relay')).map(
            (r) => `${r.metadata.name}@${r.metadata.resourceVersion}`,
          ),
          ...(await api().list<RelayNode>('socat.io/v1alpha1', 'RelayNode')).map(
            (r) => `${r.metadata.name}@${r.metadata.resourceVersion}`,
          ),
        ].sort();
      const before = await versions();
      await new Promise((r) => setTimeout(r, 4_000));
      assert.deepEqual(await versions(), before);
    },
  );

  test(
    'the leader stops: another serving controller takes over, and counts the stopped node as stale once its Lease expires',
    { skip },
    async () => {
      const first = nodeOf(await leader())!;
      await controllers.get(first)!.stop(); // SIGTERM: it releases the leader Lease on its way out
      const next = await waitFor(
        'a new leader',
        async () => {
          const h = nodeOf(await leader());
          return h && h !== first ? h : undefined;
        },
        { timeoutMs: 30_000, intervalMs: 200 },
      );
      assert.ok(SERVING.includes(next) && next !== WORKER, `a serving controller took over: ${next}`);
      const r = await waitFor(
        'everywhere 3/4',
        async () => {
          const x = await relay('everywhere');
          return x.status?.ready === '3/4' ? x : undefined;
        },
        { timeoutMs: 60_000, intervalMs: 300 },
      );
      assert.match(
        r.status!.conditions![0]!.message,
        new RegExp(`${first} \\(Running, stale: controller lease not renewed for over 3 s\\)`),
      );
      // While it stays stale nothing changes: the summary is not rewritten at every sweep (every 0.5 s here).
      const rv = r.metadata.resourceVersion;
      await new Promise((res) => setTimeout(res, 3_000));
      assert.equal(
        (await relay('everywhere')).metadata.resourceVersion,
        rv,
        'the stale summary is written once, not at each sweep',
      );
      // The stopped node's RelayNode stays as it last wrote it: only its own controller writes it.
      assert.equal((await relayNode(first))?.status?.ready, '2/2');
      // Started again, it counts again (and it is a candidate again, not the leader).
      const generation = {
        everywhere: (await relay('everywhere')).metadata.generation!,
        sched: (await relay('sched')).metadata.generation!,
      };
      await start(first, generation);
      await waitFor('everywhere 4/4 again', async () => (await relay('everywhere')).status?.ready === '4/4', {
        timeoutMs: 60_000,
        intervalMs: 300,
      });
      assert.equal(nodeOf(await leader()), next, 'leadership does not move back');
    },
  );

  test(
    'the reconcile-only controller is never elected, even when every serving controller is gone',
    { skip },
    async () => {
      for (const n of SERVING) await controllers.get(n)!.stop();
      await new Promise((r) => setTimeout(r, 5_000)); // longer than the leader Lease
      assert.notEqual(nodeOf(await leader()), WORKER);
      for (const n of SERVING) controllers.delete(n);
      const generation = {
        everywhere: (await relay('everywhere')).metadata.generation!,
        sched: (await relay('sched')).metadata.generation!,
      };
      for (const n of SERVING) await start(n, generation);
      await waitFor('a serving leader again', async () => SERVING.includes(nodeOf(await leader()) ?? ''), {
        timeoutMs: 30_000,
        intervalMs: 200,
      });
    },
  );

  test('a Node deleted: the garbage collector deletes its RelayNode, and the summary follows', { skip }, async () => {
    await waitFor('everywhere 4/4', async () => (await relay('everywhere')).status?.ready === '4/4', {
      timeoutMs: 60_000,
      intervalMs: 300,
    });
    await controllers.get(WORKER)!.stop();
    controllers.delete(WORKER);
    await api().delete('v1', 'Node', WORKER);
    await waitFor(
      `RelayNode ${WORKER} deleted by the garbage collector`,
      async () => (await relayNode(WORKER)) === undefined,
      { timeoutMs: 120_000, intervalMs: 500 },
    );
    const r = await waitFor(
      'everywhere 3/3',
      async () => {
        const x = await relay('everywhere');
        return x.status?.ready === '3/3' ? x : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 300 },
    );
    assert.equal(r.status!.conditions![0]!.status, 'True');
  });
});
