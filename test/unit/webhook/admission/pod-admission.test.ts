// Pod admission: every assertion applies the returned patch to a deep clone of the fixture and looks
// at the resulting pod, as the API server would.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  decidePod,
  admitPod,
  defaultInjectOptions,
  patchOps,
  type RawContainer,
  type RawPod,
} from '../../../../webhook/admission/index.js';
import { applied, catalog, context, pod, podRequest } from '../../../harness/admission.js';

const byName = (list: RawContainer[] | undefined, name: string): RawContainer | undefined =>
  list?.find((c) => c.name === name);

test('a labeled pod gets a native sidecar, a read-only hostPath mount, node affinity and the marker', () => {
  const p = pod('basic');
  const r = admitPod(podRequest(p), context());
  assert.equal(r.allowed, true);
  assert.equal(r.patchType, 'JSONPatch');
  const out = applied(p, r);
  const sc = byName(out.spec?.initContainers, 'socat-kube-scheduler');
  assert.ok(sc, 'sidecar in initContainers');
  assert.equal(sc.restartPolicy, 'Always');
  assert.equal(sc.image, 'example.com/socat-relay:test');
  assert.deepEqual(sc.command, [
    'socat',
    '-t10',
    '-b131072',
    'TCP4-LISTEN:10259,bind=127.0.0.1,fork,reuseaddr,backlog=1024,nodelay',
    'UNIX-CONNECT:/run/socat-relay/kube-scheduler/socket',
  ]);
  assert.deepEqual(sc.volumeMounts, [
    { name: 'socat-kube-scheduler', mountPath: '/run/socat-relay/kube-scheduler', readOnly: true },
  ]);
  assert.deepEqual(sc.securityContext, {
    runAsUser: 65532,
    runAsGroup: 65532,
    runAsNonRoot: true,
    readOnlyRootFilesystem: true,
    allowPrivilegeEscalation: false,
    capabilities: { drop: ['ALL'] },
    seccompProfile: { type: 'RuntimeDefault' },
  });
  assert.deepEqual(sc.resources, { requests: { cpu: '5m', memory: '8Mi' }, limits: { memory: '32Mi' } });
  assert.deepEqual(sc.ports, [{ containerPort: 10259, protocol: 'TCP' }]);
  assert.deepEqual(
    out.spec?.volumes?.find((v) => v.name === 'socat-kube-scheduler'),
    {
      name: 'socat-kube-scheduler',
      hostPath: { path: '/run/socat-relay/kube-scheduler', type: 'DirectoryOrCreate' },
    },
  );
  assert.deepEqual(
    out.spec?.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution?.nodeSelectorTerms,
    [{ matchExpressions: [{ key: 'node-role.kubernetes.io/control-plane', operator: 'In', values: [''] }] }],
  );
  assert.equal(out.metadata?.annotations?.['socat.io/injected'], 'kube-scheduler');
  assert.deepEqual(out.spec?.containers, p.spec?.containers, 'app containers untouched');
});

test('regular mode appends the sidecar to containers without restartPolicy', () => {
  const p = pod('basic');
  const ctx = context({ options: defaultInjectOptions({ mode: 'regular', sidecarImage: 'img:1' }) });
  const out = applied(p, admitPod(podRequest(p), ctx));
  assert.equal(out.spec?.initContainers, undefined);
  assert.deepEqual(
    out.spec?.containers?.map((c) => c.name),
    ['prometheus', 'socat-kube-scheduler'],
  );
  assert.equal(byName(out.spec?.containers, 'socat-kube-scheduler')?.restartPolicy, undefined);
});

test('the node socket root option sets the hostPath, while the pod-side mount stays /run/socat-relay', () => {
  const p = pod('basic');
  const ctx = context({ options: defaultInjectOptions({ nodeSocketDir: '/var/run/relays' }) });
  const out = applied(p, admitPod(podRequest(p), ctx));
  assert.deepEqual(out.spec?.volumes?.[0], {
    name: 'socat-kube-scheduler',
    hostPath: { path: '/var/run/relays/kube-scheduler', type: 'DirectoryOrCreate' },
  });
  assert.equal(
    (byName(out.spec?.initContainers, 'socat-kube-scheduler')?.volumeMounts as { mountPath: string }[])[0]?.mountPath,
    '/run/socat-relay/kube-scheduler',
  );
});

