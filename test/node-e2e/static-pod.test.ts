// The real-node suite runs manifests/node-agent/static-pod.yaml with only the image and the host
// paths changed: this checks the rewrite touches nothing else (runs everywhere, no node needed).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_KUBELET_ROOT, readStaticPod, rewriteStaticPod } from '../harness/index.js';

type AnyObj = Record<string, any>;

test('the static pod rewrite changes only the images and the host paths (and the kubelet root, inside and out)', () => {
  const original = readStaticPod() as AnyObj;
  const out = rewriteStaticPod(original as never, {
    image: 'localhost/socat-relay:src-test',
    paths: [
      { from: '/etc/socat-relay', to: '/tmp/t/etc/socat-relay' },
      { from: '/run/socat-relay', to: '/tmp/t/run/socat-relay' },
      { from: DEFAULT_KUBELET_ROOT, to: '/tmp/t/kubelet', samePathInside: true },
    ],
  }) as AnyObj;
  const expected = structuredClone(original);
  for (const c of expected.spec.containers as AnyObj[]) {
    c.image = 'localhost/socat-relay:src-test';
    c.imagePullPolicy = 'Never';
    c.args = c.args.map((a: string) => a.replace(`=${DEFAULT_KUBELET_ROOT}`, '=/tmp/t/kubelet'));
    for (const m of c.volumeMounts ?? []) if (m.mountPath === DEFAULT_KUBELET_ROOT) m.mountPath = '/tmp/t/kubelet';
  }
  // The host folders only (the agent's readiness file is in an emptyDir of its own).
  for (const v of (expected.spec.volumes as AnyObj[]).filter((x) => x.hostPath)) {
    v.hostPath.path = v.hostPath.path
      .replace(/^\/etc\/socat-relay/, '/tmp/t/etc/socat-relay')
      .replace(/^\/run\/socat-relay/, '/tmp/t/run/socat-relay')
      .replace(DEFAULT_KUBELET_ROOT, '/tmp/t/kubelet');
  }
  assert.deepEqual(out, expected);
  assert.notDeepEqual(out, original, 'something was rewritten');
  // The agent's own paths inside the container stay the defaults it documents.
  assert.ok(
    (out.spec.containers as AnyObj[]).find((c) => c.name === 'agent')!.args.includes('--socket-dir=/run/socat-relay'),
  );
  assert.deepEqual(original, readStaticPod(), 'the input is not modified');
});

test('the rewrite can move the host-network listeners to other loopback ports: the flags and the probes together', () => {
  const out = rewriteStaticPod(readStaticPod(), {
    image: 'i',
    paths: [],
    ports: { 9465: 40001, 9466: 40002 },
  }) as AnyObj;
  const c = (name: string): AnyObj => (out.spec.containers as AnyObj[]).find((x) => x.name === name)!;
  assert.ok(c('agent').args.includes('--listen=127.0.0.1:40001'), c('agent').args.join(' '));
  assert.ok(c('csi').args.includes('--health-listen=127.0.0.1:40002'), c('csi').args.join(' '));
  assert.deepEqual([c('agent').livenessProbe.httpGet.port, c('csi').livenessProbe.httpGet.port], [40001, 40002]);
  const flat = JSON.stringify(out);
  assert.ok(!/:946[56]\b|"port":946[56]\b/.test(flat), 'no 9465 or 9466 left');
});
