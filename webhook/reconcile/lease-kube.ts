// This controller's own Lease on the API server (the rules are lease.ts): created or renewed every
// renewMs (an update of the Lease it last wrote, one request; a failed renewal is retried with the
// shared backoff, never later than renewMs, and reads the Lease first). A node's controller only
// writes its Lease; the elected controller watches them all (webhook/cluster/leases.ts) and turns
// expired ones into stale nodes.
import {
  CoordinationV1Api,
  V1MicroTime,
  type KubeConfig,
  type V1Lease,
  type V1LeaseSpec,
} from '@kubernetes/client-node';
import { apiStatus, unlessNotFound } from '../../lib/api-error.js';
import { Backoff } from '../../lib/backoff.js';
import { realSchedule, type ScheduleFn } from '../../lib/clock.js';
import type { Logger } from '../../lib/log.js';
import { LEASE_DURATION_SECONDS, LEASE_GRACE_SECONDS, LEASE_RENEW_SECONDS, leaseName } from './lease.js';

export interface ControllerLeaseOptions {
  kc: KubeConfig;
  /** The controller's namespace (POD_NAMESPACE): where every controller's Lease lives. */
  namespace: string;
  nodeName: string;
  log: Logger;
  durationSeconds?: number;
  renewSeconds?: number;
  graceSeconds?: number;
  /** The timer seam for the renewals (lib/clock.ts). */
  schedule?: ScheduleFn;
}

export interface ControllerLease {
  /** Renews this controller's Lease now (tests); resolves when written, rejects on failure. */
  renew(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Creates this node's Lease, or renews it — as the kubelet renews its node Lease: an update of the
 * Lease this writer last wrote (its resourceVersion), one request per renewal. When that update is a
 * 409 (someone else wrote it) or a 404 (it was deleted), the same renewal reads it (and creates it when
 * it is gone); after any other error the next try starts with the read. So a renewal costs a GET as
 * well only after a failure.
 */
function leaseWriter(
  api: CoordinationV1Api,
  o: { namespace: string; name: string; nodeName: string; durationSeconds: number; log: Logger },
): () => Promise<void> {
  const { namespace, name, nodeName, log } = o;
  let latest: V1Lease | undefined;
  const replace = async (current: V1Lease, spec: V1LeaseSpec): Promise<V1Lease> =>
    api.replaceNamespacedLease({
      name,
      namespace,
      fieldManager: 'socat-relay',
      body: { ...current, spec: { ...current.spec, ...spec } },
    });
  const readThenWrite = async (spec: V1LeaseSpec): Promise<V1Lease> => {
    const current: V1Lease | undefined = await unlessNotFound(api.readNamespacedLease({ name, namespace }));
    if (current) return replace(current, spec); // a concurrent writer makes this a 409: read again next time
    const created = await api.createNamespacedLease({
      namespace,
      fieldManager: 'socat-relay',
      body: {
        apiVersion: 'coordination.k8s.io/v1',
        kind: 'Lease',
        metadata: {
          name,
          namespace,
          labels: { 'app.kubernetes.io/name': 'socat-relay', 'app.kubernetes.io/component': 'controller' },
        },
        spec: { ...spec, acquireTime: spec.renewTime },
      },
    });
    log.info({ lease: `${namespace}/${name}` }, 'controller lease created');
    return created;
  };
  return async () => {
    const spec: V1LeaseSpec = {
      holderIdentity: nodeName,
      leaseDurationSeconds: Math.max(1, Math.ceil(o.durationSeconds)),
      renewTime: new V1MicroTime(),
    };
    const last = latest;
    latest = undefined; // kept only once this renewal has written it
    if (last) {
      try {
        latest = await replace(last, spec);
        return;
      } catch (e) {
        const code = apiStatus(e);
        if (code !== 409 && code !== 404) throw e;
        // Written or deleted by someone else since: read it (or create it) now.
      }
    }
    latest = await readThenWrite(spec);
  };
}

/**
 * Calls `renew` now and then every renewMs; after a failure (logged with a hint for 403/404) sooner,
 * with the shared backoff from 0.5 s, never later than renewMs. stop() waits for a renewal in flight.
 */
function renewLoop(
  renew: () => Promise<void>,
  o: {
    lease: string;
    namespace: string;
    renewMs: number;
    staleAfterSeconds: number;
    log: Logger;
    schedule: ScheduleFn;
  },
): { stop(): Promise<void> } {
  const { log, namespace } = o;
  let stopped = false;
  const backoff = new Backoff({ initialMs: 500, maxMs: o.renewMs });
  let next = o.renewMs;
  let cancel: (() => void) | undefined;
  let running: Promise<void> | undefined;
  const tick = (): void => {
    running = renew()
      .then(
        () => {
          if (backoff.failures > 0)
            log.info({ lease: o.lease, failures: backoff.failures }, 'controller lease renewed again');
          backoff.reset();
          next = o.renewMs;
        },
        (e: unknown) => {
          next = backoff.fail();
          const failures = backoff.failures;
          const code = apiStatus(e);
          const hint =
            code === 403
              ? `: the controller's Role must allow get, create and update on leases in ${namespace} (manifests/controller/rbac.yaml)`
              : code === 404
                ? `: does namespace ${namespace} exist (POD_NAMESPACE)?`
                : '';
          log.warn(
            { lease: `${namespace}/${o.lease}`, code, err: (e as Error).message, failures },
            `cannot renew the controller lease${hint}; after ${o.staleAfterSeconds} s without it this node's status entries count as stale`,
          );
        },
      )
      .finally(() => {
        if (stopped) return;
        cancel = o.schedule(tick, next);
      });
  };
  tick();
  return {
    async stop() {
      stopped = true;
      cancel?.();
      await running?.catch(() => undefined);
      cancel?.();
    },
  };
}

/**
 * Holds this node's controller Lease: written only (the elected controller watches them all:
 * webhook/cluster/leases.ts).
 */
export async function startControllerLease(o: ControllerLeaseOptions): Promise<ControllerLease> {
  const api = o.kc.makeApiClient(CoordinationV1Api);
  const { namespace, nodeName, log } = o;
  const name = leaseName(nodeName);
  const durationSeconds = o.durationSeconds ?? LEASE_DURATION_SECONDS;
  const renewMs = (o.renewSeconds ?? LEASE_RENEW_SECONDS) * 1000;
  const graceSeconds = o.graceSeconds ?? LEASE_GRACE_SECONDS;
  const renew = leaseWriter(api, { namespace, name, nodeName, durationSeconds, log });
  const loop = renewLoop(renew, {
    lease: name,
    namespace,
    renewMs,
    staleAfterSeconds: durationSeconds + graceSeconds,
    log,
    schedule: o.schedule ?? realSchedule,
  });
  return { renew, stop: () => loop.stop() };
}
