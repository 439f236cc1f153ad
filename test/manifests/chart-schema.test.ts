// The chart says no: values.schema.json refuses unknown keys (a typo), wrong types and values out of
// range in `helm template` and `helm lint`, naming the value; templates/validate.yaml refuses what a
// schema cannot express (two settings on one port, a Kubernetes release that is too old). A plain
// `helm template` (helm's own default capabilities, no --kube-version) renders. The schema and
// values.yaml list the same keys, so a new value cannot be added to one and forgotten in the other.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { parse } from 'yaml';
import { CHART, helmTemplate, templateArgs } from '../harness/chart.js';
import { runTool, skipWithout, toolPath } from '../harness/tools.js';

const skip = skipWithout('helm');
type Schema = {
  type?: string | string[];
  properties?: Record<string, Schema>;
  additionalProperties?: boolean | Schema;
  $ref?: string;
  definitions?: Record<string, Schema>;
};
const schema = JSON.parse(readFileSync(path.join(CHART, 'values.schema.json'), 'utf8')) as Schema;
const values = parse(readFileSync(path.join(CHART, 'values.yaml'), 'utf8')) as Record<string, unknown>;
const resolve = (s: Schema): Schema => (s.$ref ? schema.definitions![s.$ref.replace('#/definitions/', '')]! : s);

/** The keys a user writes: objects of values.yaml whose schema lists properties are walked into. */
function keyPaths(v: unknown, s: Schema, prefix: string): string[] {
  const r = resolve(s);
  if (!r.properties || !v || typeof v !== 'object' || Array.isArray(v)) return [prefix];
  return [
    prefix,
    ...Object.entries(v).flatMap(([k, x]) =>
      r.properties![k] ? keyPaths(x, r.properties![k], `${prefix}.${k}`) : [`${prefix}.${k} (not in the schema)`],
    ),
  ];
}

/** `helm lint`'s report and whether it failed (it reports on stdout, also when it fails). */
async function lint(args: string[]): Promise<{ failed: boolean; out: string }> {
  try {
    const { stdout } = await promisify(execFile)(toolPath('helm'), ['lint', '--strict', CHART, ...args], {
      timeout: 120_000,
    });
    return { failed: false, out: stdout };
  } catch (e) {
    return { failed: true, out: String((e as { stdout?: string }).stdout) };
  }
}

/** helm's error for a render that must fail (a render that passes fails the test). */
async function refused(set: Record<string, string>, opts: { kubeVersion?: string | null } = {}): Promise<string> {
  try {
    await runTool('helm', templateArgs({ set, ...opts }));
  } catch (e) {
    return (e as Error).message;
  }
  assert.fail(`helm template accepted ${JSON.stringify(set)}`);
}

