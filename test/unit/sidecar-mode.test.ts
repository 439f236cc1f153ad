import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chooseSidecarMode } from '../../webhook/catalog/sidecar-mode.js';
import { backoffDelay } from '../../webhook/catalog/resilient-informer.js';

const cases: [setting: 'auto' | 'native' | 'regular', version: string | undefined, mode: 'native' | 'regular'][] = [
  ['auto', 'v1.34.4', 'native'],
  ['auto', 'v1.29.0', 'native'],
  ['auto', 'v1.30.2-gke.1200', 'native'],
  ['auto', 'v1.28.9', 'regular'],
  ['auto', 'v1.21.0+k3s1', 'regular'],
  ['auto', 'v0.0.0-master+$Format:%H$', 'regular'],
  ['auto', 'garbage', 'regular'],
  ['auto', undefined, 'regular'],
  ['native', 'v1.27.0', 'native'],
  ['regular', 'v1.34.0', 'regular'],
];
for (const [setting, version, mode] of cases) {
  test(`sidecar mode ${setting} with API server ${version ?? '(unknown)'} → ${mode}`, () => {
    assert.equal(chooseSidecarMode(setting, version).mode, mode);
  });
}

test('watch restart backoff doubles and is capped', () => {
  const b = { initialMs: 500, maxMs: 30_000 };
  assert.deepEqual(
    [0, 1, 2, 3, 6, 7, 100].map((a) => backoffDelay(a, b)),
    [500, 1000, 2000, 4000, 30_000, 30_000, 30_000],
  );
});
