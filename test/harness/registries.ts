// Every registry socat-relay exports, filled the way the processes fill them: the controller's (its own
// metrics, the reconcile's, the elected controller's, the relay-ready gauge over its catalog, the
// certificate gauges the webhook server registers on its first certificate, process_* / nodejs_*), the
// agent's and the CSI plugin's.
// The docs, the alerts and the dashboard may name only what these hold.
import { Registry } from 'prom-client';
import { certificateGauges, createMetrics, observeRelays } from '../../webhook/metrics.js';
import { ReconcileMetrics } from '../../webhook/reconcile/metrics.js';
import { ClusterMetrics } from '../../webhook/cluster/metrics.js';
import { AgentMetrics } from '../../node-agent/metrics.js';
import { CsiMetrics } from '../../node-agent/csi/metrics.js';

export function registries(): Registry[] {
  const controller = createMetrics({ defaultMetrics: true });
  new ReconcileMetrics(controller.registry);
  new ClusterMetrics(controller.registry);
  observeRelays(controller.registry, { list: () => [] });
  certificateGauges(controller.registry);
  return [controller.registry, new AgentMetrics(new Registry()).registry, new CsiMetrics().registry];
}

/** Every metric name registered, with a histogram's _bucket/_sum/_count series names. */
export function registeredNames(): Set<string> {
  const names = new Set<string>();
  for (const r of registries()) {
    for (const m of r.getMetricsAsArray()) {
      names.add(m.name);
      if ((m as unknown as { type?: string }).type === 'histogram' || m.constructor.name === 'Histogram') {
        for (const s of ['_bucket', '_sum', '_count']) names.add(`${m.name}${s}`);
      }
    }
  }
  return names;
}