test('a busy pod: sidecars before its own init containers, affinity AND-ed into every term, unknown fields kept', () => {
  const p = pod('busy');
  const d = decidePod(podRequest(p), context());
  assert.deepEqual(d.injected, ['etcd-metrics', 'kube-scheduler']);
  const out = applied(p, d.response);
  assert.deepEqual(
    out.spec?.initContainers?.map((c) => c.name),
    ['socat-etcd-metrics', 'socat-kube-scheduler', 'setup'],
  );
  assert.deepEqual(
    out.spec?.volumes?.map((v) => v.name),
    ['data', 'socat-etcd-metrics', 'socat-kube-scheduler'],
  );
  const terms = out.spec?.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution?.nodeSelectorTerms;
  const added = [
    { key: 'kubernetes.io/os', operator: 'In', values: ['linux'] },
    { key: 'node-role.kubernetes.io/control-plane', operator: 'In', values: [''] },
  ];
  assert.deepEqual(terms, [
    { matchExpressions: [{ key: 'zone', operator: 'In', values: ['a'] }, ...added] },
    { matchFields: [{ key: 'metadata.name', operator: 'In', values: ['cp-1'] }], matchExpressions: added },
  ]);
  assert.deepEqual(
    out.spec?.affinity?.nodeAffinity?.preferredDuringSchedulingIgnoredDuringExecution,
    p.spec?.affinity?.nodeAffinity?.preferredDuringSchedulingIgnoredDuringExecution,
  );
  assert.deepEqual(out.spec?.['x-unknown'], { kept: true });
  assert.equal(out.metadata?.annotations?.['example.com/keep'], 'yes');
  assert.equal(out.metadata?.annotations?.['socat.io/injected'], 'etcd-metrics,kube-scheduler');
  assert.ok(!patchOps(d.response).some((op) => op.op === 'remove'), 'no remove ops');
});

test('node requirements: a term that has one already gets no copy; too many terms × node labels is denied, naming the field', () => {
  const withTerms = (n: number, expr: { key: string; operator: string; values: string[] }[] = []): RawPod => {
    const p = pod('busy');
    p.spec!.affinity!.nodeAffinity!.requiredDuringSchedulingIgnoredDuringExecution = {
      nodeSelectorTerms: Array.from({ length: n }, (_, i) => ({
        matchExpressions: [{ key: 'zone', operator: 'In', values: [`z${i}`] }, ...expr],
      })),
    };
    return p;
  };
  const present = { key: 'kubernetes.io/os', operator: 'In', values: ['linux'] };
  const once = applied(withTerms(2, [present]), decidePod(podRequest(withTerms(2, [present])), context()).response);
  for (const t of once.spec!.affinity!.nodeAffinity!.requiredDuringSchedulingIgnoredDuringExecution!
    .nodeSelectorTerms!) {
    assert.equal(t.matchExpressions!.filter((e) => e.key === 'kubernetes.io/os').length, 1, JSON.stringify(t));
    assert.equal(t.matchExpressions!.length, 3);
  }
  // The two relays of this pod have three node labels between them: 3 333 terms add at most 9 999 requirements.
  const atLimit = decidePod(podRequest(withTerms(3333)), context());
  assert.equal(atLimit.response.allowed, true, atLimit.response.status?.message);
  const over = decidePod(podRequest(withTerms(3334)), context());
  assert.equal(over.response.allowed, false);
  assert.match(
    over.response.status!.message!,
    /spec\.affinity\.nodeAffinity\.requiredDuringSchedulingIgnoredDuringExecution\.nodeSelectorTerms: 3334 terms × 3 node labels of the relays would add up to 10002 node requirements \(at most 10000\)/,
  );
  assert.deepEqual(
    over.denials.map((d) => d.reason),
    ['bad-object'],
  );
});

test('a relay without nodeSelector adds no affinity; its own resources replace the defaults; UDP argv', () => {
  const p = pod('basic');
  p.metadata!.labels!['socat.io/consume'] = 'syslog';
  const out = applied(p, admitPod(podRequest(p), context()));
  assert.equal(out.spec?.affinity, undefined);
  const sc = byName(out.spec?.initContainers, 'socat-syslog');
  assert.deepEqual(sc?.resources, { requests: { cpu: '1m', memory: '4Mi' } });
  assert.deepEqual(sc?.command, [
    'socat',
    '-b65536',
    '-u',
    'UDP4-RECV:5140,bind=127.0.0.1,rcvbuf=4194304',
    'UNIX-SENDTO:/run/socat-relay/syslog/socket',
  ]);
  assert.deepEqual(sc?.ports, [{ containerPort: 5140, protocol: 'UDP' }]);
});

