// Status entries of deleted Nodes: a Node that is gone has no controller left to remove its entry from
// status.nodes[], so its last report (often Running) would count in readyNodes forever. Every
// controller watches the Nodes; whichever sees one missing removes that node's entries — and
// recomputes readyNodes and the Ready condition from what remains — with one JSON patch whose first
// operation tests metadata.resourceVersion, so a Relay that changed since it was read is left alone
// (the next sweep looks again). No other entry is ever written here: each stays its own node's.
// A node is pruned only when the Node cache lacks it AND a fresh list by name confirms it.
// The same sweep keeps the summary true for stale entries (stale.ts: the Node not Ready for longer than
// STALE_AFTER_SECONDS; lease.ts: the node's controller Lease not renewed for its duration + a grace): it recomputes readyNodes and Ready counting them as not ready, with the same
// precondition, when nothing else would (no node of that relay reconciles while a node is down).
import { CoreV1Api, CustomObjectsApi, PatchStrategy, setHeaderOptions, type KubeConfig, type V1Node } from '@kubernetes/client-node';
import type { Logger } from '../../lib/log.js';
import { GROUP, PLURAL, VERSION, type Relay } from '../../relay/index.js';
import type { RelayCatalog } from '../catalog/catalog.js';
import { ResilientInformer } from '../catalog/resilient-informer.js';
import { sameSummary, summarize } from './node-status.js';
import { mergeStale, staleNodes as staleOf, type StaleNodes } from './stale.js';

export interface JsonPatchOp { op: 'test' | 'remove' | 'replace' | 'add'; path: string; value?: unknown }

/** Names in status.nodes[] whose Node does not exist (by `exists`), sorted. */
export function entriesOfMissingNodes(relay: Relay, exists: (node: string) => boolean): string[] {
  return [...new Set((relay.status?.nodes ?? []).map((n) => n.name).filter((n) => !exists(n)))].sort();
}

/**
 * The JSON patch removing `gone` entries: resourceVersion test first, removals from the highest index
 * down (indices stay valid), then readyNodes and the Ready condition of what remains.
 */
export function prunePatch(relay: Relay, gone: readonly string[], now: string, stale?: StaleNodes): JsonPatchOp[] {
  const rv = relay.metadata.resourceVersion;
  if (!rv) throw new Error(`relay ${relay.metadata.name} has no resourceVersion: cannot patch with a precondition`);
  const nodes = relay.status?.nodes ?? [];
  const ops: JsonPatchOp[] = [{ op: 'test', path: '/metadata/resourceVersion', value: rv }];
  const drop = nodes.map((n, i) => (gone.includes(n.name) ? i : -1)).filter((i) => i >= 0).sort((a, b) => b - a);
  for (const i of drop) ops.push({ op: 'remove', path: `/status/nodes/${i}` });
  const remaining = nodes.filter((n) => !gone.includes(n.name));
  const conditions = relay.status?.conditions ?? [];
  const at = conditions.findIndex((c) => c.type === 'Ready');
  const s = summarize(remaining, relay.metadata.generation, now, at >= 0 ? conditions[at] : undefined, stale);
  ops.push({ op: relay.status?.readyNodes === undefined ? 'add' : 'replace', path: '/status/readyNodes', value: s.readyNodes });
  if (at >= 0) ops.push({ op: 'replace', path: `/status/conditions/${at}`, value: s.ready });
  else if (relay.status?.conditions) ops.push({ op: 'add', path: '/status/conditions/-', value: s.ready });
  else ops.push({ op: 'add', path: '/status/conditions', value: [s.ready] });
  return ops;
}

/**
 * Whether a relay with a stale entry has a stored summary that still counts it, or a summary that
 * names an entry stale that no longer is (its controller came back) — then prunePatch(relay, [], now,
 * stale) redoes it. Otherwise the nodes' own reconciles keep the summary.
 */
export function summaryOutdated(relay: Relay, now: string, stale: StaleNodes): boolean {
  const nodes = relay.status?.nodes ?? [];
  const cond = relay.status?.conditions?.find((c) => c.type === 'Ready');
  if (!nodes.some((n) => stale.has(n.name)) && !/, stale: /.test(cond?.message ?? '')) return false;
  return !sameSummary(summarize(nodes, relay.metadata.generation, now, cond, stale), relay.status?.readyNodes, cond);
}

export interface PruneDeps {
  relays: () => Relay[];
  /** Nodes whose entries count as not ready (default none). */
  stale?: () => StaleNodes;
  /** From the Node cache: false for a Node the cache does not hold. */
  inCache: (node: string) => boolean;
  /** A fresh read: true only when the API server says the Node does not exist. */
  confirmedGone: (node: string) => Promise<boolean>;
  /** Applies the patch to the Relay's status; rejects when the precondition failed or on any error. */
  patch: (relay: string, ops: JsonPatchOp[]) => Promise<void>;
  now: () => Date;
  log: Logger;
}

