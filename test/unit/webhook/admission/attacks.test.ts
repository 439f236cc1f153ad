// The attack table (attacks.ts) against the webhook's pure decision and `socat-relay inject`; the
// API-server file runs the same table over HTTPS and against the policy. Also: the marker lists only
// verified relays, re-injection is byte-identical, and the hostPath and image rules on their own.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { stringify } from 'yaml';
import { parseDocuments } from '../../../../relay/index.js';
import {
  decidePod,
  normaliseHostPath,
  podCreateRequest,
  relationToRoot,
  sameImageButRegistry,
  type AdmissionRequest,
  type RawPod,
} from '../../../../webhook/admission/index.js';
import {
  CASES,
  context,
  EPHEMERAL_CASES,
  IMAGE,
  injectedPod,
  NAMESPACE,
  plainPod,
  RELAY,
  RELAYS,
  SOCKET_DIR,
  unrelatedPod,
  withEphemeral,
  withoutLabel,
  type Expect,
} from '../../../harness/attacks.js';
import { runCli } from '../../../harness/cli.js';

const relaysDir = mkdtempSync(path.join(os.tmpdir(), 'socat-relay-attacks-'));
const relaysFile = path.join(relaysDir, 'relays.yaml');
writeFileSync(relaysFile, RELAYS.map((r) => stringify(r)).join('---\n'));
after(() => rmSync(relaysDir, { recursive: true, force: true }));

function inject(pod: RawPod, volumeSource: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return runCli(
    [
      'inject',
      '-f',
      '-',
      '--relays',
      relaysFile,
      '-n',
      NAMESPACE,
      '--image',
      IMAGE,
      '--socket-dir',
      SOCKET_DIR,
      '--volume-source',
      volumeSource,
    ],
    stringify(pod),
  );
}

function judge(allowed: boolean, message: string, expect: Expect, who: string): void {
  if (expect === 'allowed') assert.equal(allowed, true, `${who} denied: ${message}`);
  else {
    assert.equal(allowed, false, `${who} allowed it`);
    assert.match(message, expect, `${who}'s message`);
  }
}

for (const c of CASES) {
  test(`webhook: ${c.name} → ${c.webhook === 'allowed' ? 'allowed, unchanged' : 'denied'}`, () => {
    const pod = c.pod();
    const d = decidePod(podCreateRequest(pod, NAMESPACE, 'u'), context(c.volumeSource));
    judge(d.response.allowed, d.response.status?.message ?? '', c.webhook, 'the webhook');
    if (c.webhook === 'allowed') assert.equal(d.response.patch, undefined, 'an injected pod passes unchanged');
  });

  test(`inject: ${c.name} → ${c.webhook === 'allowed' ? 'the same pod back' : 'exit 1 with the reason'}`, async () => {
    const pod = c.pod();
    const r = await inject(pod, c.volumeSource);
    judge(r.code === 0, r.stderr, c.webhook, 'inject');
    if (c.webhook === 'allowed') assert.deepEqual(parseDocuments(r.stdout), [pod]);
    else assert.equal(r.stdout, '');
  });
}

const ephemeralUpdate = (pod: RawPod): AdmissionRequest => ({
  ...podCreateRequest(pod, NAMESPACE, 'u'),
  operation: 'UPDATE',
  subResource: 'ephemeralcontainers',
  oldObject: injectedPod(),
});

for (const c of EPHEMERAL_CASES) {
  test(`webhook, pods/ephemeralcontainers: ${c.name} → ${c.webhook === 'allowed' ? 'allowed' : 'denied'}`, () => {
    const d = decidePod(ephemeralUpdate(withEphemeral(injectedPod(), c.container)), context());
    judge(d.response.allowed, d.response.status?.message ?? '', c.webhook, 'the webhook');
    assert.equal(d.response.patch, undefined, 'ephemeral containers are never mutated');
  });
}

for (const c of EPHEMERAL_CASES) {
  test(`webhook, pods/ephemeralcontainers of a consumer whose label is gone: ${c.name} → ${c.webhook === 'allowed' ? 'allowed' : 'denied'} (labels are mutable)`, () => {
    const d = decidePod(ephemeralUpdate(withEphemeral(withoutLabel(injectedPod()), c.container)), context());
    judge(d.response.allowed, d.response.status?.message ?? '', c.webhook, 'the webhook');
  });
}

test('an ephemeral container on a pod without the label and without socat-* volumes is not our business', () => {
  const pod = withEphemeral(unrelatedPod('u'), {
    name: 'socat-sched',
    image: 'busybox',
    volumeMounts: [{ name: 'data', mountPath: '/data' }],
  });
  assert.equal(decidePod(ephemeralUpdate(pod), context()).response.allowed, true);
});