describe('values.schema.json', () => {
  test('lists exactly the keys of values.yaml (global aside, which Helm gives subcharts), and refuses unknown keys in every object of them', () => {
    const paths = keyPaths(values, schema, '');
    assert.deepEqual(
      paths.filter((p) => p.includes('(not in the schema)')),
      [],
    );
    // An empty object in values.yaml ({} for resources, affinity) is the user's to fill: not walked into.
    const inSchema = (s: Schema, v: Record<string, unknown>, prefix: string): string[] =>
      Object.keys(v).length === 0
        ? []
        : Object.entries(resolve(s).properties ?? {}).flatMap(([k, sub]) =>
            k === 'global'
              ? []
              : !(k in v)
                ? [`${prefix}${k}`]
                : resolve(sub).properties && v[k] && typeof v[k] === 'object'
                  ? inSchema(sub, v[k] as Record<string, unknown>, `${prefix}${k}.`)
                  : [],
          );
    assert.deepEqual(inSchema(schema, values, ''), [], 'schema keys missing from values.yaml');
    const open = (s: Schema, at: string): string[] => {
      const r = resolve(s);
      if (!r.properties) return [];
      return [
        ...(r.additionalProperties === false ? [] : [at || '(top)']),
        ...Object.entries(r.properties).flatMap(([k, sub]) => open(sub, `${at}.${k}`)),
      ];
    };
    assert.deepEqual(open(schema, ''), [], 'objects with listed keys that accept others');
  });

  test(
    'a typo, a wrong type, a value out of range or not in the list is refused by helm template, naming it',
    { skip },
    async () => {
      const cases: [Record<string, string>, RegExp][] = [
        [{ 'controler.x': '1' }, /additional properties 'controler' not allowed/],
        [{ 'controller.logLvel': 'debug' }, /at '\/controller': additional properties 'logLvel' not allowed/],
        [{ 'agent.podAnnotation.a': 'b' }, /at '\/agent': additional properties 'podAnnotation' not allowed/],
        [{ nameOverride: 'relays' }, /additional properties 'nameOverride' not allowed/],
        [{ 'csi.enabled': 'maybe' }, /at '\/csi\/enabled': got string, want boolean/],
        [{ 'certificates.caLifetime': '5y' }, /at '\/certificates\/caLifetime': .*does not match pattern/],
        [{ 'certificates.days': '365' }, /at '\/certificates': additional properties 'days' not allowed/],
        [{ 'image.pullPolicy': 'Sometimes' }, /at '\/image\/pullPolicy': value must be one of/],
        [{ 'image.repository': '' }, /at '\/image\/repository'/],
        [{ 'controller.port': '70000' }, /at '\/controller\/port': maximum: got 70,000, want 65,535/],
        [{ 'controller.logLevel': 'verbose' }, /at '\/controller\/logLevel': value must be one of/],
        [
          { 'webhooks.podFailurePolicy': 'Open' },
          /at '\/webhooks\/podFailurePolicy': value must be one of 'Ignore', 'Fail'/,
        ],
        [{ kubeletDir: 'var/lib/kubelet' }, /at '\/kubeletDir': '.*' does not match pattern/],
        [{ kubeletDir: '/' }, /at '\/kubeletDir'/],
        [{ 'agent.maxUnavailable': '0' }, /at '\/agent\/maxUnavailable'/],
        [{ 'agent.maxSurge': '-1' }, /at '\/agent\/maxSurge'/],
        [{ 'controller.maxUnavailable': '150%' }, /at '\/controller\/maxUnavailable'/],
        [{ 'controller.tolerations[0].operator': 'Maybe' }, /at '\/controller\/tolerations\/0\/operator'/],
        [
          { 'controller.resources.limit.memory': '1Gi' },
          /at '\/controller\/resources': additional properties 'limit' not allowed/,
        ],
        [
          { 'agent.affinity.nodeAfinity.x': 'y' },
          /at '\/agent\/affinity': additional properties 'nodeAfinity' not allowed/,
        ],
        [{ 'metrics.serviceMonitor.interval': 'often' }, /at '\/metrics\/serviceMonitor\/interval'/],
        [{ 'image.digest': 'sha256:abc' }, /at '\/image\/digest'/],
        [
          { 'image.repository': 'ghcr.io/socat-relay/socat-relay:0.2.0' },
          /at '\/image\/repository': 'ghcr\.io\/socat-relay\/socat-relay:0\.2\.0' does not match pattern/,
        ],
        [{ sidecarImage: 'mirror/socat-relay-sidecar:1:2' }, /at '\/sidecarImage'/],
        [{ 'controller.resources.claims[0].nam': 'gpu' }, /at '\/controller\/resources\/claims\/0'/],
      ];
      for (const [set, want] of cases) assert.match(await refused(set), want, JSON.stringify(set));
    },
  );

  test(
    'helm lint refuses a typo too; it passes on the defaults with and without --kube-version',
    { skip },
    async () => {
      const typo = await lint(['--set', 'controler.x=1']);
      assert.ok(typo.failed, typo.out);
      assert.match(typo.out, /\[ERROR\] values\.yaml: - at '': additional properties 'controler' not allowed/);
      for (const extra of [[], ['--kube-version', '1.35.0']]) {
        const r = await lint(extra);
        assert.ok(!r.failed, r.out);
        assert.match(r.out, /1 chart\(s\) linted, 0 chart\(s\) failed/);
      }
    },
  );

  test(
    "what the schema allows renders: a number as the image tag, a percentage, an umbrella chart's global values",
    { skip },
    async () => {
      const objs = await helmTemplate({
        set: {
          'image.tag': '2',
          'agent.maxUnavailable': '10%',
          'agent.maxSurge': '0',
          'global.imageRegistry': 'r.example.com',
          'image.repository': 'registry.example.com:5000/team/socat-relay',
          sidecarImage: `registry.example.com:5000/team/socat-relay-sidecar:2@sha256:${'c'.repeat(64)}`,
        },
      });
      const agent = objs.find((o) => o.kind === 'DaemonSet' && o.metadata.name === 'socat-relay-agent')!;
      assert.equal(agent.spec.updateStrategy.rollingUpdate.maxUnavailable, '10%');
      assert.equal(agent.spec.template.spec.containers[0].image, 'registry.example.com:5000/team/socat-relay:2');
    },
  );
});

describe('combinations the schema cannot express, and the Kubernetes version', { skip }, () => {
  test("a plain `helm template` (helm's default capabilities, no --kube-version) renders every object", async () => {
    const plain = await helmTemplate({ kubeVersion: null });
    const pinned = await helmTemplate();
    assert.deepEqual(
      plain.map((o) => `${o.kind}/${o.metadata.name}`),
      pinned.map((o) => `${o.kind}/${o.metadata.name}`),
    );
    assert.ok(plain.length > 15);
  });

  test('the supported releases 1.35 to 1.37 render; a release older than 1.30 is refused with the reason', async () => {
    for (const v of ['1.35.0', '1.36.3', '1.37.2']) assert.ok((await helmTemplate({ kubeVersion: v })).length > 15, v);
    assert.match(
      await refused({}, { kubeVersion: '1.29.9' }),
      /Kubernetes v1\.29\.9 is too old for socat-relay: its objects need 1\.30 or newer .* 1\.35 to 1\.37 are supported/,
    );
  });

  test('two controller settings on one port; with hostNetwork, a port the agent already uses on the node', async () => {
    assert.match(
      await refused({ 'controller.port': '9464' }),
      /controller\.port and controller\.metricsPort are both 9464/,
    );
    assert.match(
      await refused({ 'controller.hostNetwork': 'true', 'controller.metricsPort': '9465' }),
      /controller\.metricsPort 9465: with controller\.hostNetwork .* the agent already uses ports 9465, 9466/,
    );
    assert.ok(
      (await helmTemplate({ set: { 'controller.metricsPort': '9465' } })).length > 15,
      'in the pod network 9465 is free',
    );
  });
});
