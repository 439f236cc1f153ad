// lib/image.ts: the one image setting and the sidecar name derived from it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  DEFAULT_IMAGE,
  DEFAULT_SIDECAR_IMAGE,
  ImageRefError,
  parseImageRef,
  sidecarImageOf,
} from '../../../lib/image.js';

const digest = `sha256:${'0123456789abcdef'.repeat(4)}`;

test('references as runtimes read them: registry with port, nested paths, tag, digest', () => {
  const cases: [string, ReturnType<typeof parseImageRef>][] = [
    ['socat-relay', { repository: 'socat-relay' }],
    ['ghcr.io/example/some-app:0.1.0', { repository: 'ghcr.io/example/some-app', tag: '0.1.0' }],
    ['localhost:5000/a/b_c.d:v1-rc.2', { repository: 'localhost:5000/a/b_c.d', tag: 'v1-rc.2' }],
    [`reg.example/x:1@${digest}`, { repository: 'reg.example/x', tag: '1', digest }],
    [`reg.example/x@${digest}`, { repository: 'reg.example/x', digest }],
  ];
  for (const [ref, want] of cases) assert.deepEqual(parseImageRef(ref), want, ref);
});

test('bad references are refused with what is wrong', () => {
  for (const [ref, why] of [
    ['', /empty/],
    [' a:1', /spaces/],
    ['A/b:1', /repository "A\/b"/],
    ['a/b:-x', /tag "-x"/],
    ['a@sha256:12', /digest/],
    ['a//b:1', /repository/],
  ] as const) {
    assert.throws(
      () => parseImageRef(ref),
      (e: unknown) => e instanceof ImageRefError && why.test(e.message),
      ref,
    );
  }
});

test('the sidecar is <repository>-sidecar:<tag>; without a tag it cannot be derived', () => {
  assert.equal(DEFAULT_IMAGE, 'ghcr.io/socat-relay/socat-relay:0.1.0');
  assert.equal(DEFAULT_SIDECAR_IMAGE, 'ghcr.io/socat-relay/socat-relay-sidecar:0.1.0');
  assert.equal(sidecarImageOf('localhost:5000/socat-relay:dev'), 'localhost:5000/socat-relay-sidecar:dev');
  assert.equal(
    sidecarImageOf(`r/x:2@${digest}`),
    'r/x-sidecar:2',
    'the tag is kept, the digest (of the other image) dropped',
  );
  assert.throws(() => sidecarImageOf('r/x'), /has no tag; set the sidecar image explicitly/);
  assert.throws(() => sidecarImageOf(`r/x@${digest}`), /a digest belongs to one image only/);
});