test('a pod created with a socat-* ephemeral container is denied too', () => {
  const pod = withEphemeral(plainPod(), { name: 'socat-sched', image: 'busybox' });
  const d = decidePod(podCreateRequest(pod, NAMESPACE, 'u'), context());
  assert.match(
    d.response.status?.message ?? '',
    /spec\.ephemeralContainers\[0\] "socat-sched": ephemeral containers may not use the prefix socat-/,
  );
});

test('the marker lists only verified relays: a claimed etcd is dropped, sched (asked for and allowed) stays', () => {
  const pod = plainPod();
  pod.metadata!.annotations = { 'socat.io/injected': 'etcd,sched,nope' };
  const d = decidePod(podCreateRequest(pod, NAMESPACE, 'u'), context());
  assert.equal(d.response.allowed, true, d.response.status?.message);
  const ops = JSON.parse(Buffer.from(d.response.patch!, 'base64').toString()) as { path: string; value: unknown }[];
  const marker = ops.find((o) => o.path === '/metadata/annotations/socat.io~1injected');
  assert.deepEqual(marker?.value, RELAY);
});

test('the marker never names a relay the namespace may not consume: asking for etcd from monitoring is denied', () => {
  const pod = plainPod();
  pod.metadata!.annotations = { 'socat.io/consume': 'etcd' };
  const d = decidePod(podCreateRequest(pod, NAMESPACE, 'u'), context());
  assert.equal(d.response.allowed, false);
  assert.match(d.response.status?.message ?? '', /relay "etcd" does not allow namespace "monitoring"/);
});

for (const vs of ['hostPath', 'csi'] as const) {
  test(`re-injecting an injected pod (${vs}) gives no patch, and so does a copy stored with the API server's defaults`, () => {
    const pod = injectedPod(vs);
    assert.equal(decidePod(podCreateRequest(pod, NAMESPACE, 'u'), context(vs)).response.patch, undefined);
    const stored = structuredClone(pod);
    for (const c of [...(stored.spec!.initContainers ?? []), ...(stored.spec!.containers ?? [])]) {
      Object.assign(c, {
        imagePullPolicy: 'IfNotPresent',
        terminationMessagePath: '/dev/termination-log',
        terminationMessagePolicy: 'File',
      });
    }
    assert.deepEqual(decidePod(podCreateRequest(stored, NAMESPACE, 'u'), context(vs)).response, {
      uid: '',
      allowed: true,
    });
  });
}

test('a pod injected in one volume source is refused by the other (the volume must be what is injected now)', () => {
  const d = decidePod(podCreateRequest(injectedPod('hostPath'), NAMESPACE, 'u'), context('csi'));
  assert.match(
    d.response.status?.message ?? '',
    /spec\.volumes\[0\] "socat-sched" is not the volume socat-relay injects for relay "sched" \(csi driver csi\.socat\.io, readOnly, volumeAttributes relay=sched\)/,
  );
});

const PATHS: [string, string, ReturnType<typeof relationToRoot>][] = [
  ['/run/socat-relay', '/run/socat-relay', 'at'],
  ['/run/socat-relay/', '/run/socat-relay', 'at'],
  ['//run//socat-relay//', '/run/socat-relay', 'at'],
  ['/run/./socat-relay/.', '/run/socat-relay', 'at'],
  ['/var/run/socat-relay', '/run/socat-relay', 'at'],
  ['/var/run/../run/socat-relay', '/run/socat-relay', 'at'],
  ['/var/run/../var/run/socat-relay', '/run/socat-relay', 'at'],
  ['/run/socat-relay/../socat-relay/x', '/run/socat-relay/x', 'under'],
  ['/run/socat-relay/a/b', '/run/socat-relay/a/b', 'under'],
  ['/run', '/run', 'above'],
  ['/var/run', '/run', 'above'],
  ['/', '/', 'above'],
  ['/..', '/', 'above'],
  ['/run/socat-relay-other', '/run/socat-relay-other', 'apart'],
  ['/var/lib/socat-relay', '/var/lib/socat-relay', 'apart'],
  ['/var', '/var', 'apart'],
];
for (const [p, normal, rel] of PATHS) {
  test(`hostPath ${p} resolves to ${normal}: ${rel} /run/socat-relay (and the same against a socket folder spelled /var/run/socat-relay/)`, () => {
    assert.equal(normaliseHostPath(p), normal);
    assert.equal(relationToRoot(p, '/run/socat-relay'), rel);
    assert.equal(relationToRoot(p, '/var/run/socat-relay/'), rel);
  });
}

