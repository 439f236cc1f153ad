// One elected instance among the serving controllers, the kube-controller-manager way: a
// coordination.k8s.io/v1 Lease `socat-relay-leader` in the install namespace. Every candidate reads it
// every retry period; the holder renews it (an update with the resourceVersion it read, so two
// candidates never both win), the others take it over once its renewTime has not changed for
// leaseDurationSeconds on their own clock (clock skew between nodes does not count, as in lease.ts).
// A holder that cannot renew for renewDeadline stops leading before anyone may take over. On a clean
// stop the holder releases the Lease (holderIdentity emptied), so another takes over at its next try.
import { CoordinationV1Api, V1MicroTime, type KubeConfig, type V1Lease } from '@kubernetes/client-node';
import { apiStatus, unlessNotFound } from '../../lib/api-error.js';
import { realSchedule, type NowFn, type ScheduleFn } from '../../lib/clock.js';
import type { Logger } from '../../lib/log.js';
import { LEADER_LEASE, LEADER_LEASE_SECONDS } from '../reconcile/lease.js';

/** The holder and renewTime last read, and when (this process's clock) they were first seen. */
export interface Observed {
  holder: string;
  renewMs: number;
  seenAt: number;
}

export type ElectionAction = 'create' | 'renew' | 'takeover' | 'wait';

export interface LeaseLike {
  spec?: { holderIdentity?: string; leaseDurationSeconds?: number; renewTime?: Date | string };
}

/** The pure decision: what this candidate does with the Lease it just read. */
export function electionAction(
  lease: LeaseLike | undefined,
  identity: string,
  prev: Observed | undefined,
  nowMs: number,
  defaultDurationMs: number,
): { action: ElectionAction; observed?: Observed } {
  if (!lease) return { action: 'create' };
  const holder = lease.spec?.holderIdentity ?? '';
  if (holder === identity) return { action: 'renew' };
  if (holder === '') return { action: 'takeover' };
  const renewMs = lease.spec?.renewTime === undefined ? NaN : new Date(lease.spec.renewTime).getTime();
  const observed =
    prev &&
    prev.holder === holder &&
    (prev.renewMs === renewMs || (Number.isNaN(prev.renewMs) && Number.isNaN(renewMs)))
      ? prev
      : { holder, renewMs, seenAt: nowMs };
  const d = lease.spec?.leaseDurationSeconds;
  const durationMs = typeof d === 'number' && d > 0 ? d * 1000 : defaultDurationMs;
  return { action: nowMs - observed.seenAt > durationMs ? 'takeover' : 'wait', observed };
}

export interface ElectionOptions {
  kc: KubeConfig;
  namespace: string;
  /** This candidate (the node name: the Lease's holderIdentity, checked by the node-identity policy). */
  identity: string;
  log: Logger;
  leaseSeconds?: number;
  /** Runs when this candidate becomes the leader; its result's stop() runs when it stops leading. */
  lead: () => Promise<{ stop(): Promise<void> }>;
  /** Told on every change: true once elected, false once it stopped leading. */
  onLeading?: (leading: boolean) => void;
  /** The time seams (lib/clock.ts): the clock the Lease's age is read on, and the retry timer. */
  now?: NowFn;
  schedule?: ScheduleFn;
}

export interface Election {
  leading(): boolean;
  /** Stops trying; a leader stops leading and releases the Lease. */
  stop(): Promise<void>;
}

/** The Lease I/O: read, create, renew or take over (with the resourceVersion read), release. */
/** The Lease, or undefined when it does not exist. */
async function readLease(api: CoordinationV1Api, name: string, namespace: string): Promise<V1Lease | undefined> {
  return unlessNotFound(api.readNamespacedLease({ name, namespace }));
}

/** A new leader Lease, held by the candidate of `spec` since now. */
function newLeaderLease(name: string, namespace: string, spec: V1Lease['spec'], now: number): V1Lease {
  return {
    apiVersion: 'coordination.k8s.io/v1',
    kind: 'Lease',
    metadata: {
      name,
      namespace,
      labels: { 'app.kubernetes.io/name': 'socat-relay', 'app.kubernetes.io/component': 'leader' },
    },
    spec: { ...spec, acquireTime: new V1MicroTime(now) },
  };
}

