// Which nodes' status entries are stale because their controller is gone: each node's controller holds
// a coordination.k8s.io/v1 Lease `socat-relay-controller-<node>` in its own namespace (holderIdentity =
// the node, renewed every LEASE_RENEW_SECONDS, leaseDurationSeconds LEASE_DURATION_SECONDS). A node
// whose Lease was last renewed longer ago than its leaseDuration + LEASE_GRACE_SECONDS (2 minutes with
// the defaults), or that has no Lease at all, feeds the same stale set as a Node not Ready
// (stale.ts): its entries stay, the summary counts them as not ready. The Lease I/O is leases-kube.ts.
// Clocks differ between nodes: renewTime is written with the holder's clock. So, as the node lifecycle
// controller does with node Leases, the running controller measures a Lease's age on its own clock from
// the moment it first saw the current renewTime (trackRenewals); renewTime is then only compared for
// change. A holder not seen renewing yet falls back to renewTime's age (the table tests, a fresh cache).
import { createHash } from 'node:crypto';

export const LEASE_PREFIX = 'socat-relay-controller-';
/** The Lease's stated duration (spec.leaseDurationSeconds), as the kubelet's node Lease has. */
export const LEASE_DURATION_SECONDS = 40;
/** How often a controller renews its Lease: a quarter of the duration (the kubelet renews every 10 s). */
export const LEASE_RENEW_SECONDS = 10;
/** Added to the duration before a node counts as stale: 40 s + 80 s = 2 minutes without a renewal. */
export const LEASE_GRACE_SECONDS = 80;

/** The Lease of the one elected controller (webhook/cluster/election.ts), in the same namespace. */
export const LEADER_LEASE = 'socat-relay-leader';
/** kube-controller-manager's defaults: lease 15 s, renew deadline 10 s (2/3), retry every 2 s. */
export const LEADER_LEASE_SECONDS = 15;

/** The Lease name of a node's controller; a name too long for an object name keeps a hash of the rest. */
export function leaseName(node: string): string {
  const full = `${LEASE_PREFIX}${node}`;
  if (full.length <= 253) return full;
  const hash = createHash('sha256').update(node).digest('hex').slice(0, 16);
  return `${full.slice(0, 253 - hash.length - 1).replace(/[.-]+$/, '')}-${hash}`;
}

/** What the decision reads of a Lease (renewTime a Date from a list, a string from a watch event). */
export interface LeaseView {
  metadata?: { name?: string };
  spec?: { holderIdentity?: string; leaseDurationSeconds?: number; renewTime?: Date | string };
}

export interface LeaseStaleInput {
  leases: readonly LeaseView[];
  /** The cluster's Nodes: one without a Lease is stale too (after `watchingSince`); only entries' nodes matter. */
  nodes: Iterable<string>;
  now: Date;
  /**
   * When the Lease cache was first filled: a missing Lease counts only after duration + grace from then (a controller
   * that just started has that long to create its own).
   */
  watchingSince: Date;
  graceMs?: number;
  /** The duration assumed where a Lease states none (or a bad one) and for a missing Lease. */
  durationMs?: number;
  /** Holder → when (this process's clock) its current renewTime was first seen (trackRenewals). */
  seen?: ReadonlyMap<string, SeenRenewal>;
}

/**
 * A holder's newest renewTime (ms, as written by the holder's clock) and when this process first saw it (its own
 * clock).
 */
export interface SeenRenewal {
  renewMs: number;
  seenAt: number;
}

/** The newest renewal per holder of our Leases (a Lease renamed or duplicated counts once, at its best). */
function newestRenewals(
  leases: readonly LeaseView[],
  defaultDurationMs: number,
): Map<string, { at: number; durationMs: number }> {
  const renewed = new Map<string, { at: number; durationMs: number }>();
  for (const l of leases) {
    const holder = l.spec?.holderIdentity;
    if (!l.metadata?.name?.startsWith(LEASE_PREFIX) || !holder) continue;
    const at = l.spec?.renewTime === undefined ? NaN : new Date(l.spec.renewTime).getTime();
    const d = l.spec?.leaseDurationSeconds;
    const durationMs = typeof d === 'number' && Number.isFinite(d) && d > 0 ? d * 1000 : defaultDurationMs;
    const prev = renewed.get(holder);
    if (!prev || (Number.isFinite(at) && !(prev.at >= at))) renewed.set(holder, { at, durationMs });
  }
  return renewed;
}

/**
 * Holder → its newest renewTime and when it was first seen: kept from `prev` while renewTime is the
 * same (compared in ms: a list gives a Date, a watch a string with microseconds), `nowMs` when it changed
 * or is new. Holders without a Lease any more are dropped.
 */
export function trackRenewals(
  prev: ReadonlyMap<string, SeenRenewal>,
  leases: readonly LeaseView[],
  nowMs: number,
): Map<string, SeenRenewal> {
  const out = new Map<string, SeenRenewal>();
  for (const [holder, r] of newestRenewals(leases, 0)) {
    if (!Number.isFinite(r.at)) continue;
    const p = prev.get(holder);
    out.set(holder, p && p.renewMs === r.at ? p : { renewMs: r.at, seenAt: nowMs });
  }
  return out;
}

/** Node name → why it is stale, for every node whose controller Lease is expired or missing. */
export function staleByLease(i: LeaseStaleInput): Map<string, string> {
  const graceMs = i.graceMs ?? LEASE_GRACE_SECONDS * 1000;
  const defaultDurationMs = i.durationMs ?? LEASE_DURATION_SECONDS * 1000;
  const now = i.now.getTime();
  const renewed = newestRenewals(i.leases, defaultDurationMs);
  const out = new Map<string, string>();
  for (const [holder, r] of renewed) {
    if (!Number.isFinite(r.at)) {
      out.set(holder, 'controller lease never renewed');
      continue;
    }
    const seen = i.seen?.get(holder);
    const age = seen && seen.renewMs === r.at ? now - seen.seenAt : now - r.at;
    // The reason names the stated time, not the age: it goes into the Relays' Ready message, which would
    // otherwise change (and be rewritten to every watcher) at each sweep while the node stays stale.
    if (age > r.durationMs + graceMs)
      out.set(holder, `controller lease not renewed for over ${Math.round((r.durationMs + graceMs) / 1000)} s`);
  }
  if (now - i.watchingSince.getTime() > defaultDurationMs + graceMs) {
    for (const n of i.nodes) if (!renewed.has(n)) out.set(n, 'no controller lease');
  }
  return out;
}
