// A consumer of a relay that runs on control-plane nodes only is warned at admission when it cannot
// run there (kubeadm taints those nodes node-role.kubernetes.io/control-plane:NoSchedule); the
// expected texts are written out here, not built with the product's function.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decidePod, type RawPod } from '../../../../webhook/admission/index.js';
import { context, pod, podRequest } from '../../../harness/admission.js';

const WARNING =
  'socat-relay: relay kube-scheduler needs a toleration of node-role.kubernetes.io/control-plane:NoSchedule';

function withTolerations(tolerations: unknown[] | undefined): RawPod {
  const p = pod('basic');
  if (tolerations) p.spec!.tolerations = tolerations;
  return p;
}

const cases: [string, unknown[] | undefined, boolean][] = [
  ['no tolerations', undefined, true],
  [
    'the exact toleration (Exists)',
    [{ key: 'node-role.kubernetes.io/control-plane', operator: 'Exists', effect: 'NoSchedule' }],
    false,
  ],
  [
    'Equal with the empty value, any effect',
    [{ key: 'node-role.kubernetes.io/control-plane', operator: 'Equal', value: '' }],
    false,
  ],
  [
    'operator left out (Equal), empty value',
    [{ key: 'node-role.kubernetes.io/control-plane', effect: 'NoSchedule' }],
    false,
  ],
  ['tolerate everything (empty key, Exists)', [{ operator: 'Exists' }], false],
  [
    'the taint tolerated for NoExecute only',
    [{ key: 'node-role.kubernetes.io/control-plane', operator: 'Exists', effect: 'NoExecute' }],
    true,
  ],
  [
    'Equal with another value',
    [{ key: 'node-role.kubernetes.io/control-plane', operator: 'Equal', value: 'true', effect: 'NoSchedule' }],
    true,
  ],
  ['another key', [{ key: 'node-role.kubernetes.io/master', operator: 'Exists' }], true],
  ['an empty key with Equal (tolerates nothing)', [{ operator: 'Equal' }], true],
  ['garbage entries', ['x', null, 7], true],
];
for (const [what, tolerations, warned] of cases) {
  test(`a consumer of a control-plane relay with ${what}: ${warned ? 'warned' : 'no warning'}`, () => {
    const d = decidePod(podRequest(withTolerations(tolerations)), context());
    assert.equal(d.response.allowed, true);
    assert.deepEqual(d.response.warnings ?? [], warned ? [WARNING] : []);
  });
}

test('a relay without a control-plane nodeSelector gives no warning', () => {
  const p = pod('basic');
  p.metadata!.labels!['socat.io/consume'] = 'syslog';
  const d = decidePod(podRequest(p), context());
  assert.equal(d.response.allowed, true, JSON.stringify(d.response.status));
  assert.deepEqual(d.response.warnings ?? [], []);
});

test('two control-plane relays: one warning each, in name order, each under 120 characters', () => {
  const p = pod('basic');
  p.metadata!.annotations = { 'socat.io/consume': 'etcd-metrics' };
  const d = decidePod(podRequest(p), context());
  assert.deepEqual(d.response.warnings, [
    'socat-relay: relay etcd-metrics needs a toleration of node-role.kubernetes.io/control-plane:NoSchedule',
    WARNING,
  ]);
  for (const w of d.response.warnings ?? []) assert.ok(w.length <= 120, w);
});
