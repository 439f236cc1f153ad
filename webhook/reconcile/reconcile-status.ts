// The status half of the reconcile: this node's RelayNode from the agent's view of every relay that
// selects the node, applied only when it differs from what was last written, with an Event on a
// relay's state change on this node. The decisions are relay-node.ts and node-status.ts (pure). This
// node never writes a Relay: the Relays' summaries are the elected controller's (webhook/cluster/).
import type { Logger } from '../../lib/log.js';
import type { NodeRelayState, Relay, RelayNodeEntry } from '../../relay/index.js';
import type { ReconcileApi } from './api.js';
import type { ReconcileMetrics } from './metrics.js';
import { transitionEvent, type AgentView } from './node-status.js';
import { entriesByRelay, relayNodeBody, relayNodeEntries } from './relay-node.js';

export interface StatusDeps {
  api: ReconcileApi;
  nodeName: string;
  now: () => Date;
  metrics: ReconcileMetrics;
  log: Logger;
  /** The state last reported per relay (Events fire on changes, also across a lost apply). */
  lastStates: Map<string, NodeRelayState>;
  /** What this node last wrote (undefined until read from the API server once). */
  written?: { entries: Map<string, RelayNodeEntry>; body: string };
}

/** Reconciles this node's RelayNode from `relays`; `nodeUid` is the Node's uid (the ownerReference). */
export async function reconcileNodeStatus(
  relays: readonly Relay[],
  nodeLabels: Record<string, string>,
  nodeUid: string,
  agent: AgentView,
  d: StatusDeps,
): Promise<void> {
  if (!d.written) {
    // Once per process: the stored entries keep their lastTransitionTime across a restart.
    const stored = await d.api.getRelayNode();
    d.written = {
      entries: entriesByRelay(stored),
      body: stored ? JSON.stringify(relayNodeBody(d.nodeName, nodeUid, stored.status?.relays ?? [])) : '',
    };
  }
  const previous = d.written.entries;
  const entries = relayNodeEntries({
    relays,
    nodeLabels,
    nodeName: d.nodeName,
    agent,
    now: d.now().toISOString(),
    previous,
  });
  const body = relayNodeBody(d.nodeName, nodeUid, entries);
  const text = JSON.stringify(body);
  if (text !== d.written.body) {
    await d.api.applyRelayNode(body);
    d.metrics.statusWrites.inc({ result: 'success' });
    d.written = { entries: new Map(entries.map((e) => [e.name, e])), body: text };
  }
  const byName = new Map(relays.map((r) => [r.metadata.name, r]));
  for (const name of [...d.lastStates.keys()]) if (!entries.some((e) => e.name === name)) d.lastStates.delete(name);
  for (const e of entries) {
    const ev = transitionEvent(d.lastStates.get(e.name) ?? previous.get(e.name)?.state, e, d.nodeName);
    d.lastStates.set(e.name, e.state);
    if (!ev) continue;
    try {
      await d.api.recordEvent(byName.get(e.name)!, ev);
      d.metrics.events.inc({ reason: ev.reason });
    } catch (err) {
      d.log.warn({ relay: e.name, reason: ev.reason, err: (err as Error).message }, 'cannot record an event');
    }
  }
}
