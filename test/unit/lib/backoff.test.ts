// lib/backoff.ts: the one retry rule (failures counted from 1) and the failure counter every retrying loop keeps.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Backoff, retryDelay } from '../../../lib/backoff.js';

test('retryDelay: the first failure waits initialMs, each next one twice as long, capped at maxMs', () => {
  const b = { initialMs: 500, maxMs: 30_000 };
  assert.deepEqual(
    [1, 2, 3, 4, 7, 8, 100, 5000].map((n) => retryDelay(n, b)),
    [500, 1000, 2000, 4000, 30_000, 30_000, 30_000, 30_000],
  );
  assert.equal(retryDelay(0, b), 500, 'a count below 1 is the first failure');
});

test('Backoff: fail() counts and returns the delay; reset() starts over at initialMs', () => {
  const b = new Backoff({ initialMs: 250, maxMs: 1000 });
  assert.equal(b.failures, 0);
  assert.deepEqual([b.fail(), b.fail(), b.fail(), b.fail()], [250, 500, 1000, 1000]);
  assert.equal(b.failures, 4);
  b.reset();
  assert.equal(b.failures, 0);
  assert.equal(b.fail(), 250);
});

test('Backoff: a policy function gets the failure count from 1', () => {
  const seen: number[] = [];
  const b = new Backoff((n) => {
    seen.push(n);
    return n * 10;
  });
  assert.deepEqual([b.fail(), b.fail(), b.fail()], [10, 20, 30]);
  assert.deepEqual(seen, [1, 2, 3]);
});

test('Backoff: failAfterRun starts over after a healthy run (resetAfterMs), counts on after a short one', () => {
  const b = new Backoff({ initialMs: 100, maxMs: 10_000, resetAfterMs: 5000 });
  assert.deepEqual([b.failAfterRun(10), b.failAfterRun(4999), b.failAfterRun(0)], [100, 200, 400]);
  assert.equal(b.failAfterRun(5000), 100);
  assert.equal(b.failures, 1);
  const noReset = new Backoff({ initialMs: 100, maxMs: 10_000 });
  noReset.failAfterRun(60_000);
  assert.equal(noReset.failAfterRun(60_000), 200, 'without resetAfterMs every end counts');
});