function leaderLease(
  api: CoordinationV1Api,
  o: { namespace: string; identity: string; durationSeconds: number; now: () => number },
) {
  const { namespace, identity } = o;
  const name = LEADER_LEASE;
  const spec = (): V1Lease['spec'] => ({
    holderIdentity: identity,
    leaseDurationSeconds: o.durationSeconds,
    renewTime: new V1MicroTime(o.now()),
  });
  return {
    /** namespace/name, for the logs. */
    where: `${namespace}/${name}`,
    read: (): Promise<V1Lease | undefined> => readLease(api, name, namespace),
    async create(): Promise<void> {
      await api.createNamespacedLease({
        namespace,
        fieldManager: 'socat-relay',
        body: newLeaderLease(name, namespace, spec(), o.now()),
      });
    },
    /** resourceVersion from the read: a concurrent candidate makes this a 409, and it waits. */
    async write(base: V1Lease, takeover: boolean): Promise<void> {
      const leaseTransitions = (base.spec?.leaseTransitions ?? 0) + (takeover ? 1 : 0);
      const acquireTime = takeover ? new V1MicroTime(o.now()) : base.spec?.acquireTime;
      await api.replaceNamespacedLease({
        name,
        namespace,
        fieldManager: 'socat-relay',
        body: { ...base, spec: { ...base.spec, ...spec(), leaseTransitions, ...(acquireTime ? { acquireTime } : {}) } },
      });
    },
    /** Empties holderIdentity when this candidate still holds it: another takes over at its next try. */
    async release(): Promise<boolean> {
      const cur = await api.readNamespacedLease({ name, namespace });
      if (cur.spec?.holderIdentity !== identity) return false;
      await api.replaceNamespacedLease({
        name,
        namespace,
        fieldManager: 'socat-relay',
        body: {
          ...cur,
          spec: { ...cur.spec, holderIdentity: '', leaseDurationSeconds: 1, renewTime: new V1MicroTime(o.now()) },
        },
      });
      return true;
    },
  };
}

/** The clock and the election's periods: retry 2 s and renew deadline 10 s of a 15 s Lease. */
function electionTiming(o: ElectionOptions): {
  now: () => number;
  durationSeconds: number;
  retryMs: number;
  renewDeadlineMs: number;
} {
  const durationSeconds = o.leaseSeconds ?? LEADER_LEASE_SECONDS;
  return {
    now: o.now ?? Date.now,
    durationSeconds,
    retryMs: Math.max(200, Math.round((durationSeconds * 1000) / 7.5)),
    renewDeadlineMs: (durationSeconds * 1000 * 2) / 3,
  };
}

/** A failed read or write of the Lease: a 409 (another candidate wrote first) is routine. */
function logNotWritten(log: Logger, where: string, e: unknown): void {
  const code = apiStatus(e);
  log[code === 409 ? 'debug' : 'warn'](
    { lease: where, code, err: (e as Error).message },
    'leader election: the Lease was not written',
  );
}

/** A clean stop hands the Lease over: holderIdentity emptied, another candidate takes over at its next try. */
async function releaseLease(lease: ReturnType<typeof leaderLease>, log: Logger): Promise<void> {
  const released = await lease.release().catch((e: unknown) => {
    log.warn(
      { err: (e as Error).message },
      'cannot release the leader Lease: another controller takes it over once it expires',
    );
  });
  if (released) log.info({ lease: lease.where }, 'leader Lease released');
}

export function startElection(o: ElectionOptions): Election {
  const { namespace, identity, log } = o;
  const { now, durationSeconds, retryMs, renewDeadlineMs } = electionTiming(o);
  const lease = leaderLease(o.kc.makeApiClient(CoordinationV1Api), { namespace, identity, durationSeconds, now });
  const where = lease.where;
  let observed: Observed | undefined;
  let leader: { stop(): Promise<void> } | undefined;
  let [lastRenewed, stopped] = [0, false];
  let cancelTimer: (() => void) | undefined;
  let running: Promise<void> | undefined;
  const stopLeading = async (why: string): Promise<void> => {
    const l = leader;
    leader = undefined;
    if (l) {
      log.warn({ lease: where, identity, why }, 'no longer the leader');
      o.onLeading?.(false);
    }
    await l?.stop();
  };
  const attempt = async (): Promise<void> => {
    const current = await lease.read();
    const d = electionAction(current, identity, observed, now(), durationSeconds * 1000);
    observed = d.observed;
    if (d.action === 'wait') return stopLeading(`the Lease is held by ${current?.spec?.holderIdentity}`);
    if (d.action === 'create') await lease.create();
    else await lease.write(current!, d.action === 'takeover');
    lastRenewed = now();
    if (leader) return;
    log.info({ lease: where, identity }, "elected: this controller now writes the Relays' summaries");
    leader = await o.lead();
    o.onLeading?.(true);
  };
  const tick = (): void => {
    running = attempt()
      .catch(async (e: unknown) => {
        logNotWritten(log, where, e);
        if (leader && now() - lastRenewed > renewDeadlineMs)
          await stopLeading('cannot renew the leader Lease within the renew deadline');
      })
      .finally(() => {
        running = undefined;
        if (stopped) return;
        cancelTimer = (o.schedule ?? realSchedule)(tick, retryMs);
      });
  };
  tick();

  return {
    leading: () => leader !== undefined,
    async stop() {
      stopped = true;
      cancelTimer?.();
      await running?.catch(() => undefined);
      cancelTimer?.();
      if (!leader) return;
      await stopLeading('stopping');
      await releaseLease(lease, log);
    },
  };
}
