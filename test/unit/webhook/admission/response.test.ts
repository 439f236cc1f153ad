import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  allowed,
  denied,
  errored,
  patched,
  patchOps,
  withWarnings,
  withUid,
  decodeReview,
  DecodeError,
  errorReview,
} from '../../../../webhook/admission/index.js';

test('responses are typed by their JSON field names', () => {
  assert.deepEqual(allowed(), { uid: '', allowed: true });
  assert.deepEqual(denied(['a', 'b']), {
    uid: '',
    allowed: false,
    status: { code: 403, reason: 'Forbidden', message: 'a; b' },
  });
  assert.deepEqual(errored(400, 'bad'), { uid: '', allowed: false, status: { code: 400, message: 'bad' } });
  assert.deepEqual(patched([]), { uid: '', allowed: true }, 'no ops: no patch at all');
  const p = patched([{ op: 'add', path: '/metadata/labels/a~1b', value: 'x' }]);
  assert.equal(p.patchType, 'JSONPatch');
  assert.equal(Buffer.from(p.patch!, 'base64').toString(), '[{"op":"add","path":"/metadata/labels/a~1b","value":"x"}]');
  assert.deepEqual(patchOps(p), [{ op: 'add', path: '/metadata/labels/a~1b', value: 'x' }]);
  assert.equal(withUid(allowed(), 'u-1').uid, 'u-1');
});

test('a denial shows its first 20 reasons, each cut to 2048 characters, then how many more there are', () => {
  const reasons = Array.from({ length: 25 }, (_, i) => `r${i}`);
  assert.equal(denied(reasons).status?.message, `${reasons.slice(0, 20).join('; ')}; and 5 more problems`);
  assert.equal(denied(reasons.slice(0, 21)).status?.message, `${reasons.slice(0, 20).join('; ')}; and 1 more problem`);
  assert.equal(denied(reasons.slice(0, 20)).status?.message, reasons.slice(0, 20).join('; '));
  const long = denied(['x'.repeat(5000), 'y']).status!.message!;
  assert.equal(long, `${'x'.repeat(2047)}…; y`);
});

test('warnings are cut to 120 characters and deduplicated; none leaves the field out', () => {
  const long = 'w'.repeat(200);
  const r = withWarnings(allowed(), [long, 'short', 'short']);
  assert.equal(r.warnings?.[0]?.length, 120);
  assert.deepEqual(r.warnings?.slice(1), ['short']);
  assert.equal('warnings' in withWarnings(allowed(), []), false);
});

function deep(levels: number): unknown {
  let v: unknown = 'leaf';
  for (let i = 0; i < levels; i++) v = i % 2 ? { n: v } : [v];
  return v;
}
const base = {
  apiVersion: 'admission.k8s.io/v1',
  kind: 'AdmissionReview',
  request: { uid: 'u-1', kind: { group: '', version: 'v1', kind: 'Pod' }, operation: 'CREATE' },
};
const malformed: { name: string; body: unknown; message: string; uid: string }[] = [
  { name: 'not an object', body: [1, 2], message: 'the body must be an AdmissionReview object', uid: '' },
  {
    name: 'v1beta1',
    body: { ...base, apiVersion: 'admission.k8s.io/v1beta1' },
    message: 'admission.k8s.io/v1beta1 is not supported: set admissionReviewVersions: [v1]',
    uid: 'u-1',
  },
  {
    name: 'no apiVersion',
    body: { ...base, apiVersion: undefined },
    message: 'apiVersion must be admission.k8s.io/v1, got null',
    uid: 'u-1',
  },
  {
    name: 'wrong kind',
    body: { ...base, kind: 'ConversionReview' },
    message: 'kind must be AdmissionReview, got "ConversionReview"',
    uid: 'u-1',
  },
  { name: 'no request', body: { ...base, request: undefined }, message: 'the AdmissionReview has no request', uid: '' },
  {
    name: 'no uid',
    body: { ...base, request: { ...base.request, uid: undefined } },
    message: 'request.uid is required',
    uid: '',
  },
  {
    name: 'no operation',
    body: { ...base, request: { ...base.request, operation: undefined } },
    message: 'request.operation is required',
    uid: 'u-1',
  },
  {
    name: 'nested 600 levels deep',
    body: { ...base, request: { ...base.request, object: deep(600) } },
    message: 'the AdmissionReview is nested deeper than 512 levels',
    uid: 'u-1',
  },
  {
    name: 'no kind',
    body: { ...base, request: { ...base.request, kind: 'Pod' } },
    message: 'request.kind is required',
    uid: 'u-1',
  },
];
for (const m of malformed) {
  test(`decode: ${m.name} → DecodeError 400 with the readable uid`, () => {
    assert.throws(
      () => decodeReview(m.body),
      (e: unknown) => {
        assert.ok(e instanceof DecodeError);
        assert.equal(e.message, m.message);
        assert.equal(e.code, 400);
        assert.equal(e.uid, m.uid);
        return true;
      },
    );
  });
}

test('decode: a good envelope returns its request; error reviews are AdmissionReview-shaped', () => {
  assert.equal(decodeReview(base).uid, 'u-1');
  assert.deepEqual(errorReview(413, 'too big', 'u'), {
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    response: { uid: 'u', allowed: false, status: { code: 413, message: 'too big' } },
  });
});

test('decode: depth is measured without recursion, so 100 000 levels answer a DecodeError, not a RangeError', () => {
  assert.throws(() => decodeReview({ ...base, request: { ...base.request, object: deep(100_000) } }), DecodeError);
  assert.equal(decodeReview({ ...base, request: { ...base.request, object: deep(400) } }).uid, 'u-1');
});
