// `socat-relay inject`, run in-process through the CLI dispatcher with captured stdio.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { parseDocuments } from '../../../relay/index.js';
import { FIXTURES } from '../../harness/admission.js';
import { runCli } from '../../harness/cli.js';

const inject = (args: string[], stdin = '') => runCli(['inject', ...args], stdin);

const RELAYS = path.join(FIXTURES, 'admission/relays.yaml');
const fx = (f: string) => path.join(FIXTURES, 'pods', f);

type Obj = any;

test('a Deployment gets both sidecars in its pod template; the Service passes through unchanged', async () => {
  const r = await inject(['-f', fx('deployment.yaml'), '--relays', RELAYS]);
  assert.equal(r.code, 0, r.stderr);
  const [deploy, svc] = parseDocuments(r.stdout) as Obj[];
  const tpl = deploy.spec.template;
  assert.deepEqual(
    tpl.spec.initContainers.map((c: Obj) => [c.name, c.restartPolicy]),
    [
      ['socat-etcd-metrics', 'Always'],
      ['socat-kube-scheduler', 'Always'],
    ],
  );
  assert.deepEqual(
    tpl.spec.containers.map((c: Obj) => c.name),
    ['prometheus'],
  );
  assert.equal(tpl.metadata.annotations['socat.io/injected'], 'etcd-metrics,kube-scheduler');
  assert.equal(tpl.metadata.namespace, undefined, 'no namespace leaks into the template');
  assert.deepEqual(
    tpl.spec.volumes.map((v: Obj) => v.hostPath.path),
    ['/run/socat-relay/etcd-metrics', '/run/socat-relay/kube-scheduler'],
  );
  assert.deepEqual(deploy.spec.selector, { matchLabels: { app: 'prometheus' } });
  assert.equal(svc.kind, 'Service');
  assert.deepEqual(svc, parseDocuments(`${(await import('node:fs')).readFileSync(fx('deployment.yaml'), 'utf8')}`)[1]);
});

test('regular mode, another image and socket root; the output injected again changes nothing', async () => {
  const r = await inject([
    '-f',
    fx('basic.yaml'),
    '--relays',
    RELAYS,
    '--mode',
    'regular',
    '--image',
    'my/socat:1',
    '--socket-dir',
    '/var/run/relays',
  ]);
  assert.equal(r.code, 0, r.stderr);
  const [p] = parseDocuments(r.stdout) as Obj[];
  assert.deepEqual(
    p.spec.containers.map((c: Obj) => [c.name, c.image]),
    [
      ['prometheus', 'prom/prometheus:v3.0.0'],
      ['socat-kube-scheduler', 'my/socat:1'],
    ],
  );
  assert.equal(p.spec.volumes[0].hostPath.path, '/var/run/relays/kube-scheduler');
  const again = await inject(
    ['-f', '-', '--relays', RELAYS, '--mode', 'regular', '--image', 'my/socat:1', '--socket-dir', '/var/run/relays'],
    r.stdout,
  );
  assert.equal(again.code, 0, again.stderr);
  assert.deepEqual(parseDocuments(again.stdout), parseDocuments(r.stdout));
  // With the default socket root and image, the existing volume and sidecar are not what would be injected now:
  // refused.
  const moved = await inject(['-f', '-', '--relays', RELAYS, '--mode', 'regular'], r.stdout);
  assert.equal(moved.code, 1);
  assert.match(
    moved.stderr,
    /spec\.volumes\[0\] "socat-kube-scheduler" is not the volume socat-relay injects for relay "kube-scheduler" \(hostPath \/run\/socat-relay\/kube-scheduler, type DirectoryOrCreate\)/,
  );
  assert.match(
    moved.stderr,
    /spec\.containers\[1\] "socat-kube-scheduler" is not the sidecar socat-relay injects for relay "kube-scheduler" \(differs: image\)/,
  );
});

test('a CronJob template in a namespace selected by labels given on the command line', async () => {
  const r = await inject(['-f', fx('cronjob.yaml'), '--relays', RELAYS, '-n', 'logging']);
  assert.equal(r.code, 0, 'syslog is open to every namespace');
  const [cj] = parseDocuments(r.stdout) as Obj[];
  assert.equal(cj.spec.jobTemplate.spec.template.spec.initContainers[0].name, 'socat-syslog');
  const p = `apiVersion: v1\nkind: Pod\nmetadata:\n  name: x\n  labels: { socat.io/consume: etcd-metrics }\nspec:\n  containers: [{ name: a, image: b }]\n`;
  const no = await inject(['-f', '-', '--relays', RELAYS, '-n', 'apps'], p);
  assert.equal(no.code, 1);
  const yes = await inject(
    ['-f', '-', '--relays', RELAYS, '-n', 'apps', '--namespace-labels', 'team=observability'],
    p,
  );
  assert.equal(yes.code, 0, yes.stderr);
});

test('a denial prints the reason to stderr, nothing to stdout, and exits 1', async () => {
  const r = await inject(['-f', fx('port-clash.yaml'), '--relays', RELAYS]);
  assert.equal(r.code, 1);
  assert.equal(r.stdout, '');
  assert.equal(
    r.stderr,
    `${fx('port-clash.yaml')}: Pod/clash: denied: relay "kube-scheduler" listens on port 10259/TCP, which container "web" also uses\n`,
  );
});

test('an unlabeled pod passes through with a note; a hostNetwork pod with a warning', async () => {
  const r = await inject(['-f', fx('unlabeled.yaml'), '-f', fx('host-network.yaml'), '--relays', RELAYS]);
  assert.equal(r.code, 0);
  assert.equal(parseDocuments(r.stdout).length, 2);
  assert.match(r.stderr, /Pod\/plain: not injected: no socat.io\/consume label/);
  assert.match(r.stderr, /Pod\/hostnet: warning: socat-relay: hostNetwork pod not injected/);
});

const usage: [string, string[], RegExp][] = [
  ['no -f', ['--relays', RELAYS], /-f FILE is required/],
  ['no --relays', ['-f', fx('basic.yaml')], /--relays FILE is required/],
  ['bad mode', ['-f', fx('basic.yaml'), '--relays', RELAYS, '--mode', 'sideways'], /--mode must be native or regular/],
  [
    'bad namespace label',
    ['-f', fx('basic.yaml'), '--relays', RELAYS, '--namespace-labels', 'bad key=x'],
    /"bad key" is not a label key/,
  ],
];
for (const [name, args, msg] of usage) {
  test(`usage error (${name}) exits 2`, async () => {
    const r = await inject(args);
    assert.equal(r.code, 2);
    assert.match(r.stderr, msg);
  });
}

test('a YAML syntax error names the file and exits 1', async () => {
  const r = await inject(['-f', '-', '--relays', RELAYS], 'kind: Pod\n  bad: [\n');
  assert.equal(r.code, 1);
  assert.match(r.stderr, /^inject: -: document 1: /);
});
