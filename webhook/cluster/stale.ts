// Which nodes' reports are stale: a node whose Ready condition has not been True for longer than
// STALE_AFTER_SECONDS, or whose controller's Lease expired (webhook/reconcile/lease.ts) — one set, fed
// by both. Its kubelet — and with it the node's controller and agent — is gone or cut off, so what its
// RelayNode last said (often Running) says nothing about now. The RelayNode stays its own node's (only
// that node's controller writes it); the elected controller's summary — readyNodes and the Ready
// condition — counts it as not ready and names it stale.
import type { V1Node } from '@kubernetes/client-node';

/** Five minutes: the node-lifecycle controller's default before it evicts the pods of a NotReady node. */
export const STALE_AFTER_SECONDS = 300;

/** Stale node names, each with why (named in the Ready message). */
export type StaleNodes = ReadonlyMap<string, string>;

/** Names of the nodes whose Ready condition is not True since longer than `staleAfterMs`. */
export function staleNodes(
  nodes: readonly Pick<V1Node, 'metadata' | 'status'>[],
  now: Date,
  staleAfterMs = STALE_AFTER_SECONDS * 1000,
): Map<string, string> {
  const out = new Map<string, string>();
  for (const n of nodes) {
    const name = n.metadata?.name;
    const ready = n.status?.conditions?.find((c) => c.type === 'Ready');
    if (!name || !ready || ready.status === 'True') continue;
    const since = ready.lastTransitionTime ? new Date(ready.lastTransitionTime).getTime() : NaN;
    if (Number.isFinite(since) && now.getTime() - since > staleAfterMs) out.set(name, 'node not Ready');
  }
  return out;
}

/** The union of stale sets (the first reason named wins). */
export function mergeStale(...sets: StaleNodes[]): Map<string, string> {
  const out = new Map<string, string>();
  for (const s of sets) for (const [n, why] of s) if (!out.has(n)) out.set(n, why);
  return out;
}
