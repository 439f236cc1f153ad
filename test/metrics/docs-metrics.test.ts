// The docs name only metrics that exist: every socat_relay_*, process_* and nodejs_* name in the
// Markdown of the repository (README, docs/, the manifests' and the chart's READMEs) is a metric of the
// controller's registry (its own, the reconcile's, the standard process/Node.js ones) or of the
// agent's. A name ending in `_` is a prefix (`grep socat_relay_agent_`) and must start some metric.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Registry } from 'prom-client';
import { REPO_ROOT } from '../harness/binaries.js';
import { markdownFiles } from '../manifests/docs.js';
import { createMetrics } from '../../webhook/metrics.js';
import { ReconcileMetrics } from '../../webhook/reconcile/metrics.js';
import { ClusterMetrics } from '../../webhook/cluster/metrics.js';
import { AgentMetrics } from '../../node-agent/metrics.js';

function registered(): Set<string> {
  const controller = createMetrics({ defaultMetrics: true });
  new ReconcileMetrics(controller.registry);
  new ClusterMetrics(controller.registry);
  const agent = new AgentMetrics(new Registry());
  return new Set([...controller.registry.getMetricsAsArray(), ...agent.registry.getMetricsAsArray()].map((m) => m.name));
}

const NAME = /\b((?:socat_relay|process|nodejs)_[a-z0-9_]*)/g;

test('every metric name in the docs exists in a registry', () => {
  const names = registered();
  assert.ok(names.has('process_cpu_user_seconds_total') && names.has('nodejs_heap_size_used_bytes'), 'standard, unprefixed process and Node.js metrics');
  assert.ok(![...names].some((n) => n.startsWith('socat_relay_controller_')), 'no prefixed copies');
  const files = markdownFiles(REPO_ROOT);
  assert.ok(files.some((f) => f.endsWith(path.join('docs', 'troubleshooting.md'))));
  const wrong: string[] = [];
  let seen = 0;
  for (const f of files) {
    for (const [, raw] of readFileSync(f, 'utf8').matchAll(NAME)) {
      const name = raw!;
      seen++;
      const ok = name.endsWith('_')
        ? [...names].some((n) => n.startsWith(name))
        : names.has(name) || names.has(name.replace(/_(bucket|sum|count)$/, ''));
      if (!ok) wrong.push(`${path.relative(REPO_ROOT, f)}: ${name}`);
    }
  }
  assert.ok(seen > 10, `only ${seen} metric names found in the docs`);
  assert.deepEqual([...new Set(wrong)], []);
});

test('no metric puts free text in a label: label names are from a fixed, small vocabulary', () => {
  const controller = createMetrics({ defaultMetrics: true });
  new ReconcileMetrics(controller.registry);
  const agent = new AgentMetrics(new Registry());
  const allowed = new Set(['webhook', 'outcome', 'relay', 'reason', 'resource', 'result', 'kind', 'le', 'version', 'major', 'minor', 'patch', 'space', 'type', 'kind']);
  for (const m of [...controller.registry.getMetricsAsArray(), ...agent.registry.getMetricsAsArray()]) {
    for (const l of (m as unknown as { labelNames: string[] }).labelNames ?? []) assert.ok(allowed.has(l), `${m.name}{${l}}`);
  }
});
