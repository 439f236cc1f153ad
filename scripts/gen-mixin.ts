// Writes manifests/monitoring/prometheusrule.yaml and manifests/monitoring/grafana-dashboard.yaml from
// the mixin (mixin/alerts.yaml, mixin/dashboards/socat-relay.json): the same groups wrapped in a
// PrometheusRule, the same dashboard in a ConfigMap labeled for Grafana's dashboard sidecar. The mixin
// is the one source; kustomize and the chart (templates/prometheusrule.yaml, dashboard.yaml) apply these.
// Run: npm run gen:mixin. test/mixin/mixin.test.ts fails while the files differ from what this writes.
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parse, stringify } from 'yaml';

const ROOT = path.resolve(import.meta.dirname, '..');
export const ALERTS_FILE = path.join(ROOT, 'mixin/alerts.yaml');
export const DASHBOARD_FILE = path.join(ROOT, 'mixin/dashboards/socat-relay.json');
export const RULE_OUT = path.join(ROOT, 'manifests/monitoring/prometheusrule.yaml');
export const DASHBOARD_OUT = path.join(ROOT, 'manifests/monitoring/grafana-dashboard.yaml');

const LABELS = { 'app.kubernetes.io/name': 'socat-relay', 'app.kubernetes.io/component': 'monitoring' };
const YAML_OPTIONS = { lineWidth: 0, blockQuote: 'literal' } as const;

/** The two files' text from the mixin's alerts text and dashboard text. */
export function generate(alertsText: string, dashboardText: string): { rule: string; dashboard: string } {
  const alerts = parse(alertsText) as { groups?: unknown };
  if (!Array.isArray(alerts?.groups)) throw new Error('mixin/alerts.yaml: no groups');
  const dashboard = JSON.parse(dashboardText) as { uid?: unknown };
  if (typeof dashboard.uid !== 'string') throw new Error('mixin/dashboards/socat-relay.json: no uid');
  const rule = {
    apiVersion: 'monitoring.coreos.com/v1',
    kind: 'PrometheusRule',
    metadata: {
      name: 'socat-relay',
      namespace: 'socat-relay-system',
      labels: { ...LABELS, release: 'kube-prometheus-stack' },
    },
    spec: { groups: alerts.groups },
  };
  const configMap = {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: {
      name: 'socat-relay-dashboard',
      namespace: 'socat-relay-system',
      labels: { ...LABELS, grafana_dashboard: '1' },
    },
    data: { 'socat-relay.json': `${JSON.stringify(dashboard, null, 2)}\n` },
  };
  return {
    rule: `# Generated from mixin/alerts.yaml by \`npm run gen:mixin\`: edit that file, not this one.
# socat-relay's alerts for prometheus-operator. kube-prometheus-stack's Prometheus selects
# PrometheusRules by the label release: <its release name> (set it to yours; Helm:
# metrics.prometheusRule.labels). What each alert means and what to do: docs/runbooks.md.
${stringify(rule, YAML_OPTIONS)}`,
    dashboard: `# Generated from mixin/dashboards/socat-relay.json by \`npm run gen:mixin\`: edit that file, not this one.
# socat-relay's Grafana dashboard, for Grafana's dashboard sidecar (kube-prometheus-stack's loads
# ConfigMaps labeled grafana_dashboard: "1"; if yours searches only Grafana's own namespace, put this
# ConfigMap there — Helm: metrics.dashboard.namespace). Or import the JSON in Grafana by hand.
${stringify(configMap, YAML_OPTIONS)}`,
  };
}

export function generateFromFiles(): { rule: string; dashboard: string } {
  return generate(readFileSync(ALERTS_FILE, 'utf8'), readFileSync(DASHBOARD_FILE, 'utf8'));
}

if (process.argv[1] && path.resolve(process.argv[1]) === path.resolve(import.meta.filename)) {
  const out = generateFromFiles();
  writeFileSync(RULE_OUT, out.rule);
  writeFileSync(DASHBOARD_OUT, out.dashboard);
  console.log(`wrote ${path.relative(ROOT, RULE_OUT)} and ${path.relative(ROOT, DASHBOARD_OUT)}`);
}
