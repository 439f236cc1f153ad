// The status half of the reconcile, for one relay: this node's entry in status.nodes[] from the agent's
// view (applied only when it changed, with an Event on a state change), then the Ready summary from
// the list the apply returned (applied only when it differs). The decisions are node-status.ts (pure).
import type { Logger } from '../../lib/log.js';
import { effectiveListenPort, matchesNodeSelector, type NodeRelayState, type Relay } from '../../relay/index.js';
import type { ReconcileApi } from './api.js';
import type { ReconcileMetrics } from './metrics.js';
import { nodeEntry, sameEntry, sameSummary, summarize, transitionEvent, type AgentView } from './node-status.js';
import type { StaleNodes } from './stale.js';

export interface StatusDeps {
  api: ReconcileApi;
  nodeName: string;
  now: () => Date;
  metrics: ReconcileMetrics;
  log: Logger;
  /** The state last reported per relay (Events fire on changes, also across a lost apply). */
  lastStates: Map<string, NodeRelayState>;
  /** Nodes whose entries count as not ready in the summary (webhook/reconcile/stale.ts). */
  staleNodes?: () => StaleNodes;
}

/** A relay that cannot be resolved still has a raw nodeSelector: report Invalid only where it matches. */
export function rawSelects(relay: Relay, labels: Record<string, string>): boolean {
  const sel = (relay.spec as { nodeSelector?: unknown } | undefined)?.nodeSelector;
  if (sel === undefined || sel === null) return true;
  if (typeof sel !== 'object' || Array.isArray(sel)) return false;
  return Object.values(sel).every((v) => typeof v === 'string') && matchesNodeSelector(sel as Record<string, string>, labels);
}

/**
 * Applies this node's entry (or removes it when the relay no longer selects the node); returns the
 * stored Relay, or undefined when this node has nothing to do with it (no summary to recompute).
 */
async function reconcileEntry(relay: Relay, nodeLabels: Record<string, string>, agent: AgentView, d: StatusDeps): Promise<Relay | undefined> {
  const name = relay.metadata.name;
  const previous = relay.status?.nodes?.find((n) => n.name === d.nodeName);
  if (!rawSelects(relay, nodeLabels)) {
    d.lastStates.delete(name);
    if (!previous) return undefined;
    const stored = await d.api.applyNodeEntry(name, null);
    d.metrics.statusWrites.inc({ result: 'success' });
    d.log.info({ relay: name }, 'relay no longer selects this node: status entry removed');
    return stored;
  }
  const entry = nodeEntry({ relay, nodeName: d.nodeName, agent, now: d.now().toISOString(), ...(previous ? { previous } : {}) });
  let stored = relay;
  if (!sameEntry(previous, entry)) {
    stored = await d.api.applyNodeEntry(name, entry);
    d.metrics.statusWrites.inc({ result: 'success' });
  }
  const ev = transitionEvent(d.lastStates.get(name) ?? previous?.state, entry, d.nodeName);
  d.lastStates.set(name, entry.state);
  if (ev) {
    try {
      await d.api.recordEvent(relay, ev);
      d.metrics.events.inc({ reason: ev.reason });
    } catch (e) {
      d.log.warn({ relay: name, reason: ev.reason, err: (e as Error).message }, 'cannot record an event');
    }
  }
  return stored;
}

/** Reconciles one relay's status on this node; a relay gone from the catalog only forgets its state. */
export async function reconcileStatus(name: string, relay: Relay | undefined, nodeLabels: Record<string, string>, agent: AgentView, d: StatusDeps): Promise<void> {
  if (!relay) {
    d.lastStates.delete(name);
    return;
  }
  const stored = await reconcileEntry(relay, nodeLabels, agent, d);
  if (!stored) return;
  const cond = stored.status?.conditions?.find((c) => c.type === 'Ready');
  const s = summarize(stored.status?.nodes ?? [], stored.metadata.generation, d.now().toISOString(), cond, d.staleNodes?.());
  const listenPort = effectiveListenPort(stored.spec);
  if (!sameSummary(s, stored.status?.readyNodes, cond) || stored.status?.listenPort !== listenPort) {
    await d.api.applySummary(stored, s.readyNodes, s.ready, listenPort);
    d.metrics.statusWrites.inc({ result: 'success' });
  }
}
