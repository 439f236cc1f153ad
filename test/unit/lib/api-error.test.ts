// lib/api-error.ts: the one reading of a failed API call's HTTP status (client-node's ApiException).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ApiException } from '@kubernetes/client-node';
import { apiStatus, isConflict, isNotFound, unlessNotFound } from '../../../lib/api-error.js';

const apiError = (code: number) => new ApiException(code, `HTTP ${code}`, { kind: 'Status', code }, {});

test('apiStatus reads the HTTP status of an ApiException and nothing else', () => {
  assert.equal(apiStatus(apiError(404)), 404);
  assert.equal(apiStatus(apiError(409)), 409);
  assert.equal(apiStatus(Object.assign(new Error('refused'), { code: 'ECONNREFUSED' })), undefined);
  assert.equal(apiStatus(new Error('plain')), undefined);
  assert.equal(apiStatus(undefined), undefined);
  assert.equal(apiStatus(null), undefined);
  assert.equal(apiStatus('a string'), undefined);
});

test('isNotFound / isConflict', () => {
  assert.equal(isNotFound(apiError(404)), true);
  assert.equal(isNotFound(apiError(409)), false);
  assert.equal(isConflict(apiError(409)), true);
  assert.equal(isConflict(apiError(500)), false);
});

test('unlessNotFound: the result, undefined for a 404, any other failure thrown', async () => {
  assert.deepEqual(await unlessNotFound(Promise.resolve({ a: 1 })), { a: 1 });
  assert.equal(await unlessNotFound(Promise.reject(apiError(404))), undefined);
  await assert.rejects(unlessNotFound(Promise.reject(apiError(403))), (e) => apiStatus(e) === 403);
  await assert.rejects(unlessNotFound(Promise.reject(new Error('network'))), /network/);
});
