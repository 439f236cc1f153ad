// The pure core of the status half: this node's `status.nodes[]` entry for a relay, built from the
// agent's status file, the summary fields (readyNodes, the Ready condition) built from the whole list,
// and the Event worth recording when this node's state changes.
import { configFileName, formatProblems, validateRelay, type Condition, type NodeRelayState, type Relay, type RelayNodeStatus } from '../../relay/index.js';
import { parseAgentStatus, staleAgentStatusAge, type AgentStatus } from '../../node-contract/index.js';
import type { StaleNodes } from './stale.js';

/** What the reconcile could read of the agent's status file. */
export type AgentView =
  | { kind: 'ok'; status: AgentStatus }
  | { kind: 'missing'; message: string }
  | { kind: 'unreadable'; message: string };

/** Parses the status text once: the status, or the message an unreadable file is reported with. */
export function parseAgentView(text: string, file: string): { status: AgentStatus } | { error: string } {
  try {
    return { status: parseAgentStatus(text) };
  } catch (e) {
    return { error: `${file}: ${(e as Error).message}` };
  }
}

/** A parsed status at `nowMs`: one whose heartbeat stopped (a dead agent's last report) → missing, never "running". */
export function agentViewOf(status: AgentStatus, nowMs: number): AgentView {
  const age = staleAgentStatusAge(status, nowMs);
  if (age !== undefined) {
    return { kind: 'missing', message: `the agent's status was last updated ${age} s ago (${status.agent.updatedAt}; heartbeat every ${status.agent.heartbeatSeconds} s): is the node agent (static pod) running?` };
  }
  return { kind: 'ok', status };
}

/** The agent's status file as the reconcile sees it: half-written or malformed → unreadable; stale → missing. */
export function agentView(text: string, file: string, nowMs: number): AgentView {
  const p = parseAgentView(text, file);
  return 'error' in p ? { kind: 'unreadable', message: p.error } : agentViewOf(p.status, nowMs);
}

export interface EntryInput {
  relay: Relay;
  nodeName: string;
  agent: AgentView;
  /** ISO time used for a new lastTransitionTime. */
  now: string;
  /** This node's entry as the Relay holds it now (keeps lastTransitionTime when the state is unchanged). */
  previous?: RelayNodeStatus;
}

function entry(i: EntryInput, state: NodeRelayState, extra: Partial<RelayNodeStatus> = {}): RelayNodeStatus {
  const lastTransitionTime = i.previous?.state === state && i.previous.lastTransitionTime ? i.previous.lastTransitionTime : i.now;
  return { name: i.nodeName, ready: state === 'Running', state, ...extra, lastTransitionTime };
}

export function nodeEntry(i: EntryInput): RelayNodeStatus {
  const name = i.relay.metadata.name;
  const v = validateRelay(i.relay);
  if (!v.resolved) return entry(i, 'Invalid', { message: formatProblems(v.problems) });
  if (i.agent.kind !== 'ok') return entry(i, 'AgentMissing', { message: i.agent.message });
  const st = i.agent.status;
  const r = st.relays[name];
  const generation = i.relay.metadata.generation;
  if (r) {
    const common: Partial<RelayNodeStatus> = { restarts: r.restarts, ...(r.generation !== undefined ? { observedGeneration: r.generation } : {}) };
    if (!r.running) return entry(i, 'Failing', { ...common, message: r.lastError ?? 'socat is not running' });
    if (generation !== undefined && r.generation !== undefined && r.generation < generation) {
      return entry(i, 'Starting', { ...common, message: `the agent still runs generation ${r.generation} (waiting for ${generation})` });
    }
    return entry(i, 'Running', common);
  }
  const fileError = Object.entries(st.files).find(([, f]) => f.relay === name);
  if (fileError) return entry(i, 'Invalid', { message: `${fileError[0]}: ${fileError[1].error}` });
  return entry(i, 'Starting', { message: `waiting for the agent to start ${configFileName(name)}` });
}

/** Entries equal for status purposes (what would be written). */
export function sameEntry(a: RelayNodeStatus | undefined, b: RelayNodeStatus | undefined): boolean {
  if (!a || !b) return a === b;
  const keys: (keyof RelayNodeStatus)[] = ['name', 'ready', 'state', 'message', 'restarts', 'observedGeneration', 'lastTransitionTime'];
  return keys.every((k) => a[k] === b[k]);
}

export interface Summary {
  readyNodes: number;
  ready: Condition;
}

/**
 * readyNodes and the Ready condition, from the whole `status.nodes` list: True when at least one node
 * reports and every reporting node is ready.
 */
export function summarize(nodes: readonly RelayNodeStatus[], generation: number | undefined, now: string, previous?: Condition, stale?: StaleNodes): Summary {
  // A stale node's entry (webhook/reconcile/stale.ts, lease.ts) counts as not ready, whatever it last said.
  const isReady = (n: RelayNodeStatus): boolean => n.ready && !stale?.has(n.name);
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
    const bad = nodes.filter((n) => !isReady(n)).map((n) => `${n.name} (${n.state}${stale?.has(n.name) ? `, stale: ${stale.get(n.name)}` : ''})`).sort();
    message = `${readyNodes}/${nodes.length} nodes ready; not ready: ${bad.slice(0, 5).join(', ')}${bad.length > 5 ? `, and ${bad.length - 5} more` : ''}`;
  }
  const lastTransitionTime = previous?.status === status && previous.lastTransitionTime ? previous.lastTransitionTime : now;
  return {
    readyNodes,
    ready: { type: 'Ready', status, reason, message, lastTransitionTime, ...(generation !== undefined ? { observedGeneration: generation } : {}) },
  };
}

export function sameSummary(a: Summary, readyNodes: number | undefined, cond: Condition | undefined): boolean {
  return readyNodes === a.readyNodes && cond !== undefined && cond.status === a.ready.status && cond.reason === a.ready.reason
    && cond.message === a.ready.message && cond.observedGeneration === a.ready.observedGeneration;
}

export interface EventSpec {
  type: 'Normal' | 'Warning';
  reason: string;
  message: string;
}

/** The Event for a change of this node's state: ready (→ Running) or failing (Running/new → not ready). */
export function transitionEvent(previous: NodeRelayState | undefined, next: RelayNodeStatus, nodeName: string): EventSpec | undefined {
  if (previous === next.state) return undefined;
  if (next.state === 'Running') return { type: 'Normal', reason: 'RelayReady', message: `relay is running on node ${nodeName}` };
  if (next.state === 'Starting') return undefined;
  return { type: 'Warning', reason: next.state === 'Failing' ? 'RelayFailing' : `Relay${next.state}`, message: `relay is ${next.state} on node ${nodeName}${next.message ? `: ${next.message}` : ''}`.slice(0, 1024) };
}