test('a configured socket folder is used, not a literal: /srv/relays', () => {
  assert.equal(relationToRoot('/srv/relays/x', '/srv/relays'), 'under');
  assert.equal(relationToRoot('/run/socat-relay', '/srv/relays'), 'apart');
  const ctx = context();
  ctx.options.nodeSocketDir = '/srv/relays';
  const pod = plainPod();
  pod.spec!.volumes = [{ name: 'data', hostPath: { path: '/srv' } }];
  assert.match(
    decidePod(podCreateRequest(pod, NAMESPACE, 'u'), ctx).response.status?.message ?? '',
    /spec\.volumes\[0\] "data": hostPath "\/srv" is above the socket folder \/srv\/relays/,
  );
});

const IMAGES: [string, boolean][] = [
  ['ghcr.io/socat-relay/socat-relay:0.1.0', true],
  ['mirror.example:5000/socat-relay/socat-relay:0.1.0', true],
  ['localhost/socat-relay/socat-relay:0.1.0', true],
  ['harbor.example/ghcr-proxy/socat-relay/socat-relay:0.1.0', true],
  ['harbor.example/proxy/socat-relay/socat-relay:0.1.0', true],
  ['harbor.example/socat-relay/socat-relay:0.1.0-evil', false],
  ['harbor.example/xsocat-relay/socat-relay:0.1.0', false],
  ['socat-relay/socat-relay:0.1.0', true],
  ['ghcr.io/socat-relay/socat-relay:0.0.0-other', false],
  ['ghcr.io/attacker/socat-relay:0.1.0', false],
  [
    'ghcr.io/socat-relay/socat-relay:0.1.0@sha256:0000000000000000000000000000000000000000000000000000000000000000',
    false,
  ],
  ['', false],
];
for (const [image, same] of IMAGES) {
  test(`image ${image || '(empty)'} ${same ? 'is' : 'is not'} the configured one but for where it is pulled from`, () => {
    assert.equal(sameImageButRegistry(image, IMAGE), same);
  });
}

const PSS: [string, Record<string, string>, 'hostPath' | 'csi', 'denied' | 'warned' | 'allowed'][] = [
  ['enforce=restricted, hostPath', { 'pod-security.kubernetes.io/enforce': 'restricted' }, 'hostPath', 'denied'],
  ['enforce=baseline, hostPath', { 'pod-security.kubernetes.io/enforce': 'baseline' }, 'hostPath', 'denied'],
  [
    'enforce=privileged, hostPath',
    { 'pod-security.kubernetes.io/enforce': 'privileged', 'pod-security.kubernetes.io/warn': 'privileged' },
    'hostPath',
    'allowed',
  ],
  [
    'enforce=privileged + warn=baseline, hostPath',
    { 'pod-security.kubernetes.io/enforce': 'privileged', 'pod-security.kubernetes.io/warn': 'baseline' },
    'hostPath',
    'warned',
  ],
  ['no Pod Security labels, hostPath', {}, 'hostPath', 'allowed'],
  [
    'enforce=restricted, csi',
    { 'pod-security.kubernetes.io/enforce': 'restricted', 'pod-security.kubernetes.io/warn': 'restricted' },
    'csi',
    'allowed',
  ],
];
for (const [name, labels, source, outcome] of PSS) {
  test(`Pod Security: ${name} → ${outcome}`, async () => {
    const d = decidePod(podCreateRequest(plainPod(), NAMESPACE, 'u'), context(source, labels));
    if (outcome === 'denied') {
      assert.equal(d.response.allowed, false);
      assert.match(
        d.response.status?.message ?? '',
        /^namespace "monitoring" enforces Pod Security level (baseline|restricted), which forbids the hostPath volume socat-relay injects in hostPath mode: run the controller with --volume-source csi/,
      );
    } else {
      assert.equal(d.response.allowed, true, d.response.status?.message);
      assert.ok(d.response.patch);
      assert.deepEqual(
        d.response.warnings,
        outcome === 'warned'
          ? ['socat-relay: Pod Security warn level forbids hostPath; use the CSI volume source (--volume-source csi)']
          : undefined,
      );
    }
  });
}

test('inject reads Pod Security labels from --namespace-labels: hostPath refused, csi admitted', async () => {
  const run = async (source: string) => {
    const r = await runCli(
      [
        'inject',
        '-f',
        '-',
        '--relays',
        relaysFile,
        '-n',
        NAMESPACE,
        '--volume-source',
        source,
        '--namespace-labels',
        'pod-security.kubernetes.io/enforce=restricted',
      ],
      stringify(plainPod()),
    );
    return { code: r.code, stderr: r.stderr };
  };
  const h = await run('hostPath');
  assert.equal(h.code, 1);
  assert.match(h.stderr, /enforces Pod Security level restricted, .*--volume-source csi/);
  assert.equal((await run('csi')).code, 0);
  assert.equal((await run('nfs')).code, 2, '--volume-source takes hostPath or csi only');
});
