// The injected container and volume are built once per resolved relay and options (webhook/admission/
// sidecar.ts) and shared by every request: the same object while nothing changed, a new one when the
// relay object is replaced or an option is edited in place, and frozen so no request can change it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  defaultInjectOptions,
  sidecarContainer,
  sidecarVolume,
  validatedRelay,
} from '../../../../webhook/admission/index.js';
import type { Relay } from '../../../../relay/index.js';

const relay = (port: number): Relay => ({
  apiVersion: 'socat.io/v1alpha1',
  kind: 'Relay',
  metadata: { name: 'sched' },
  spec: { target: { host: '127.0.0.1', port }, consumers: { namespaces: ['monitoring'] } },
});

test('sidecar container and volume: built once per relay object and options, rebuilt when either changes, frozen', () => {
  const o = defaultInjectOptions();
  const r1 = validatedRelay(relay(10259)).resolved!;
  const c = sidecarContainer(r1, o);
  assert.equal(sidecarContainer(r1, o), c, 'the same relay and options: the same object');
  assert.equal(sidecarVolume(r1, o), sidecarVolume(r1, o));
  assert.ok(
    Object.isFrozen(c) &&
      Object.isFrozen(c.command) &&
      Object.isFrozen((c.securityContext as { capabilities: object }).capabilities),
  );
  assert.throws(() => {
    (c.command as string[]).push('-v');
  }, TypeError);

  const r2 = validatedRelay(relay(10260)).resolved!;
  assert.match(JSON.stringify(sidecarContainer(r2, o).command), /10260/, 'a replaced relay object: its own sidecar');

  o.sidecarImage = 'mirror.example/socat-relay-sidecar:1';
  o.volumeSource = 'csi';
  assert.equal(
    sidecarContainer(r1, o).image,
    'mirror.example/socat-relay-sidecar:1',
    'options edited in place are not served stale',
  );
  assert.ok('csi' in sidecarVolume(r1, o));
  assert.deepEqual(sidecarContainer(r1, defaultInjectOptions()), c, 'equal options: an equal container');
});
