// The mixin (mixin/alerts.yaml, mixin/dashboards/socat-relay.json) with the real promtool from Debian's
// prometheus package: the rules check, and their unit tests (alerts.promtest.yaml) pass on series that
// must fire each alert and series that must not. Each alert is then broken on purpose — made to never
// fire, then to always fire — and the same tests must fail, so no alert has only tests that cannot fail.
// promtool check metrics lints every registry's own metrics. Also: every alert's runbook section
// exists, the jobs the rules select are the ones the ServiceMonitor and the agent example produce, the
// kustomize and chart copies equal the mixin, the dashboard is sound.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parse, stringify } from 'yaml';
import { generate, generateFromFiles, RULE_OUT, DASHBOARD_OUT } from '../../scripts/gen-mixin.js';
import { REPO_ROOT } from '../harness/binaries.js';
import { required } from '../harness/required.js';
import { helmTemplate, withoutHelmLabels } from '../harness/chart.js';
import { skipWithout } from '../harness/tools.js';
import { registries } from '../harness/registries.js';

const ALERTS = path.join(REPO_ROOT, 'mixin/alerts.yaml');
const PROMTEST = path.join(REPO_ROOT, 'test/mixin/alerts.promtest.yaml');
const read = (rel: string): string => readFileSync(path.join(REPO_ROOT, rel), 'utf8');

interface Rule {
  alert: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}
interface Eval {
  eval_time: string;
  alertname: string;
  exp_alerts?: unknown[];
}
interface PromTest {
  name: string;
  interval?: string;
  input_series: unknown[];
  alert_rule_test?: Eval[];
}
interface PromTestFile {
  rule_files: string[];
  evaluation_interval?: string;
  tests: PromTest[];
}

const rules = (): Rule[] =>
  (parse(read('mixin/alerts.yaml')) as { groups: { rules: Rule[] }[] }).groups.flatMap((g) => g.rules);

function promtool(args: string[], input?: string): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    const child = execFile('promtool', args, { timeout: 120_000, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, out: `${stdout}${stderr}` });
    });
    child.stdin?.end(input ?? '');
  });
}

function promtoolMissing(): string | null {
  return (process.env.PATH ?? '').split(':').some((d) => {
    try {
      readFileSync(path.join(d, 'promtool'));
      return true;
    } catch {
      return false;
    }
  })
    ? null
    : 'promtool is not installed (Debian package prometheus; scripts/setup.sh installs it)';
}

const skip = required(promtoolMissing());

/** Seconds of a Prometheus duration (1h30m, 5m, 90s). */
function seconds(d: string | undefined): number {
  let s = 0;
  for (const [, n, u] of (d ?? '0s').matchAll(/(\d+)(ms|s|m|h|d|w|y)/g))
    s +=
      Number(n) *
      ({ ms: 0.001, s: 1, m: 60, h: 3600, d: 86400, w: 604800, y: 31536000 } as Record<string, number>)[u!]!;
  return s;
}

/**
 * A copy of the rule file with one alert's expr (and for) replaced, and the promtest file cut to `keep`, in a temp
 * folder; promtool's verdict.
 */
async function runMutant(
  t: { after: (fn: () => void) => void },
  alert: string,
  expr: string,
  keep: (e: Eval) => boolean,
): Promise<{ code: number; out: string; evals: number }> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'mixin-mutant-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = parse(read('mixin/alerts.yaml')) as { groups: { rules: Rule[] }[] };
  for (const g of file.groups) for (const r of g.rules) if (r.alert === alert) r.expr = expr;
  writeFileSync(path.join(dir, 'alerts.yaml'), stringify(file));
  const tests = parse(read('test/mixin/alerts.promtest.yaml')) as PromTestFile;
  tests.rule_files = [path.join(dir, 'alerts.yaml')];
  let evals = 0;
  tests.tests = tests.tests
    .map((c) => ({ ...c, alert_rule_test: (c.alert_rule_test ?? []).filter((e) => e.alertname === alert && keep(e)) }))
    .filter((c) => c.alert_rule_test.length > 0);
  for (const c of tests.tests) evals += c.alert_rule_test!.length;
  writeFileSync(path.join(dir, 'tests.yaml'), stringify(tests));
  return { ...(await promtool(['test', 'rules', path.join(dir, 'tests.yaml')])), evals };
}