for (const name of ['basic', 'busy']) {
  for (const mode of ['native', 'regular'] as const) {
    test(`idempotent (${name}, ${mode}): a second pass over the injected pod gives no patch`, () => {
      const ctx = context({ options: defaultInjectOptions({ mode }) });
      const p = pod(name);
      const once = applied(p, admitPod(podRequest(p), ctx));
      const again = decidePod(podRequest(once), ctx);
      assert.deepEqual(again.response, { uid: '', allowed: true });
      assert.deepEqual(again.injected, []);
    });
  }
}

test('dryRun gets the same answer and the request and the catalog are not touched', () => {
  const p = pod('busy');
  const ctx = context();
  const req = podRequest(p, { dryRun: true });
  const before = structuredClone(req);
  const catalogBefore = structuredClone(ctx.catalog.list());
  const dry = admitPod(req, ctx);
  const wet = admitPod(podRequest(p), ctx);
  assert.deepEqual(dry, wet);
  assert.deepEqual(req, before, 'request object not mutated');
  assert.deepEqual(ctx.catalog.list(), catalogBefore);
});

const skipped: { name: string; req: () => ReturnType<typeof podRequest>; warning?: RegExp }[] = [
  { name: 'a pod without the label', req: () => podRequest(pod('unlabeled')) },
  { name: 'a DELETE', req: () => podRequest(undefined, { operation: 'DELETE', oldObject: pod('basic') }) },
  {
    name: 'a CONNECT (exec)',
    req: () => podRequest({ kind: 'PodExecOptions' }, { operation: 'CONNECT', subResource: 'exec' }),
  },
  {
    name: 'an UPDATE (containers are immutable)',
    req: () => podRequest(pod('basic'), { operation: 'UPDATE', oldObject: pod('basic') }),
  },
  {
    name: 'not a Pod',
    req: () =>
      podRequest(
        { kind: 'Service' },
        {
          kind: { group: '', version: 'v1', kind: 'Service' },
          resource: { group: '', version: 'v1', resource: 'services' },
        },
      ),
  },
  { name: 'a mirror pod', req: () => podRequest(pod('mirror')), warning: /mirror pod/ },
  {
    name: 'a hostNetwork pod',
    req: () => podRequest(pod('host-network')),
    warning: /^socat-relay: hostNetwork pod not injected; it already shares the node loopback$/,
  },
];
for (const s of skipped) {
  test(`${s.name} is allowed unchanged${s.warning ? ' with a warning' : ''}`, () => {
    const r = admitPod(s.req(), context());
    assert.equal(r.allowed, true);
    assert.equal(r.patch, undefined);
    if (s.warning) {
      assert.equal(r.warnings?.length, 1);
      assert.match(r.warnings[0]!, s.warning);
      assert.ok(r.warnings[0]!.length <= 120);
    } else {
      assert.equal(r.warnings, undefined);
    }
  });
}

