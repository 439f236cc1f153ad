// The pure admission handler (webhook/server/handler.ts) without express: bytes + content type + context
// → HTTP status, AdmissionReview, outcome, what to count and the one log line. app.test.ts checks the
// same answers over HTTP; the fuzz suite feeds it generated bodies.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { defaultInjectOptions } from '../../../../webhook/admission/index.js';
import { handleAdmission, isJsonContentType, type AdmissionContext } from '../../../../webhook/server/handler.js';
import { catalog, pod, podRequest, relayRequest, NAMESPACE_LABELS } from '../../../harness/admission.js';

const ctx = (): AdmissionContext => ({
  catalog: catalog(),
  namespaceLabels: (ns) => NAMESPACE_LABELS[ns],
  options: defaultInjectOptions(),
});
const body = (req: unknown): string =>
  JSON.stringify({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request: req });

test('content types: application/json with or without parameters; anything else is 415 before the body is looked at', () => {
  for (const t of ['application/json', 'application/json; charset=utf-8', 'Application/JSON ;charset=UTF-8'])
    assert.equal(isJsonContentType(t), true, t);
  for (const t of [undefined, '', 'text/plain', 'application/jsonx', 'application/merge-patch+json'])
    assert.equal(isJsonContentType(t), false, String(t));
  const a = handleAdmission('mutate-pods', '{not even json', 'text/plain', ctx());
  assert.equal(a.httpStatus, 415);
  assert.equal(a.outcome, 'invalid');
  assert.deepEqual(a.review.response!, {
    uid: '',
    allowed: false,
    status: { code: 415, message: 'content type must be application/json, got "text/plain"' },
  });
  assert.equal(
    handleAdmission('mutate-pods', '{}', undefined, ctx()).review.response?.status?.message,
    'content type must be application/json, got null',
  );
});

test('a labeled pod: 200, patched, the uid, its relay counted, one info line with the request identity and no body', () => {
  const req = podRequest(pod('basic'));
  const a = handleAdmission('mutate-pods', Buffer.from(body(req)), 'application/json', ctx());
  assert.equal(a.httpStatus, 200);
  assert.equal(a.outcome, 'patched');
  assert.equal(a.review.response?.uid, req.uid);
  assert.equal(a.review.response?.patchType, 'JSONPatch');
  assert.deepEqual(a.injected, ['kube-scheduler']);
  assert.deepEqual(a.denialReasons, []);
  assert.equal(a.logLevel, 'info');
  assert.equal(a.logMessage, 'sidecars injected');
  assert.deepEqual(a.logFields, {
    webhook: 'mutate-pods',
    uid: req.uid,
    kind: 'Pod',
    namespace: 'monitoring',
    name: 'prometheus',
    operation: 'CREATE',
    user: 'system:serviceaccount:kube-system:replicaset-controller',
    relays: ['kube-scheduler'],
  });
});

test('a denied pod counts each reason once and logs the message; an unlabeled pod is a debug line carrying the response', () => {
  const denied = handleAdmission('mutate-pods', body(podRequest(pod('port-clash'))), 'application/json', ctx());
  assert.equal(denied.outcome, 'denied');
  assert.deepEqual(denied.denialReasons, ['port-clash']);
  assert.equal(denied.logLevel, 'info');
  assert.equal(denied.logMessage, 'pod denied');
  assert.match(String(denied.logFields.message), /listens on port 10259\/TCP/);
  const plain = handleAdmission('mutate-pods', body(podRequest(pod('unlabeled'))), 'application/json', ctx());
  assert.equal(plain.outcome, 'allowed');
  assert.equal(plain.logLevel, 'debug');
  assert.deepEqual(plain.logFields.response, plain.review.response);
});

test('relays: an invalid one is denied (relay-invalid), a valid one allowed', () => {
  const bad = relayRequest({
    apiVersion: 'socat.io/v1alpha1',
    kind: 'Relay',
    metadata: { name: 'meta' },
    spec: { target: { host: '169.254.169.254', port: 80 }, consumers: { namespaces: ['a'] } },
  });
  const a = handleAdmission('validate-relays', body(bad), 'application/json', ctx());
  assert.deepEqual(
    [a.httpStatus, a.outcome, a.denialReasons, a.logMessage],
    [200, 'denied', ['relay-invalid'], 'relay denied'],
  );
  const good = handleAdmission(
    'validate-relays',
    body(relayRequest(catalog().get('kube-scheduler'))),
    'application/json',
    ctx(),
  );
  assert.deepEqual([good.httpStatus, good.outcome, good.denialReasons], [200, 'allowed', []]);
});

test('malformed input is a 400 AdmissionReview carrying the uid when readable, logged as a warning; bad JSON too', () => {
  const a = handleAdmission(
    'mutate-pods',
    JSON.stringify({ apiVersion: 'admission.k8s.io/v1', kind: 'Pod', request: { uid: 'u-8' } }),
    'application/json',
    ctx(),
  );
  assert.equal(a.httpStatus, 400);
  assert.deepEqual(a.review.response, {
    uid: 'u-8',
    allowed: false,
    status: { code: 400, message: 'kind must be AdmissionReview, got "Pod"' },
  });
  assert.deepEqual(
    [a.outcome, a.logLevel, a.logMessage, a.logFields.uid],
    ['invalid', 'warn', 'malformed AdmissionReview', 'u-8'],
  );
  const j = handleAdmission('mutate-pods', '{"apiVersion": ', 'application/json', ctx());
  assert.equal(j.httpStatus, 400);
  assert.match(String(j.review.response?.status?.message), /^the body is not valid JSON: /);
  assert.equal(handleAdmission('mutate-pods', undefined, 'application/json', ctx()).httpStatus, 400, 'no body at all');
});

test('a decision that throws is a 200 with status.code 500 and the uid, an error line with the error, outcome error', () => {
  const throwing = {
    ...ctx(),
    catalog: Object.assign(catalog(), {
      get: () => {
        throw new Error('boom');
      },
    }),
  };
  const req = podRequest(pod('basic'));
  const a = handleAdmission('mutate-pods', body(req), 'application/json', throwing);
  assert.equal(a.httpStatus, 200);
  assert.deepEqual(a.review.response, {
    uid: req.uid,
    allowed: false,
    status: { code: 500, message: 'internal error: boom' },
  });
  assert.deepEqual([a.outcome, a.logLevel, a.logMessage], ['error', 'error', 'admission handler failed']);
  assert.equal((a.logFields.err as Error).message, 'boom');
});
