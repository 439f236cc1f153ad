// The pure core of the elected controller: each Relay's summary — readyNodes, desiredNodes, the
// `ready` string ("3/5", the printer column), the Ready condition, observedGeneration and listenPort —
// from every node's RelayNode and the stale set, and whether the stored status must be rewritten.
import {
  effectiveListenPort,
  type Condition,
  type NodeRelayState,
  type Relay,
  type RelayNode,
  type RelayNodeEntry,
} from '../../relay/index.js';
import type { StaleNodes } from './stale.js';

/** One node's report on one relay. */
export interface NodeReport {
  node: string;
  entry: RelayNodeEntry;
}

/** Relay name → the nodes that report it (one pass over every RelayNode; sorted by node). */
export function reportsByRelay(relayNodes: readonly RelayNode[]): Map<string, NodeReport[]> {
  const out = new Map<string, NodeReport[]>();
  for (const rn of relayNodes) {
    const node = rn.metadata?.name;
    if (!node) continue;
    for (const entry of rn.status?.relays ?? []) {
      if (!entry || typeof entry.name !== 'string') continue;
      let list = out.get(entry.name);
      if (!list) out.set(entry.name, (list = []));
      list.push({ node, entry });
    }
  }
  for (const list of out.values()) list.sort((a, b) => (a.node < b.node ? -1 : a.node > b.node ? 1 : 0));
  return out;
}

export interface Summary {
  readyNodes: number;
  desiredNodes: number;
  ready: Condition;
}

/** What summarize counts of a node's entry. */
export interface NodeState {
  name: string;
  ready: boolean;
  state: NodeRelayState;
}

/**
 * readyNodes and the Ready condition over the nodes that report a relay: True when at least one node
 * reports and every reporting node is ready. A stale node's report counts as not ready, whatever it said.
 */
export function summarize(
  nodes: readonly NodeState[],
  generation: number | undefined,
  now: string,
  previous?: Condition,
  stale?: StaleNodes,
): Summary {
  const isReady = (n: NodeState): boolean => n.ready && !stale?.has(n.name);
  const readyNodes = nodes.filter(isReady).length;
  let status: Condition['status'];
  let reason: string;
  let message: string;
  if (nodes.length === 0) {
    status = 'False';
    reason = 'NoNodes';
    message = 'no node reports this relay: check spec.nodeSelector and that the controller runs on the nodes';
  } else if (readyNodes === nodes.length) {
    status = 'True';
    reason = 'AllNodesReady';
    message = `${readyNodes}/${nodes.length} nodes ready`;
  } else {
    status = 'False';
    reason = 'NodesNotReady';
    const bad = nodes
      .filter((n) => !isReady(n))
      .map((n) => `${n.name} (${n.state}${stale?.has(n.name) ? `, stale: ${stale.get(n.name)}` : ''})`)
      .sort();
    message = `${readyNodes}/${nodes.length} nodes ready; not ready: ${bad.slice(0, 5).join(', ')}${bad.length > 5 ? `, and ${bad.length - 5} more` : ''}`;
  }
  const lastTransitionTime =
    previous?.status === status && previous.lastTransitionTime ? previous.lastTransitionTime : now;
  return {
    readyNodes,
    desiredNodes: nodes.length,
    ready: {
      type: 'Ready',
      status,
      reason,
      message,
      lastTransitionTime,
      ...(generation !== undefined ? { observedGeneration: generation } : {}),
    },
  };
}

/** The Relay's status fields the elected controller owns (server-side apply under `socat-relay`). */
export interface SummaryStatus {
  readyNodes: number;
  desiredNodes: number;
  ready: string;
  observedGeneration?: number;
  listenPort?: number;
  conditions: Condition[];
}

/**
 * The summary of one relay from its reports. Reports of another Relay of the same name (an older uid:
 * deleted and re-created, the node has not caught up yet) do not count.
 */
export function relaySummary(
  relay: Relay,
  reports: readonly NodeReport[],
  now: string,
  stale?: StaleNodes,
): SummaryStatus {
  const uid = relay.metadata.uid;
  const nodes = reports
    .filter((r) => !uid || !r.entry.uid || r.entry.uid === uid)
    .map((r) => ({ name: r.node, ready: r.entry.ready === true, state: r.entry.state }));
  const generation = relay.metadata.generation;
  const previous = relay.status?.conditions?.find((c) => c.type === 'Ready');
  const s = summarize(nodes, generation, now, previous, stale);
  const listenPort = effectiveListenPort(relay.spec);
  return {
    readyNodes: s.readyNodes,
    desiredNodes: s.desiredNodes,
    ready: `${s.readyNodes}/${s.desiredNodes}`,
    ...(generation !== undefined ? { observedGeneration: generation } : {}),
    ...(listenPort !== undefined ? { listenPort } : {}),
    conditions: [s.ready],
  };
}

/**
 * What the elected controller writes for one relay: nothing, the summary, and/or the removal of the deprecated
 * status.nodes.
 */
export interface SummaryWrite {
  apply?: SummaryStatus;
  clearNodes: boolean;
}

/** Compares the wanted summary with the stored status (lastTransitionTime aside: it follows status). */
export function summaryWrite(relay: Relay, wanted: SummaryStatus): SummaryWrite {
  const st = relay.status ?? {};
  const cur = st.conditions?.find((c) => c.type === 'Ready');
  const want = wanted.conditions[0]!;
  const same =
    st.readyNodes === wanted.readyNodes &&
    st.desiredNodes === wanted.desiredNodes &&
    st.ready === wanted.ready &&
    st.observedGeneration === wanted.observedGeneration &&
    st.listenPort === wanted.listenPort &&
    cur !== undefined &&
    cur.status === want.status &&
    cur.reason === want.reason &&
    cur.message === want.message &&
    cur.observedGeneration === want.observedGeneration;
  return { ...(same ? {} : { apply: wanted }), clearNodes: (st.nodes?.length ?? 0) > 0 || st.nodes !== undefined };
}

/** The least time between two summary writes of one Relay at fleet size: 30 s. */
const SUMMARY_MAX_INTERVAL_MS = 30_000;
/** The least time between two summary writes of one Relay on a small cluster: 1 s. */
const SUMMARY_MIN_INTERVAL_MS = 1_000;
/** Per selected node, the least time between two summary writes grows by this much (5 000 nodes: 30 s). */
const SUMMARY_MS_PER_NODE = 6;

/**
 * How long the summary write of one Relay waits (0: now). Every node's controller watches every Relay, so
 * each summary write reaches N watchers: on a large, churning fleet the summaries are paced — at most one
 * write per Relay every 6 ms × its selected nodes, from 1 s up to 30 s — so a node's cost stays R/30 events/s
 * at most whatever N. A Relay's first summary, and one for a new generation (a spec change), go at once.
 */
export function summaryWait(o: {
  /** When this Relay's summary was last written (ms), if this controller wrote one. */
  lastWriteMs: number | undefined;
  nowMs: number;
  stored: Relay['status'];
  wanted: SummaryStatus;
}): number {
  if (o.lastWriteMs === undefined || o.stored?.ready === undefined) return 0;
  if (o.stored.observedGeneration !== o.wanted.observedGeneration) return 0;
  const interval = Math.min(
    SUMMARY_MAX_INTERVAL_MS,
    Math.max(SUMMARY_MIN_INTERVAL_MS, o.wanted.desiredNodes * SUMMARY_MS_PER_NODE),
  );
  return Math.max(0, o.lastWriteMs + interval - o.nowMs);
}