const denials: { name: string; pod: () => RawPod; namespace?: string; message: string; reason: string }[] = [
  {
    name: 'relay not found',
    pod: () => {
      const p = pod('basic');
      p.metadata!.labels!['socat.io/consume'] = 'nope';
      return p;
    },
    message: 'relay "nope" not found (asked for by socat.io/consume)',
    reason: 'relay-not-found',
  },
  {
    name: 'relay invalid in the catalog',
    pod: () => {
      const p = pod('basic');
      p.metadata!.labels!['socat.io/consume'] = 'broken';
      return p;
    },
    message:
      'relay "broken" is invalid: spec.target.host: 10.0.0.1 is not a loopback address (127.0.0.0/8, ::1 or localhost)',
    reason: 'relay-invalid',
  },
  {
    name: 'namespace not in the list',
    pod: () => pod('basic'),
    namespace: 'apps',
    message: 'relay "kube-scheduler" does not allow namespace "apps" (allowed: namespaces monitoring)',
    reason: 'namespace-not-allowed',
  },
  {
    name: 'namespace matched by neither the list nor the selector',
    pod: () => {
      const p = pod('basic');
      p.metadata!.labels!['socat.io/consume'] = 'etcd-metrics';
      return p;
    },
    namespace: 'apps',
    message:
      'relay "etcd-metrics" does not allow namespace "apps" (allowed: namespaces monitoring or namespaceSelector)',
    reason: 'namespace-not-allowed',
  },
  {
    name: 'namespace labels unknown',
    pod: () => {
      const p = pod('basic');
      p.metadata!.labels!['socat.io/consume'] = 'etcd-metrics';
      return p;
    },
    namespace: 'ghost',
    message:
      'relay "etcd-metrics": the labels of namespace "ghost" are unknown, so its namespaceSelector cannot be checked',
    reason: 'namespace-unknown',
  },
  {
    name: 'listen port clashes with a container port',
    pod: () => pod('port-clash'),
    message: 'relay "kube-scheduler" listens on port 10259/TCP, which container "web" also uses',
    reason: 'port-clash',
  },
  {
    name: 'two consumed relays listen on the same port',
    pod: () => {
      const p = pod('basic');
      p.metadata!.annotations = { 'socat.io/consume': 'scheduler-copy' };
      return p;
    },
    message: 'relays "kube-scheduler" and "scheduler-copy" both listen on port 10259/TCP',
    reason: 'port-clash',
  },
  {
    name: 'a container and a volume named like ours that are not ours',
    pod: () => pod('name-taken'),
    message:
      'spec.containers[0] "socat-kube-scheduler" is not the sidecar socat-relay injects for relay "kube-scheduler" (differs: placement (injected into spec.initContainers), command, image, ports, restartPolicy, securityContext, volumeMounts); spec.volumes[0] "socat-kube-scheduler" is not the volume socat-relay injects for relay "kube-scheduler" (hostPath /run/socat-relay/kube-scheduler, type DirectoryOrCreate)',
    reason: 'not-injected',
  },
  {
    name: 'a marker annotation claiming a relay whose volume is not the relay folder',
    pod: () => {
      const p = pod('basic');
      p.metadata!.annotations = { 'socat.io/injected': 'kube-scheduler' };
      p.spec!.volumes = [{ name: 'socat-kube-scheduler', emptyDir: {} }];
      return p;
    },
    message:
      'spec.volumes[0] "socat-kube-scheduler" is not the volume socat-relay injects for relay "kube-scheduler" (hostPath /run/socat-relay/kube-scheduler, type DirectoryOrCreate)',
    reason: 'not-injected',
  },
  {
    name: 'an empty label and no annotation',
    pod: () => {
      const p = pod('basic');
      p.metadata!.labels!['socat.io/consume'] = '';
      return p;
    },
    message: 'label socat.io/consume is empty: name the relay to consume',
    reason: 'no-relay-named',
  },
  {
    name: 'several reasons at once',
    pod: () => {
      const p = pod('basic');
      p.metadata!.annotations = { 'socat.io/consume': 'nope,broken' };
      return p;
    },
    namespace: 'apps',
    message:
      'relay "nope" not found (asked for by socat.io/consume); relay "broken" is invalid: spec.target.host: 10.0.0.1 is not a loopback address (127.0.0.0/8, ::1 or localhost); relay "kube-scheduler" does not allow namespace "apps" (allowed: namespaces monitoring)',
    reason: 'relay-not-found',
  },
];
for (const d of denials) {
  test(`denied: ${d.name}`, () => {
    const p = d.pod();
    const dec = decidePod(podRequest(p, d.namespace ? { namespace: d.namespace } : {}), context());
    assert.deepEqual(dec.response, {
      uid: '',
      allowed: false,
      status: { code: 403, reason: 'Forbidden', message: d.message },
    });
    assert.equal(dec.denials[0]?.reason, d.reason);
  });
}

test('a namespace matched by the relay namespaceSelector is allowed', () => {
  const p = pod('basic');
  p.metadata!.labels!['socat.io/consume'] = 'etcd-metrics';
  const r = admitPod(podRequest(p, { namespace: 'observability' }), context());
  assert.equal(r.allowed, true);
  assert.ok(applied(p, r).spec?.initContainers?.some((c) => c.name === 'socat-etcd-metrics'));
});

