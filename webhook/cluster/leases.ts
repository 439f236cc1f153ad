// The elected controller's view of the controllers' Leases (the rules are webhook/reconcile/lease.ts):
// a ResilientInformer over the Leases of the install namespace, each holder's renewTime tracked on this
// process's clock, turned into the nodes whose controller is gone (stale). Only the elected controller
// runs it: N Leases renewed every 10 s make N/10 events per second, received once, not N times.
import { CoordinationV1Api, type KubeConfig, type V1Lease } from '@kubernetes/client-node';
import type { Logger } from '../../lib/log.js';
import { ResilientInformer } from '../catalog/resilient-informer.js';
import {
  LEASE_DURATION_SECONDS,
  LEASE_GRACE_SECONDS,
  staleByLease,
  trackRenewals,
  type SeenRenewal,
} from '../reconcile/lease.js';

export interface LeaseWatchOptions {
  kc: KubeConfig;
  namespace: string;
  log: Logger;
  durationSeconds?: number;
  graceSeconds?: number;
  onRestart?: (resource: string) => void;
}

export interface LeaseWatch {
  /**
   * Node → why, for nodes whose controller Lease expired, or (of `nodes`) is missing; empty until the cache
   * is filled.
   */
  stale(nodes: Iterable<string>): Map<string, string>;
  synced(): boolean;
  stop(): Promise<void>;
}

export async function startLeaseWatch(o: LeaseWatchOptions): Promise<LeaseWatch> {
  const api = o.kc.makeApiClient(CoordinationV1Api);
  const { namespace, log } = o;
  const durationSeconds = o.durationSeconds ?? LEASE_DURATION_SECONDS;
  const graceMs = (o.graceSeconds ?? LEASE_GRACE_SECONDS) * 1000;
  const path = `/apis/coordination.k8s.io/v1/namespaces/${encodeURIComponent(namespace)}/leases`;
  let seen: ReadonlyMap<string, SeenRenewal> = new Map();
  const refresh = (): void => {
    seen = trackRenewals(seen, informer.list(), Date.now());
  };
  const informer: ResilientInformer<V1Lease> = new ResilientInformer<V1Lease>(
    {
      kc: o.kc,
      path,
      resource: 'leases',
      log,
      list: () => api.listNamespacedLease({ namespace }),
      ...(o.onRestart ? { onRestart: o.onRestart } : {}),
    },
    { add: refresh, update: refresh, delete: refresh },
  );
  let watchingSince: Date | undefined;
  void informer.whenSynced().then(() => {
    watchingSince = new Date();
  });
  await informer.start().catch(() => undefined); // a failing first list is retried like a failing watch
  return {
    stale(nodes) {
      if (!watchingSince) return new Map();
      refresh();
      return staleByLease({
        leases: informer.list(),
        nodes,
        now: new Date(),
        watchingSince,
        graceMs,
        durationMs: durationSeconds * 1000,
        seen,
      });
    },
    synced: () => informer.synced(),
    stop: () => informer.stop(),
  };
}