/** One sweep over the catalog; returns the entries removed (relay/node) and the summaries redone (relay). */
export async function pruneOnce(d: PruneDeps): Promise<string[]> {
  const removed: string[] = [];
  const confirmed = new Map<string, boolean>();
  const stale = d.stale?.() ?? new Map<string, string>();
  for (const relay of d.relays()) {
    const candidates = entriesOfMissingNodes(relay, d.inCache);
    const gone: string[] = [];
    for (const n of candidates) {
      if (!confirmed.has(n)) confirmed.set(n, await d.confirmedGone(n).catch(() => false));
      if (confirmed.get(n)) gone.push(n);
    }
    const now = d.now().toISOString();
    if (gone.length === 0) {
      if (!summaryOutdated(relay, now, stale)) continue;
      try {
        await d.patch(relay.metadata.name, prunePatch(relay, [], now, stale));
        removed.push(relay.metadata.name);
        d.log.info({ relay: relay.metadata.name, stale: [...stale.keys()].filter((n) => relay.status?.nodes?.some((e) => e.name === n)) }, 'summary redone: stale entries count as not ready (none: they count again)');
      } catch (err) {
        d.log.debug({ relay: relay.metadata.name, err: (err as Error).message }, 'summary not applied; the next sweep looks again');
      }
      continue;
    }
    try {
      await d.patch(relay.metadata.name, prunePatch(relay, gone, now, stale));
      removed.push(...gone.map((n) => `${relay.metadata.name}/${n}`));
      d.log.info({ relay: relay.metadata.name, nodes: gone }, 'status entries of deleted nodes removed');
    } catch (err) {
      // Most often the precondition: the Relay changed (maybe another controller pruned first).
      d.log.debug({ relay: relay.metadata.name, nodes: gone, err: (err as Error).message }, 'prune not applied; the next sweep looks again');
    }
  }
  return removed;
}

export interface NodePruneOptions {
  kc: KubeConfig;
  catalog: RelayCatalog;
  log: Logger;
  /** Sweep period (default 60 s); a Node deletion also sweeps at once. */
  intervalMs?: number;
  /** A node not Ready for longer than this is stale (default STALE_AFTER_SECONDS). */
  staleAfterMs?: number;
  /** The controller Leases (lease-kube.ts): nodes whose controller is gone are stale too. */
  leases?: { stale(nodes: Iterable<string>): StaleNodes };
  onRestart?: (resource: string) => void;
}

/** Watches every Node and sweeps on deletions and periodically. */
export async function startNodePrune(o: NodePruneOptions): Promise<{ stop(): Promise<void>; sweep(): Promise<string[]>; staleNodes(): StaleNodes }> {
  const core = o.kc.makeApiClient(CoreV1Api);
  const custom = o.kc.makeApiClient(CustomObjectsApi);
  const jsonPatch = setHeaderOptions('Content-Type', PatchStrategy.JsonPatch);
  const informer: ResilientInformer<V1Node> = new ResilientInformer<V1Node>({
    kc: o.kc, path: '/api/v1/nodes', resource: 'nodes', log: o.log,
    list: () => core.listNode(),
    ...(o.onRestart ? { onRestart: o.onRestart } : {}),
  }, { delete: () => { setImmediate(() => { void sweep(); }); } }); // after the cache dropped it
  // (Ready transitions and Lease expiries are caught by the periodic sweep: staleness is a matter of minutes.)
  // Every Node is a candidate for a missing Lease (cheap: no walk over the Relays; a Node without a
  // controller has no entries, so naming it stale changes nothing).
  const staleNodes = (): StaleNodes => {
    const nodes = informer.list();
    const byNode = staleOf(nodes, new Date(), o.staleAfterMs);
    return o.leases ? mergeStale(byNode, o.leases.stale(nodes.flatMap((n) => (n.metadata?.name ? [n.metadata.name] : [])))) : byNode;
  };
  let running: Promise<string[]> | undefined;
  const sweep = (): Promise<string[]> => {
    if (!informer.synced()) return Promise.resolve([]);
    running ??= pruneOnce({
      relays: () => o.catalog.list(),
      stale: staleNodes,
      inCache: (n) => informer.get(n) !== undefined,
      confirmedGone: async (n) => (await core.listNode({ fieldSelector: `metadata.name=${n}` })).items.length === 0,
      patch: async (relay, ops) => {
        await custom.patchClusterCustomObjectStatus({ group: GROUP, version: VERSION, plural: PLURAL, name: relay, body: ops, fieldManager: 'socat-relay-prune' }, jsonPatch);
      },
      now: () => new Date(),
      log: o.log,
    }).finally(() => { running = undefined; });
    return running;
  };
  await informer.start().catch(() => undefined); // retried like a failing watch
  const timer = setInterval(() => { void sweep(); }, o.intervalMs ?? 60_000);
  timer.unref();
  return {
    sweep,
    staleNodes,
    async stop() {
      clearInterval(timer);
      await informer.stop();
      await running?.catch(() => undefined);
    },
  };
}
