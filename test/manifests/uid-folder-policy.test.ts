// The sidecar policy (manifests/policy/require-sidecar.yaml, CEL evaluated here as the API server does)
// and the uid folder: the webhook injects the hostPath <socketRoot>/<relay>/<uid> — the folder of one
// Relay object — so the policy accepts exactly one more path component of [a-z0-9-] under the relay's
// folder (a Kubernetes uid), and nothing that could leave it: no '.', '..', '/', empty or extra parts.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { CONSUME_LABEL } from '../../relay/constants.js';
import { injectPod } from '../harness/inject.js';
import { judgeSidecarPolicy } from '../harness/policy.js';

const UID = '3f1c2d4e-5a6b-4c7d-8e9f-0a1b2c3d4e5f';
const relay = {
  apiVersion: 'socat.io/v1alpha1',
  kind: 'Relay',
  metadata: { name: 'kube-scheduler', uid: UID },
  spec: { target: { host: '127.0.0.1', port: 10259 }, consumers: { namespaces: ['monitoring'] } },
};
const consumer = () => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name: 'prometheus-0', namespace: 'monitoring', labels: { [CONSUME_LABEL]: 'kube-scheduler' } },
  spec: { containers: [{ name: 'prometheus', image: 'prom/prometheus' }] },
});

function injectedWith(path: string): any {
  const r = injectPod(consumer(), [relay]);
  assert.equal(r.allowed, true, r.message);
  const p: any = structuredClone(r.pod);
  p.spec.volumes.find((v: any) => v.name === 'socat-kube-scheduler').hostPath.path = path;
  return p;
}

describe('the sidecar policy and the uid folder of a Relay', () => {
  test('the pod the webhook injects (hostPath /run/socat-relay/<relay>/<uid>) passes', () => {
    const r = injectPod(consumer(), [relay]);
    const v = (r.pod.spec?.volumes ?? []).find((x: any) => x.name === 'socat-kube-scheduler') as any;
    assert.equal(v.hostPath.path, `/run/socat-relay/kube-scheduler/${UID}`);
    assert.deepEqual(judgeSidecarPolicy(r.pod), { matched: true });
  });

  for (const ok of [
    `/run/socat-relay/kube-scheduler/${UID}`,
    '/run/socat-relay/kube-scheduler/a',
    '/run/socat-relay/kube-scheduler/0-9',
    '/run/socat-relay/kube-scheduler',
  ]) {
    test(`hostPath ${ok} is a folder of relay kube-scheduler: allowed`, () => {
      assert.deepEqual(judgeSidecarPolicy(injectedWith(ok)), { matched: true });
    });
  }

  const bad = [
    '/run/socat-relay/kube-scheduler/..',
    '/run/socat-relay/kube-scheduler/.',
    '/run/socat-relay/kube-scheduler/',
    '/run/socat-relay/kube-scheduler//x',
    `/run/socat-relay/kube-scheduler/${UID}/`,
    '/run/socat-relay/kube-scheduler/a/b',
    '/run/socat-relay/kube-scheduler/../etcd',
    '/run/socat-relay/kube-scheduler/../..',
    '/run/socat-relay/kube-scheduler/A',
    '/run/socat-relay/kube-scheduler/-a',
    '/run/socat-relay/kube-scheduler/a-',
    '/run/socat-relay/kube-scheduler/a.b',
    `/run/socat-relay/kube-scheduler/${'a'.repeat(64)}`,
    '/run/socat-relay/kube-schedulerx/a',
    '/run/socat-relay/etcd/a',
    '/run/socat-relay',
    '/run/socat-relay/.agent',
    '/var/run/socat-relay/kube-scheduler/a',
    '/run/socat-relay/kube-scheduler/a\nb',
  ];
  for (const p of bad) {
    test(`hostPath ${JSON.stringify(p)} is refused, naming the volume`, () => {
      const r = judgeSidecarPolicy(injectedWith(p));
      assert.match(
        r.denied ?? '',
        /^volumes socat-kube-scheduler: socat-\* volumes are the injected folder of a relay the pod asks for \(hostPath \/run\/socat-relay\/<relay>\/<uid>/,
        JSON.stringify(r),
      );
    });
  }

  test('the hostPath type stays DirectoryOrCreate for the uid folder too', () => {
    const p = injectedWith(`/run/socat-relay/kube-scheduler/${UID}`);
    p.spec.volumes.find((v: any) => v.name === 'socat-kube-scheduler').hostPath.type = 'Socket';
    assert.match(judgeSidecarPolicy(p).denied ?? '', /^volumes socat-kube-scheduler:/);
  });
});
