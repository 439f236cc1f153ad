// Status that stays true when a Node goes away: its entry in status.nodes[] is removed (and readyNodes
// and Ready recomputed) by whichever controller sees the deletion — with a resourceVersion
// precondition, so a Relay changed in between is left for the next sweep — and no other node's entry
// is touched. The pure patch, then the real thing on the test API server (Nodes created and deleted
// there, entries written by server-side apply under each node's field manager as controllers do).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fjp from 'fast-json-patch';
import { KubeConfig } from '@kubernetes/client-node';
import type { Relay, RelayNodeStatus } from '../../relay/index.js';
import { createLogger } from '../../lib/log.js';
import { entriesOfMissingNodes, prunePatch, startNodePrune } from '../../webhook/reconcile/prune.js';
import { InformerRelayCatalog } from '../../webhook/catalog/informer.js';
import { installCrds, skipUnlessControlPlane, startControlPlane, waitFor, type ControlPlane } from '../harness/index.js';

const entry = (name: string, ready: boolean): RelayNodeStatus => ({ name, ready, state: ready ? 'Running' : 'Failing', lastTransitionTime: '2026-11-30T00:00:00Z' });
const relayWith = (nodes: RelayNodeStatus[]): Relay => ({
  apiVersion: 'socat.io/v1alpha1', kind: 'Relay', metadata: { name: 'r', resourceVersion: '42', generation: 3 },
  spec: { target: { host: '127.0.0.1', port: 10259 }, consumers: { namespaces: ['monitoring'] } },
  status: {
    nodes, readyNodes: nodes.filter((n) => n.ready).length,
    conditions: [{ type: 'Ready', status: 'False', reason: 'NodesNotReady', message: 'old', lastTransitionTime: '2026-11-30T00:00:00Z' }],
  },
});

test('the patch: the resourceVersion test first, only the gone entries removed, readyNodes and Ready from the rest', () => {
  const relay = relayWith([entry('a', true), entry('gone-1', true), entry('b', true), entry('gone-2', false)]);
  assert.deepEqual(entriesOfMissingNodes(relay, (n) => !n.startsWith('gone')), ['gone-1', 'gone-2']);
  const ops = prunePatch(relay, ['gone-1', 'gone-2'], '2026-11-30T01:00:00Z');
  assert.deepEqual(ops[0], { op: 'test', path: '/metadata/resourceVersion', value: '42' });
  const after = fjp.applyPatch(structuredClone(relay), ops as fjp.Operation[], true, false).newDocument;
  assert.deepEqual(after.status!.nodes!.map((n) => n.name), ['a', 'b']);
  assert.equal(after.status!.readyNodes, 2);
  assert.deepEqual([after.status!.conditions![0]!.status, after.status!.conditions![0]!.reason, after.status!.conditions![0]!.observedGeneration], ['True', 'AllNodesReady', 3]);
  const stale = { ...structuredClone(relay), metadata: { ...relay.metadata, resourceVersion: '43' } };
  assert.throws(() => fjp.applyPatch(stale, ops as fjp.Operation[], true, false), /Test operation failed/, 'a changed Relay is not patched');
  assert.throws(() => prunePatch({ ...relay, metadata: { name: 'r' } }, ['a'], 'now'), /no resourceVersion/);
});