test('a UDP container port does not clash with a TCP relay on the same number', () => {
  const p = pod('port-clash');
  p.spec!.containers![0]!.ports = [{ containerPort: 10259, protocol: 'UDP' }];
  assert.equal(admitPod(podRequest(p), context()).allowed, true);
});

test('a CREATE whose object is not an object gets a 400, not a crash', () => {
  const r = admitPod(podRequest('garbage'), context());
  assert.deepEqual(r, {
    uid: '',
    allowed: false,
    status: { code: 400, message: 'request.object must be a Pod object' },
  });
});

test('a marker annotation with our exact volume but no sidecar gets the sidecar added, nothing else changed', () => {
  const p = pod('basic');
  const once = applied(p, admitPod(podRequest(p), context()));
  once.spec!.initContainers = [];
  const r = decidePod(podRequest(once), context());
  assert.deepEqual(r.injected, ['kube-scheduler']);
  const out = applied(once, r.response);
  assert.deepEqual(
    out.spec?.initContainers?.map((c) => c.name),
    ['socat-kube-scheduler'],
  );
  assert.deepEqual(out.spec?.volumes, once.spec?.volumes);
});

test('a pod nested deeper than 512 levels gets a 400 from the pure handler too (the inject command has no envelope)', () => {
  const p = pod('basic');
  let deep: unknown = 'leaf';
  for (let i = 0; i < 5000; i++) deep = { n: deep };
  p.spec!.deep = deep;
  assert.deepEqual(admitPod(podRequest(p), context()), {
    uid: '',
    allowed: false,
    status: { code: 400, message: 'the pod is nested deeper than 512 levels' },
  });
});

for (const [mode, restartPolicy, warned] of [
  ['regular', 'Never', true],
  ['regular', 'OnFailure', true],
  ['regular', 'Always', false],
  ['native', 'Never', false],
] as const) {
  test(`${mode} mode, restartPolicy ${restartPolicy}: ${warned ? 'a warning that the pod will not finish' : 'no warning'}`, () => {
    const p = pod('basic');
    p.spec!.restartPolicy = restartPolicy;
    p.spec!.tolerations = [{ key: 'node-role.kubernetes.io/control-plane', operator: 'Exists', effect: 'NoSchedule' }];
    const r = admitPod(podRequest(p), context({ options: defaultInjectOptions({ mode }) }));
    assert.equal(r.allowed, true);
    assert.ok(r.patch);
    assert.deepEqual(
      r.warnings,
      warned
        ? [
            'socat-relay: a regular sidecar container keeps this run-to-completion pod from finishing; use native sidecars',
          ]
        : undefined,
    );
  });
}

test('a relay replaced in the catalog is decided from its new object (validation is memoised per object)', () => {
  const ctx = context();
  const c = ctx.catalog as ReturnType<typeof catalog>;
  const p = pod('basic');
  assert.equal(admitPod(podRequest(p), ctx).allowed, true);
  const broken = structuredClone(c.get('kube-scheduler')!);
  broken.spec.target.host = '169.254.169.254';
  c.put(broken);
  assert.match(
    admitPod(podRequest(p), ctx).status?.message ?? '',
    /relay "kube-scheduler" is invalid: spec\.target\.host: 169\.254\.169\.254 is link-local/,
  );
  const fixed = structuredClone(broken);
  fixed.spec.target.host = '127.0.0.1';
  fixed.spec.consumers = { namespaces: ['apps'] };
  c.put(fixed);
  assert.match(admitPod(podRequest(p), ctx).status?.message ?? '', /does not allow namespace "monitoring"/);
});

function deepFreeze<T>(o: T): T {
  if (o && typeof o === 'object' && !Object.isFrozen(o)) {
    Object.freeze(o);
    for (const v of Object.values(o)) deepFreeze(v);
  }
  return o;
}

for (const name of ['basic', 'busy']) {
  test(`the raw ${name} pod is never mutated: injection into a deep-frozen request gives the same patch`, () => {
    const expected = decidePod(podRequest(pod(name)), context()).response;
    const frozen = deepFreeze(pod(name));
    const d = decidePod(podRequest(frozen), context()); // a write into the raw pod would throw (strict mode)
    assert.deepEqual(d.response, expected);
    assert.ok(patchOps(d.response).length > 0);
  });
}
