// The controller's metrics, one Registry per instance (a test can run several servers side by side).
// Served on a port of their own (webhook/server/metrics-server.ts), behind TokenReview +
// SubjectAccessReview. The process and Node.js metrics keep their standard names (process_*, nodejs_*)
// so the usual dashboards find them. Alerts and a dashboard over these names: mixin/.
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { buildInfo } from '../lib/build-info.js';
import { collectProcessMetrics } from '../lib/process-metrics.js';
import type { Relay } from '../relay/index.js';

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
const CERT_EXPIRY = 'socat_relay_certificate_expiry_timestamp_seconds';
const CERT_NOT_BEFORE = 'socat_relay_certificate_not_before_timestamp_seconds';
const RELAY_READY = 'socat_relay_relay_ready';

/** The admission histogram's buckets (seconds), up to the webhooks' 5 s timeout. */
const ADMISSION_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

export interface CertificateGauges {
  expiry: Gauge;
  notBefore: Gauge;
}

/**
 * The serving certificate's validity (seconds since the epoch), registered when the webhook server
 * loads its first certificate and set again on every reload: a controller that serves no certificate
 * (local mode, a reconcile-only node) exports neither series rather than a 0 that would read as expired.
 */
export function certificateGauges(registry: Registry): CertificateGauges {
  const get = (name: string, help: string): Gauge =>
    (registry.getSingleMetric(name) as Gauge | undefined) ?? new Gauge({ name, help, registers: [registry] });
  return {
    expiry: get(
      CERT_EXPIRY,
      'When the serving certificate in use expires (notAfter), seconds since the epoch; set at load and on every reload.',
    ),
    notBefore: get(
      CERT_NOT_BEFORE,
      'When the serving certificate in use became valid (notBefore), seconds since the epoch: expiry minus this is its lifetime.',
    ),
  };
}

/** Sets the certificate gauges from a PEM certificate's validity dates (X509Certificate.validFrom/validTo). */
export function recordCertificate(registry: Registry, validity: { validFrom: string; validTo: string }): void {
  const g = certificateGauges(registry);
  g.expiry.set(Date.parse(validity.validTo) / 1000);
  g.notBefore.set(Date.parse(validity.validFrom) / 1000);
}

/** 1 when the Relay's Ready condition is True, else 0; undefined for a relay without a Ready condition yet. */
export function relayReadyValue(relay: Relay): 0 | 1 | undefined {
  const c = relay.status?.conditions?.find((x) => x.type === 'Ready');
  if (!c) return undefined;
  return c.status === 'True' ? 1 : 0;
}

/**
 * socat_relay_relay_ready{relay}: each Relay's Ready condition as the controller's informer cache holds
 * it, computed at scrape time (a deleted Relay's series goes with it). Relays without a condition yet
 * are left out. One series per Relay: the relays' names are cluster-admin chosen and bounded.
 */
export function observeRelays(registry: Registry, relays: { list(): Iterable<Relay> }): Gauge<'relay'> {
  const existing = registry.getSingleMetric(RELAY_READY) as Gauge<'relay'> | undefined;
  if (existing) registry.removeSingleMetric(RELAY_READY);
  return new Gauge({
    name: RELAY_READY,
    help: "1 when the Relay's Ready condition is True (every node it selects runs it), 0 when it is not; from the controller's cache of Relays.",
    labelNames: ['relay'],
    registers: [registry],
    collect() {
      this.reset();
      for (const r of relays.list()) {
        const v = relayReadyValue(r);
        if (v !== undefined && r.metadata?.name) this.set({ relay: r.metadata.name }, v);
      }
    },
  });
}

/** The one watch-restart counter of a registry (the informers and the reconcile's node watch share it). */
export function watchRestartsCounter(registry: Registry): Counter<'resource'> {
  return (
    (registry.getSingleMetric(WATCH_RESTARTS) as Counter<'resource'> | undefined) ??
    new Counter({
      name: WATCH_RESTARTS,
      help: 'API watches restarted after an error or aborted after their idle timeout, by resource.',
      labelNames: ['resource'],
      registers: [registry],
    })
  );
}

export function createMetrics(opts: { registry?: Registry; defaultMetrics?: boolean } = {}): ControllerMetrics {
  const registry = opts.registry ?? new Registry();
  if (opts.defaultMetrics) collectProcessMetrics(registry);
  const registers = [registry];
  buildInfo(registry, 'controller');
  return {
    registry,
    requests: new Counter({
      name: 'socat_relay_admission_requests_total',
      help: 'Admission requests by webhook and outcome.',
      labelNames: ['webhook', 'outcome'],
      registers,
    }),
    latency: new Histogram({
      name: 'socat_relay_admission_duration_seconds',
      help: 'Time to answer an admission request (decode to response).',
      labelNames: ['webhook'],
      registers,
      // Up to the API server's webhook timeout (5 s, timeoutSeconds of both webhooks): an answer near it
      // is one the pod webhook's callers almost lost (it fails open), and must be visible as such.
      buckets: ADMISSION_BUCKETS,
    }),
    injections: new Counter({
      name: 'socat_relay_injections_total',
      help: 'Sidecars injected, by relay.',
      labelNames: ['relay'],
      registers,
    }),
    denials: new Counter({
      name: 'socat_relay_admission_denials_total',
      help: 'Admission denials by reason.',
      labelNames: ['reason'],
      registers,
    }),
    watchRestarts: watchRestartsCounter(registry),
    certReloads: new Counter({
      name: 'socat_relay_cert_reloads_total',
      help: 'Serving certificate reloads: ok, or rejected (kept the last good pair).',
      labelNames: ['result'],
      registers,
    }),
  };
}
