import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chooseSidecarMode } from '../../../../webhook/catalog/sidecar-mode.js';

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
