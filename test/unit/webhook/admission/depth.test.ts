// The JSON depth limit (webhook/admission/decode.ts): the depth as counted, the boundary at 512 for a
// review and for a pod handed to decidePod directly, and a hostile 100 000-level body walked only as
// far as the limit (no stack overflow).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeReview, jsonDepth, MAX_DEPTH, withinMaxDepth } from '../../../../webhook/admission/index.js';

const nestedArrays = (n: number): unknown => JSON.parse(`${'['.repeat(n)}${']'.repeat(n)}`);
const nestedObjects = (n: number): Record<string, unknown> => {
  let v: Record<string, unknown> = {};
  for (let i = 1; i < n; i++) v = { a: [0], k: v };
  return v;
};

test('jsonDepth counts containers, not primitives, and stops past the limit', () => {
  assert.equal(jsonDepth(3), 0);
  assert.equal(jsonDepth(null), 0);
  assert.equal(jsonDepth({}), 1);
  assert.equal(jsonDepth({ a: 1, b: [] }), 2);
  assert.equal(jsonDepth([[1], { x: { y: [] } }]), 4);
  assert.equal(jsonDepth(nestedObjects(40)), 40);
  assert.equal(jsonDepth(nestedArrays(MAX_DEPTH)), MAX_DEPTH);
  assert.ok(jsonDepth(nestedArrays(100_000)) > MAX_DEPTH);
  assert.ok(jsonDepth(nestedObjects(10), 5) > 5);
});

test('a review at the limit decodes, one level deeper does not; its object is not walked again', () => {
  // The review's object sits at depth 3 (review → request → object).
  const review = (objectDepth: number) => ({
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid: 'u',
      kind: { group: '', version: 'v1', kind: 'Pod' },
      operation: 'CREATE',
      object: nestedObjects(objectDepth),
    },
  });
  const ok = review(MAX_DEPTH - 2);
  assert.equal(jsonDepth(ok), MAX_DEPTH);
  const req = decodeReview(ok);
  assert.ok(withinMaxDepth(req.object as object));
  assert.throws(() => decodeReview(review(MAX_DEPTH - 1)), /nested deeper than 512 levels/);
  assert.equal(withinMaxDepth(nestedObjects(MAX_DEPTH)), true);
  assert.equal(
    withinMaxDepth(nestedObjects(MAX_DEPTH + 1)),
    false,
    'an object that did not come through decodeReview is walked',
  );
});
