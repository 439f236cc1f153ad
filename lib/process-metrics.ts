// The Node.js process metrics every daemon exports (prom-client's default set: CPU, memory, heap,
// handles, event-loop lag), with one setting of our own. prom-client samples the event-loop lag with a
// timer every 10 ms by default: an idle process then wakes 100 times a second, and that timer alone cost
// ≈ 1.7 millicores per process — most of an idle worker's controller + agent (BENCHMARKS.md, "Image and
// footprint"). Every 100 ms it costs ≈ 0.3, and a lag that matters to an operator (a stall of 100 ms and
// more, which nodejs_eventloop_lag_p99_seconds on the dashboard shows) is still seen.
import { collectDefaultMetrics, type Registry } from 'prom-client';

/** How often the event-loop lag is sampled (ms). */
const EVENT_LOOP_LAG_RESOLUTION_MS = 100;

/** Registers the Node.js process metrics on `registry`. */
export function collectProcessMetrics(registry: Registry): void {
  collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: EVENT_LOOP_LAG_RESOLUTION_MS });
}
