// The controller's metrics, one Registry per instance (a test can run several servers side by side).
// Served on a port of their own (webhook/server/metrics-server.ts), behind TokenReview +
// SubjectAccessReview. The process and Node.js metrics keep their standard names (process_*, nodejs_*)
// so the usual dashboards find them.
import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export type WebhookName = 'mutate-pods' | 'validate-relays';
/** allowed: unchanged; patched: mutated; denied: refused by policy; invalid: malformed request; error: our bug. */
export type Outcome = 'allowed' | 'patched' | 'denied' | 'invalid' | 'error';

export interface ControllerMetrics {
  registry: Registry;
  requests: Counter<'webhook' | 'outcome'>;
  latency: Histogram<'webhook'>;
  injections: Counter<'relay'>;
  denials: Counter<'reason'>;
  watchRestarts: Counter<'resource'>;
  certReloads: Counter<'result'>;
}

const WATCH_RESTARTS = 'socat_relay_watch_restarts_total';

/** The one watch-restart counter of a registry (the informers and the reconcile's node watch share it). */
export function watchRestartsCounter(registry: Registry): Counter<'resource'> {
  return (registry.getSingleMetric(WATCH_RESTARTS) as Counter<'resource'> | undefined)
    ?? new Counter({ name: WATCH_RESTARTS, help: 'API watches restarted after an error or aborted after their idle timeout, by resource.', labelNames: ['resource'], registers: [registry] });
}

export function createMetrics(opts: { registry?: Registry; defaultMetrics?: boolean } = {}): ControllerMetrics {
  const registry = opts.registry ?? new Registry();
  if (opts.defaultMetrics) collectDefaultMetrics({ register: registry });
  const registers = [registry];
  return {
    registry,
    requests: new Counter({ name: 'socat_relay_admission_requests_total', help: 'Admission requests by webhook and outcome.', labelNames: ['webhook', 'outcome'], registers }),
    latency: new Histogram({
      name: 'socat_relay_admission_duration_seconds', help: 'Time to answer an admission request (decode to response).', labelNames: ['webhook'], registers,
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
    }),
    injections: new Counter({ name: 'socat_relay_injections_total', help: 'Sidecars injected, by relay.', labelNames: ['relay'], registers }),
    denials: new Counter({ name: 'socat_relay_admission_denials_total', help: 'Admission denials by reason.', labelNames: ['reason'], registers }),
    watchRestarts: watchRestartsCounter(registry),
    certReloads: new Counter({ name: 'socat_relay_cert_reloads_total', help: 'Serving certificate reloads: ok, or rejected (kept the last good pair).', labelNames: ['result'], registers }),
  };
}