describe('on a real API server', { skip: skipUnlessControlPlane() }, () => {
  let cp: ControlPlane;
  const log = createLogger({ level: 'silent', name: 'prune-test' });

  const applyEntry = (relay: string, e: RelayNodeStatus) => cp.client.apply(
    { apiVersion: 'socat.io/v1alpha1', kind: 'Relay', metadata: { name: relay }, status: { nodes: [e] } } as any,
    { subresource: 'status', fieldManager: `socat-relay/${e.name}` });
  const getRelay = (name: string) => cp.client.get<Relay>('socat.io/v1alpha1', 'Relay', name);

  before(async () => {
    cp = await startControlPlane();
    await installCrds(cp.client);
    for (const n of ['node-a', 'node-b', 'node-gone']) await cp.client.apply({ apiVersion: 'v1', kind: 'Node', metadata: { name: n } });
    for (const r of ['scheduler', 'etcd']) {
      await cp.client.apply({ apiVersion: 'socat.io/v1alpha1', kind: 'Relay', metadata: { name: r }, spec: { target: { host: '127.0.0.1', port: 2381 }, consumers: { namespaces: ['monitoring'] } } } as any);
      for (const n of ['node-a', 'node-b', 'node-gone']) await applyEntry(r, entry(n, true));
      await cp.client.apply({ apiVersion: 'socat.io/v1alpha1', kind: 'Relay', metadata: { name: r }, status: { readyNodes: 3, conditions: [{ type: 'Ready', status: 'True', reason: 'AllNodesReady', message: '3/3 nodes ready', lastTransitionTime: '2026-11-30T00:00:00Z' }] } } as any, { subresource: 'status', fieldManager: 'socat-relay' });
    }
  });
  after(async () => {
    await cp?.stop();
  });

  test('deleting a Node removes its entries from every Relay; the others and the Ready summary follow', async (t) => {
    const kc = new KubeConfig();
    kc.loadFromFile(cp.kubeconfigPath);
    const catalog = new InformerRelayCatalog({ kc, log });
    await catalog.start();
    const prune = await startNodePrune({ kc, catalog, log, intervalMs: 3_600_000 });
    t.after(async () => { await prune.stop(); await catalog.stop(); }); // the next test runs its sweeps by hand
    assert.deepEqual(await prune.sweep(), [], 'nothing to prune while every Node exists');
    await cp.client.delete('v1', 'Node', 'node-gone');
    for (const r of ['scheduler', 'etcd']) {
      const relay = await waitFor(`${r} pruned`, async () => {
        const x = await getRelay(r);
        return x.status?.nodes?.some((n) => n.name === 'node-gone') ? undefined : x;
      }, { timeoutMs: 30_000 });
      assert.deepEqual(relay.status!.nodes!.map((n) => n.name).sort(), ['node-a', 'node-b']);
      assert.equal(relay.status!.readyNodes, 2);
      const ready = relay.status!.conditions!.find((c) => c.type === 'Ready')!;
      assert.deepEqual([ready.status, ready.message], ['True', '2/2 nodes ready']);
    }
  });

  test('the precondition: a sweep over a stale copy of the Relay changes nothing', async () => {
    await cp.client.apply({ apiVersion: 'v1', kind: 'Node', metadata: { name: 'node-c' } });
    await applyEntry('scheduler', entry('node-c', false));
    const stale = await getRelay('scheduler');
    await applyEntry('scheduler', entry('node-a', false)); // the Relay changes after it was read
    await cp.client.delete('v1', 'Node', 'node-c');
    const kc = new KubeConfig();
    kc.loadFromFile(cp.kubeconfigPath);
    const { pruneOnce } = await import('../../webhook/reconcile/prune.js');
    const { CustomObjectsApi, PatchStrategy, setHeaderOptions } = await import('@kubernetes/client-node');
    const custom = kc.makeApiClient(CustomObjectsApi);
    const errors: string[] = [];
    const deps = (relay: Relay) => ({
      relays: () => [relay], inCache: (n: string) => n !== 'node-c', confirmedGone: async () => true, now: () => new Date(), log,
      patch: async (name: string, ops: unknown[]) => {
        await custom.patchClusterCustomObjectStatus({ group: 'socat.io', version: 'v1alpha1', plural: 'relays', name, body: ops }, setHeaderOptions('Content-Type', PatchStrategy.JsonPatch))
          .catch((e: Error) => { errors.push(e.message); throw e; });
      },
    });
    assert.deepEqual(await pruneOnce(deps(stale)), []);
    assert.match(errors.join(), /test operation|resourceVersion|Code: (409|422)/i, 'refused by the precondition');
    const now = await getRelay('scheduler');
    assert.ok(now.status!.nodes!.some((n) => n.name === 'node-c'), 'left for the next sweep');
    assert.equal(now.status!.nodes!.find((n) => n.name === 'node-a')!.state, 'Failing', 'the newer write stands');
    assert.deepEqual(await pruneOnce(deps(now)), ['scheduler/node-c'], 'the next sweep, on the current Relay, prunes');
  });
  test('a Node not Ready for 10 minutes: its entry stays, the summary counts it as not ready (a sweep redoes it)', async (t) => {
    await cp.client.apply({ apiVersion: 'v1', kind: 'Node', metadata: { name: 'node-down' } });
    const since = new Date(Date.now() - 10 * 60_000).toISOString();
    await cp.client.apply({ apiVersion: 'v1', kind: 'Node', metadata: { name: 'node-down' }, status: { conditions: [{ type: 'Ready', status: 'Unknown', reason: 'NodeStatusUnknown', message: 'Kubelet stopped posting node status.', lastTransitionTime: since, lastHeartbeatTime: since }] } } as any, { subresource: 'status' });
    await applyEntry('etcd', entry('node-down', true));
    const kc = new KubeConfig();
    kc.loadFromFile(cp.kubeconfigPath);
    const catalog = new InformerRelayCatalog({ kc, log });
    await catalog.start();
    const prune = await startNodePrune({ kc, catalog, log, intervalMs: 3_600_000 });
    t.after(async () => { await prune.stop(); await catalog.stop(); });
    await waitFor('the catalog and the Node cache', () => prune.staleNodes().has('node-down') && catalog.get('etcd')?.status?.nodes?.some((n) => n.name === 'node-down'), { timeoutMs: 30_000 });
    assert.deepEqual(await prune.sweep(), ['etcd']);
    const relay = await getRelay('etcd');
    assert.ok(relay.status!.nodes!.find((n) => n.name === 'node-down')!.ready, 'the entry is still its node\'s, untouched');
    const ready = relay.status!.conditions!.find((c) => c.type === 'Ready')!;
    assert.equal(relay.status!.readyNodes, relay.status!.nodes!.length - 1);
    assert.equal(ready.status, 'False');
    assert.match(ready.message, /node-down \(Running, stale: node not Ready\)/);
  });
});