describe('the alerts under promtool', { skip }, () => {
  test('promtool check rules: the rule file is valid; a broken expression is refused (the check checks)', async (t) => {
    const ok = await promtool(['check', 'rules', ALERTS]);
    assert.equal(ok.code, 0, ok.out);
    assert.match(ok.out, new RegExp(`SUCCESS: ${rules().length} rules found`));
    const dir = mkdtempSync(path.join(os.tmpdir(), 'mixin-check-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    writeFileSync(
      path.join(dir, 'bad.yaml'),
      read('mixin/alerts.yaml').replace(
        'max by (relay) (socat_relay_relay_ready',
        'max by (relay) (socat_relay_relay_ready[',
      ),
    );
    assert.notEqual((await promtool(['check', 'rules', path.join(dir, 'bad.yaml')])).code, 0);
  });

  test('promtool check metrics: every socat_relay_* metric of the controller, the agent and the CSI plugin follows the naming rules (a bad one is flagged)', async () => {
    for (const r of registries()) {
      const text = await r.metrics();
      assert.match(text, /socat_relay_build_info/);
      const lint = await promtool(['check', 'metrics'], text);
      const ours = lint.out.split('\n').filter((l) => l.startsWith('socat_relay_'));
      assert.deepEqual(ours, [], lint.out);
    }
    const bad = await promtool(
      ['check', 'metrics'],
      '# HELP socat_relay_x_total a gauge named like a counter\n# TYPE socat_relay_x_total gauge\nsocat_relay_x_total 1\n',
    );
    assert.match(bad.out, /^socat_relay_x_total non-counter metrics should not have "_total" suffix/m);
  });

  test('promtool test rules: every alert fires on the series that must fire it, and only on those', async () => {
    const r = await promtool(['test', 'rules', PROMTEST]);
    assert.equal(r.code, 0, r.out);
    assert.match(r.out, /SUCCESS/);
  });

  for (const rule of rules()) {
    test(`${rule.alert}: made to never fire, its firing cases fail; made to always fire, its must-not cases fail`, async (t) => {
      const never = await runMutant(t, rule.alert, 'vector(1) == 0', (e) => (e.exp_alerts ?? []).length > 0);
      assert.ok(never.evals > 0, `${rule.alert} has a test where it fires`);
      assert.notEqual(never.code, 0, `a ${rule.alert} that never fires passes its firing tests:\n${never.out}`);
      // Only the must-not evaluations late enough for the alert's `for` to have passed can tell.
      const always = await runMutant(
        t,
        rule.alert,
        'vector(1)',
        (e) => (e.exp_alerts ?? []).length === 0 && seconds(e.eval_time) >= seconds(rule.for) + 60,
      );
      assert.ok(
        always.evals > 0,
        `${rule.alert} has a test where it must not fire, after its for (${rule.for ?? '0s'})`,
      );
      assert.notEqual(always.code, 0, `a ${rule.alert} that always fires passes its must-not tests:\n${always.out}`);
    });
  }
});

/** GitHub's anchor of a Markdown heading. */
const slug = (h: string): string =>
  h
    .trim()
    .toLowerCase()
    .replace(/[^\w\- ]/g, '')
    .replace(/ /g, '-');

test('every alert: a severity, a summary and a description, and a runbook_url to its own section of docs/runbooks.md; every section there is an alert', () => {
  const headings = read('docs/runbooks.md')
    .split('\n')
    .filter((l) => l.startsWith('## '))
    .map((l) => l.slice(3));
  const sections = new Set(headings.map(slug));
  const alerts = rules();
  assert.ok(alerts.length >= 12);
  const names = alerts.map((r) => r.alert);
  assert.equal(new Set(names).size, names.length, 'alert names are unique');
  for (const r of alerts) {
    assert.ok(['critical', 'warning', 'info'].includes(r.labels?.severity ?? ''), `${r.alert}: severity`);
    assert.ok(r.annotations?.summary && r.annotations.description, `${r.alert}: summary and description`);
    const url = r.annotations?.runbook_url ?? '';
    assert.equal(
      url,
      `https://github.com/socat-relay/socat-relay/blob/main/docs/runbooks.md#${slug(r.alert)}`,
      r.alert,
    );
    assert.ok(sections.has(slug(r.alert)), `docs/runbooks.md has a section ## ${r.alert}`);
  }
  assert.deepEqual(
    headings.filter((h) => /^SocatRelay/.test(h)).sort(),
    [...names].sort(),
    'no runbook for an alert that does not exist',
  );
});

test("the jobs the rules and the dashboard select are the ones produced: the ServiceMonitor's job, the agent example's job_name", () => {
  const sm = parse(read('manifests/monitoring/servicemonitor.yaml')) as {
    spec: { endpoints: { relabelings?: { targetLabel?: string; replacement?: string }[] }[] };
  };
  const controllerJob = sm.spec.endpoints[0]!.relabelings?.find((r) => r.targetLabel === 'job')?.replacement;
  assert.equal(controllerJob, 'socat-relay-controller');
  const cm = read('manifests/examples/agent-metrics/prometheus-agent.yaml')
    .split('\n---\n')
    .map((d) => parse(d) as { kind?: string; data?: Record<string, string> })
    .find((d) => d?.kind === 'ConfigMap')!;
  const agentJobs = (
    parse(cm.data!['prometheus.yml']!) as { scrape_configs: { job_name: string }[] }
  ).scrape_configs.map((s) => s.job_name);
  const produced = new Set([controllerJob, ...agentJobs, 'socat-relay-csi']);
  const used = new Set<string>();
  for (const text of [read('mixin/alerts.yaml'), read('mixin/dashboards/socat-relay.json')]) {
    for (const [, job] of text.matchAll(/job\s*=\s*\\?"([^"\\]+)\\?"/g)) used.add(job!);
  }
  assert.ok(used.has('socat-relay-controller') && used.has('socat-relay-agent'));
  assert.deepEqual(
    [...used].filter((j) => !produced.has(j)),
    [],
    'a job no scrape produces',
  );
});

test('manifests/monitoring/ holds exactly what npm run gen:mixin writes from mixin/ (PrometheusRule, dashboard ConfigMap)', () => {
  const out = generateFromFiles();
  assert.equal(readFileSync(RULE_OUT, 'utf8'), out.rule, 'run npm run gen:mixin');
  assert.equal(readFileSync(DASHBOARD_OUT, 'utf8'), out.dashboard, 'run npm run gen:mixin');
  const rule = parse(out.rule) as { spec: unknown };
  assert.deepEqual(rule.spec, parse(read('mixin/alerts.yaml')));
  const cm = parse(out.dashboard) as { data: Record<string, string> };
  assert.deepEqual(JSON.parse(cm.data['socat-relay.json']!), JSON.parse(read('mixin/dashboards/socat-relay.json')));
  assert.throws(() => generate('groups: 3', '{}'), /no groups/);
});

test('the dashboard: unique panel ids, every panel queries the chosen data source, every query is non-empty', () => {
  type Panel = {
    id: number;
    type: string;
    title: string;
    datasource?: { uid?: string };
    targets?: { expr?: string; datasource?: { uid?: string } }[];
    panels?: Panel[];
  };
  const dash = JSON.parse(read('mixin/dashboards/socat-relay.json')) as {
    uid: string;
    panels: Panel[];
    templating: { list: { name: string }[] };
  };
  assert.equal(dash.uid, 'socat-relay');
  assert.ok(dash.templating.list.some((v) => v.name === 'datasource'));
  const all: Panel[] = [];
  const walk = (ps: Panel[]): void => {
    for (const p of ps) {
      all.push(p);
      walk(p.panels ?? []);
    }
  };
  walk(dash.panels);
  const ids = all.map((p) => p.id);
  assert.equal(new Set(ids).size, ids.length, 'unique ids');
  const queries = all.filter((p) => p.type !== 'row');
  assert.ok(queries.length >= 20, `${queries.length} panels`);
  for (const p of queries) {
    assert.equal(p.datasource?.uid, '${datasource}', p.title);
    assert.ok((p.targets ?? []).length > 0, p.title);
    for (const q of p.targets!) {
      assert.ok(q.expr && q.expr.trim().length > 0, p.title);
      assert.equal(q.datasource?.uid, '${datasource}', p.title);
    }
  }
});

describe('the chart renders the same objects, both off by default', { skip: skipWithout('helm') }, () => {
  test("metrics.prometheusRule / metrics.dashboard: the manifests' objects with your labels, annotations and namespace", async () => {
    const none = await helmTemplate();
    assert.equal(
      none.filter((o) => o.kind === 'PrometheusRule' || o.metadata.name === 'socat-relay-dashboard').length,
      0,
      'off by default',
    );
    const objs = await helmTemplate({
      namespace: 'relays',
      set: {
        'metrics.prometheusRule.enabled': 'true',
        'metrics.prometheusRule.labels.release': 'monitoring',
        'metrics.dashboard.enabled': 'true',
        'metrics.dashboard.namespace': 'grafana',
        'metrics.dashboard.annotations.grafana_folder': 'socat-relay',
      },
    });
    const rule = objs.find((o) => o.kind === 'PrometheusRule')!;
    assert.equal(rule.metadata.namespace, 'relays');
    assert.equal(rule.metadata.labels?.release, 'monitoring');
    assert.deepEqual(
      rule.spec,
      parse(read('mixin/alerts.yaml')),
      'the rules as written, {{ $labels }} untouched by helm',
    );
    const cm = objs.find((o) => o.kind === 'ConfigMap' && o.metadata.name === 'socat-relay-dashboard')!;
    assert.equal(cm.metadata.namespace, 'grafana');
    assert.equal(cm.metadata.labels?.grafana_dashboard, '1');
    assert.equal(cm.metadata.annotations?.grafana_folder, 'socat-relay');
    assert.deepEqual(JSON.parse(cm.data['socat-relay.json']), JSON.parse(read('mixin/dashboards/socat-relay.json')));
    const kustomized = parse(read('manifests/monitoring/prometheusrule.yaml')) as {
      metadata: { labels: Record<string, string> };
    };
    const { release: _r, ...ours } = kustomized.metadata.labels;
    const { release: _h, ...rendered } = withoutHelmLabels(rule).metadata.labels ?? {};
    assert.deepEqual(rendered, ours, "the manifest's labels, release replaced");
  });

  test('a custom sidecar label replaces grafana_dashboard; a bad namespace is refused by the schema', async () => {
    const objs = await helmTemplate({
      set: {
        'metrics.dashboard.enabled': 'true',
        'metrics.dashboard.labels.grafana_dashboard': 'null',
        'metrics.dashboard.labels.my-dashboards': 'yes',
      },
    });
    const cm = objs.find((o) => o.metadata.name === 'socat-relay-dashboard')!;
    assert.equal(cm.metadata.labels?.['my-dashboards'], 'yes');
    assert.equal(cm.metadata.labels?.grafana_dashboard, undefined);
    await assert.rejects(
      helmTemplate({ set: { 'metrics.dashboard.enabled': 'true', 'metrics.dashboard.namespace': 'Not_A_Namespace' } }),
      /namespace/,
    );
    await assert.rejects(helmTemplate({ set: { 'metrics.prometheusRule.enable': 'true' } }), /prometheusRule|enable/);
  });
});
