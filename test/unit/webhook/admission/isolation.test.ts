// Security of what the injector gives a pod: a namespace the relay does not allow gets nothing (no
// patch at all); a consumer's sidecar mounts only its own relay's folder (hostPath = that folder, never
// the socket root) read-only, and no other container gets it; the sidecar runs non-root with no
// capabilities and a read-only root filesystem — in both sidecar modes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fjp from 'fast-json-patch';
import {
  decidePod,
  defaultInjectOptions,
  patchOps,
  type AdmissionRequest,
  type PodContext,
} from '../../../../webhook/admission/index.js';
import { fuzzCatalog, NAMESPACE_LABELS } from '../../../harness/review.js';

const NODE_ROOT = '/run/socat-relay';

function ctx(
  mode: 'native' | 'regular',
  labels: (ns: string) => Record<string, string> | undefined = (ns) => NAMESPACE_LABELS[ns],
): PodContext {
  return {
    catalog: fuzzCatalog(),
    namespaceLabels: labels,
    options: defaultInjectOptions({ mode, nodeSocketDir: NODE_ROOT }),
  };
}

function podReq(
  namespace: string,
  relays: string,
  containers = [{ name: 'app', image: 'busybox' }],
): { req: AdmissionRequest; pod: Record<string, any> } {
  const [first, ...rest] = relays.split(',');
  const pod = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: 'p',
      namespace,
      labels: { 'socat.io/consume': first },
      ...(rest.length ? { annotations: { 'socat.io/consume': rest.join(',') } } : {}),
    },
    spec: { containers },
  };
  return {
    pod,
    req: {
      uid: 'u',
      kind: { group: '', version: 'v1', kind: 'Pod' },
      resource: { group: '', version: 'v1', resource: 'pods' },
      namespace,
      operation: 'CREATE',
      object: structuredClone(pod),
    },
  };
}

const DENIED: [string, string, string, ((ns: string) => Record<string, string> | undefined)?][] = [
  ['kube-scheduler allows only monitoring: a pod in apps', 'apps', 'kube-scheduler'],
  ['kube-scheduler: a pod in kube-system', 'kube-system', 'kube-scheduler'],
  ['etcd-metrics (monitoring or team=observability): a pod in apps (no team label)', 'apps', 'etcd-metrics'],
  ['etcd-metrics: namespace labels unknown (informer not synced)', 'newcomer', 'etcd-metrics', () => undefined],
  ['dns allows monitoring and apps: a pod in default', 'default', 'dns'],
  [
    'two relays, one not allowed: the whole pod is denied, the allowed one is not injected either',
    'apps',
    'dns,kube-scheduler',
  ],
  ['a relay that does not exist', 'monitoring', 'nope'],
  ['a relay in the catalog that is invalid (routable target)', 'monitoring', 'broken'],
];

for (const mode of ['native', 'regular'] as const) {
  for (const [name, ns, relays, labels] of DENIED) {
    test(`${mode}: ${name} → denied, no patch, the message names the relay`, () => {
      const { req } = podReq(ns, relays);
      const d = decidePod(req, ctx(mode, labels));
      assert.equal(d.response.allowed, false);
      assert.equal(d.response.patch, undefined);
      assert.deepEqual(d.injected, []);
      assert.match(d.response.status?.message ?? '', new RegExp(relays.split(',').at(-1)!));
    });
  }

  test(`${mode}: etcd-metrics from observability (team label) and syslog (namespaceSelector {}) are injected; each sidecar mounts only its own relay's folder, read-only`, () => {
    const { req, pod } = podReq('observability', 'etcd-metrics,syslog', [
      { name: 'app', image: 'busybox' },
      { name: 'side', image: 'busybox' },
    ]);
    const d = decidePod(req, ctx(mode));
    assert.equal(d.response.allowed, true, d.response.status?.message);
    const out = fjp.applyPatch(structuredClone(pod), patchOps(d.response), true, false).newDocument;
    const containers: any[] = [...(out.spec.initContainers ?? []), ...out.spec.containers];
    const sidecars = containers.filter((c) => c.name.startsWith('socat-'));
    assert.deepEqual(sidecars.map((c) => c.name).sort(), ['socat-etcd-metrics', 'socat-syslog']);
    const hostPaths = out.spec.volumes.filter((v: any) => v.hostPath);
    assert.deepEqual(hostPaths.map((v: any) => v.hostPath.path).sort(), [
      `${NODE_ROOT}/etcd-metrics`,
      `${NODE_ROOT}/syslog`,
    ]);
    for (const v of hostPaths) {
      assert.notEqual(v.hostPath.path.replace(/\/+$/, ''), NODE_ROOT, 'the socket root is mounted');
      assert.equal(v.hostPath.type, 'DirectoryOrCreate');
    }
    for (const c of sidecars) {
      const relay = c.name.slice('socat-'.length);
      assert.deepEqual(c.volumeMounts, [
        { name: `socat-${relay}`, mountPath: `/run/socat-relay/${relay}`, readOnly: true },
      ]);
      const vol = out.spec.volumes.find((v: any) => v.name === c.volumeMounts[0].name);
      assert.equal(vol.hostPath.path, `${NODE_ROOT}/${relay}`);
      if (mode === 'native') assert.equal(c.restartPolicy, 'Always');
    }
    for (const c of containers.filter((x) => !x.name.startsWith('socat-'))) {
      assert.equal(c.volumeMounts, undefined, `the app container ${c.name} got a relay mount`);
    }
  });

  test(`${mode}: the sidecar runs as uid/gid 65532, non-root, read-only root fs, no privilege escalation, all capabilities dropped, seccomp RuntimeDefault`, () => {
    const { req, pod } = podReq('monitoring', 'kube-scheduler');
    const d = decidePod(req, ctx(mode));
    const out = fjp.applyPatch(structuredClone(pod), patchOps(d.response), true, false).newDocument;
    const sc = [...(out.spec.initContainers ?? []), ...out.spec.containers].find(
      (c: any) => c.name === 'socat-kube-scheduler',
    ).securityContext;
    assert.deepEqual(sc, {
      runAsUser: 65532,
      runAsGroup: 65532,
      runAsNonRoot: true,
      readOnlyRootFilesystem: true,
      allowPrivilegeEscalation: false,
      capabilities: { drop: ['ALL'] },
      seccompProfile: { type: 'RuntimeDefault' },
    });
    assert.equal(out.spec.hostNetwork, undefined);
    assert.equal(out.spec.hostPID, undefined);
  });
}