describe('stale entries: a Node not Ready for longer than STALE_AFTER_SECONDS', () => {
  test('staleNodes: NotReady or Unknown since more than the stated time; Ready, recent or unknown nodes are not stale', async () => {
    const { staleNodes, STALE_AFTER_SECONDS } = await import('../../webhook/reconcile/stale.js');
    assert.equal(STALE_AFTER_SECONDS, 300);
    const now = new Date('2026-11-30T01:00:00Z');
    const node = (name: string, status?: string, since?: string) => ({ metadata: { name }, status: status ? { conditions: [{ type: 'Ready', status, lastTransitionTime: since as any }] } : {} });
    const got = staleNodes([
      node('down-long', 'False', '2026-11-30T00:50:00Z'), node('unknown-long', 'Unknown', '2026-11-30T00:54:59Z'),
      node('down-short', 'False', '2026-11-30T00:56:00Z'), node('ready', 'True', '2026-11-30T00:00:00Z'), node('no-status'),
    ] as any, now);
    assert.deepEqual([...got.keys()].sort(), ['down-long', 'unknown-long']);
  });

  test('the summary counts a stale entry as not ready and names it; the patch redoes only an outdated summary', async () => {
    const { summaryOutdated } = await import('../../webhook/reconcile/prune.js');
    const { summarize } = await import('../../webhook/reconcile/node-status.js');
    const nodes = [entry('a', true), entry('down', true)];
    const s = summarize(nodes, 1, 'now', undefined, new Map([['down', 'node not Ready']]));
    assert.deepEqual([s.readyNodes, s.ready.status, s.ready.message], [1, 'False', '1/2 nodes ready; not ready: down (Running, stale: node not Ready)']);
    const relay = relayWith(nodes);
    relay.status!.conditions = [{ type: 'Ready', status: 'True', reason: 'AllNodesReady', message: '2/2 nodes ready', lastTransitionTime: 't', observedGeneration: 3 }];
    assert.equal(summaryOutdated(relay, 'now', new Map()), false, 'nothing stale: the nodes keep their summary');
    assert.equal(summaryOutdated(relay, 'now', new Map([['down', 'node not Ready']])), true);
    const after = fjp.applyPatch(structuredClone(relay), prunePatch(relay, [], 'now', new Map([['down', 'node not Ready']])) as fjp.Operation[], true, false).newDocument;
    assert.deepEqual(after.status!.nodes, relay.status!.nodes, 'the entries stay their nodes\'');
    assert.equal(after.status!.readyNodes, 1);
    assert.equal(summaryOutdated(after, 'later', new Map([['down', 'node not Ready']])), false, 'redone once');
  });
});
