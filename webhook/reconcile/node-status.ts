// The pure core of the status half: this node's entry for a relay (in its RelayNode), built from the
// agent's status file, and the Event worth recording when this node's state changes. The Relay's
// summary over every node is the elected controller's (webhook/cluster/summary.ts).
import {
  configFileName,
  formatProblems,
  validateRelay,
  type NodeRelayState,
  type Relay,
  type RelayNodeEntry,
} from '../../relay/index.js';
import { parseAgentStatus, staleAgentStatusAge, type AgentStatus } from '../../node-contract/index.js';

/** What the reconcile could read of the agent's status file. */
export type AgentView =
  { kind: 'ok'; status: AgentStatus } | { kind: 'missing'; message: string } | { kind: 'unreadable'; message: string };

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
    return {
      kind: 'missing',
      message: `the agent's status was last updated ${age} s ago (${status.agent.updatedAt}; heartbeat every ${status.agent.heartbeatSeconds} s): is the node agent (static pod) running?`,
    };
  }
  return { kind: 'ok', status };
}

/** The agent's status file as the reconcile sees it: half-written or malformed → unreadable; stale → missing. */
export function agentView(text: string, file: string, nowMs: number): AgentView {
  const p = parseAgentView(text, file);
  return 'error' in p ? { kind: 'unreadable', message: p.error } : agentViewOf(p.status, nowMs);
}

/** maxLength of a RelayNode entry's message (manifests/crd/relaynodes.socat.io.yaml). */
export const MAX_MESSAGE = 4096;

export interface EntryInput {
  relay: Relay;
  nodeName: string;
  agent: AgentView;
  /** ISO time used for a new lastTransitionTime. */
  now: string;
  /**
   * This relay's entry as this node's RelayNode holds it now (keeps lastTransitionTime when the state is
   * unchanged).
   */
  previous?: RelayNodeEntry;
}

function entry(i: EntryInput, state: NodeRelayState, extra: Partial<RelayNodeEntry> = {}): RelayNodeEntry {
  const uid = i.relay.metadata.uid;
  const sameRelay = !i.previous?.uid || !uid || i.previous.uid === uid;
  const lastTransitionTime =
    sameRelay && i.previous?.state === state && i.previous.lastTransitionTime ? i.previous.lastTransitionTime : i.now;
  // The RelayNode's schema bounds a message (one long message must not make the node's whole object fail).
  const message =
    extra.message !== undefined && extra.message.length > MAX_MESSAGE
      ? `${extra.message.slice(0, MAX_MESSAGE - 3)}...`
      : extra.message;
  return {
    name: i.relay.metadata.name,
    ...(uid ? { uid } : {}),
    ready: state === 'Running',
    state,
    ...extra,
    ...(message !== undefined ? { message } : {}),
    lastTransitionTime,
  };
}

/** This node's entry for one relay (keyed by the relay's name, carrying its uid). */
export function nodeEntry(i: EntryInput): RelayNodeEntry {
  const name = i.relay.metadata.name;
  const v = validateRelay(i.relay);
  if (!v.resolved) return entry(i, 'Invalid', { message: formatProblems(v.problems) });
  if (i.agent.kind !== 'ok') return entry(i, 'AgentMissing', { message: i.agent.message });
  const st = i.agent.status;
  const r = st.relays[name];
  const generation = i.relay.metadata.generation;
  if (r) {
    const common: Partial<RelayNodeEntry> = {
      restarts: r.restarts,
      ...(r.generation !== undefined ? { observedGeneration: r.generation } : {}),
    };
    if (!r.running) return entry(i, 'Failing', { ...common, message: r.lastError ?? 'socat is not running' });
    if (generation !== undefined && r.generation !== undefined && r.generation < generation) {
      return entry(i, 'Starting', {
        ...common,
        message: `the agent still runs generation ${r.generation} (waiting for ${generation})`,
      });
    }
    return entry(i, 'Running', common);
  }
  const fileError = Object.entries(st.files).find(([, f]) => f.relay === name);
  if (fileError) return entry(i, 'Invalid', { message: `${fileError[0]}: ${fileError[1].error}` });
  return entry(i, 'Starting', { message: `waiting for the agent to start ${configFileName(name)}` });
}

export interface EventSpec {
  type: 'Normal' | 'Warning';
  reason: string;
  message: string;
}

/** The Event for a change of this node's state: ready (→ Running) or failing (Running/new → not ready). */
export function transitionEvent(
  previous: NodeRelayState | undefined,
  next: RelayNodeEntry,
  nodeName: string,
): EventSpec | undefined {
  if (previous === next.state) return undefined;
  if (next.state === 'Running')
    return { type: 'Normal', reason: 'RelayReady', message: `relay is running on node ${nodeName}` };
  if (next.state === 'Starting') return undefined;
  return {
    type: 'Warning',
    reason: next.state === 'Failing' ? 'RelayFailing' : `Relay${next.state}`,
    message: `relay is ${next.state} on node ${nodeName}${next.message ? `: ${next.message}` : ''}`.slice(0, 1024),
  };
}
