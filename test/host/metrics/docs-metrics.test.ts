// The docs, the alerts and the dashboard name only metrics that exist. Every socat_relay_*, process_*
// and nodejs_* name in the Markdown of the repository (README, docs/, the manifests' and the chart's
// READMEs) is a metric of a registry (registries.ts: the controller's, the agent's, the CSI plugin's);
// a name ending in `_` is a prefix (`grep socat_relay_agent_`) and must start some metric. Every metric
// a rule of mixin/alerts.yaml, a panel or variable of the dashboard, or an input series of the alerts'
// promtool tests selects is one of them too (or Prometheus's own `up`).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { REPO_ROOT } from '../../harness/binaries.js';
import { markdownFiles } from '../../harness/docs.js';
import { registeredNames, registries } from '../../harness/registries.js';

function registered(): Set<string> {
  return new Set(registries().flatMap((r) => r.getMetricsAsArray().map((m) => m.name)));
}

const NAME = /\b((?:socat_relay|process|nodejs)_[a-z0-9_]*)/g;

test('every metric name in the docs exists in a registry', () => {
  const names = registered();
  assert.ok(
    names.has('process_cpu_user_seconds_total') && names.has('nodejs_heap_size_used_bytes'),
    'standard, unprefixed process and Node.js metrics',
  );
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
  const allowed = new Set([
    'webhook',
    'outcome',
    'relay',
    'reason',
    'resource',
    'result',
    'kind',
    'le',
    'version',
    'major',
    'minor',
    'patch',
    'space',
    'type',
    'component',
    'method',
    'code',
  ]);
  let seen = 0;
  for (const m of registries().flatMap((r) => r.getMetricsAsArray())) {
    for (const l of (m as unknown as { labelNames: string[] }).labelNames ?? []) {
      seen++;
      assert.ok(allowed.has(l), `${m.name}{${l}}`);
    }
  }
  assert.ok(seen > 10);
});

const KEYWORDS = new Set([
  'and',
  'or',
  'unless',
  'bool',
  'offset',
  'by',
  'without',
  'on',
  'ignoring',
  'group_left',
  'group_right',
  'inf',
  'nan',
]);

/**
 * The metric names a PromQL expression selects: identifiers that are not functions, keywords, labels, strings or
 * durations.
 */
function promqlMetricNames(expr: string): string[] {
  const s = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ')
    .replace(/\$__\w+|\$\{?\w+\}?/g, ' ');
  const out: string[] = [];
  for (const m of s.matchAll(/(?<![\w.])([a-zA-Z_:][\w:]*)(\s*\()?/g)) {
    if (m[2] || KEYWORDS.has(m[1]!.toLowerCase())) continue;
    out.push(m[1]!);
  }
  return out;
}

test('promqlMetricNames finds the metrics and only them (functions, keywords, labels, durations and strings left out)', () => {
  assert.deepEqual(
    promqlMetricNames('histogram_quantile(0.99, sum by (webhook, le) (rate(a_bucket{job="x", le!="y"}[5m]))) > 1'),
    ['a_bucket'],
  );
  assert.deepEqual(
    promqlMetricNames('absent(up{job="j"} == 1) or count(count by (version) (b)) > bool 2 unless on (x) c offset 5m'),
    ['up', 'b', 'c'],
  );
  assert.deepEqual(promqlMetricNames('(e - time()) < clamp_max(0.2 * (e - nb), 21 * 86400)'), ['e', 'e', 'nb']);
  assert.deepEqual(promqlMetricNames('sum by (relay) (x{relay=~"$relay"}) / rate(y[$__rate_interval])'), ['x', 'y']);
});

const read = (rel: string): string => readFileSync(path.join(REPO_ROOT, rel), 'utf8');

/**
 * Every PromQL expression of the mixin, with where it is: the rules, the dashboard's targets and variables, the tests'
 * input series.
 */
function mixinExpressions(): { at: string; names: string[] }[] {
  const out: { at: string; names: string[] }[] = [];
  const rules = parse(read('mixin/alerts.yaml')) as {
    groups: { rules: { alert?: string; record?: string; expr: string }[] }[];
  };
  for (const g of rules.groups)
    for (const r of g.rules)
      out.push({ at: `mixin/alerts.yaml ${r.alert ?? r.record}`, names: promqlMetricNames(r.expr) });
  type Panel = { title?: string; targets?: { expr?: string }[]; panels?: Panel[] };
  const dash = JSON.parse(read('mixin/dashboards/socat-relay.json')) as {
    panels: Panel[];
    templating: { list: { name: string; query?: unknown }[] };
  };
  const walk = (ps: Panel[]): void => {
    for (const p of ps) {
      for (const t of p.targets ?? [])
        if (t.expr) out.push({ at: `dashboard panel "${p.title}"`, names: promqlMetricNames(t.expr) });
      walk(p.panels ?? []);
    }
  };
  walk(dash.panels);
  for (const v of dash.templating.list) {
    const q = typeof v.query === 'string' ? v.query : (v.query as { query?: string } | undefined)?.query;
    const m = q ? /^label_values\(\s*([a-zA-Z_:][\w:]*)/.exec(q) : null;
    if (m) out.push({ at: `dashboard variable ${v.name}`, names: [m[1]!] });
  }
  const tests = parse(read('test/mixin/alerts.promtest.yaml')) as {
    tests: { name: string; input_series?: { series: string }[] }[];
  };
  for (const t of tests.tests)
    for (const s of t.input_series ?? [])
      out.push({ at: `test/mixin/alerts.promtest.yaml "${t.name}"`, names: [/^[a-zA-Z_:][\w:]*/.exec(s.series)![0]] });
  return out;
}

test("every metric the alerts, the dashboard and the alerts' tests select exists in a registry (or is Prometheus's up)", () => {
  const names = registeredNames();
  names.add('up');
  assert.ok(names.has('socat_relay_admission_duration_seconds_bucket'), 'histograms with their series');
  const exprs = mixinExpressions();
  const all = exprs.flatMap((e) => e.names);
  assert.ok(
    exprs.length > 40 && all.filter((n) => n.startsWith('socat_relay_')).length > 40,
    `only ${exprs.length} expressions found`,
  );
  for (const needed of [
    'socat_relay_relay_ready',
    'socat_relay_agent_relay_ready',
    'socat_relay_certificate_expiry_timestamp_seconds',
    'socat_relay_build_info',
    'socat_relay_csi_calls_total',
    'process_resident_memory_bytes',
  ]) {
    assert.ok(all.includes(needed), `the mixin uses ${needed}`);
  }
  const wrong = exprs.flatMap((e) => e.names.filter((n) => !names.has(n)).map((n) => `${e.at}: ${n}`));
  assert.deepEqual([...new Set(wrong)], []);
});

test('the check above catches a metric that does not exist', () => {
  const names = registeredNames();
  assert.deepEqual(
    promqlMetricNames('rate(socat_relay_admission_request_total[5m]) > 0').filter((n) => !names.has(n)),
    ['socat_relay_admission_request_total'],
  );
});
