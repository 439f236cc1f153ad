// MetricsAuthorizer's decisions and its cache, with a counting reviewer (the real API server's
// answers are in metrics-auth.test.ts): one review per token per TTL, errors never cached.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MetricsAuthorizer, type Reviewer } from '../../../webhook/metrics-auth.js';

function reviewer(
  users: Record<string, { name: string; allowed: boolean }>,
  fail?: { authn?: boolean; authz?: boolean },
) {
  const calls = { authn: 0, authz: 0 };
  const r: Reviewer = {
    async authenticate(token) {
      calls.authn++;
      if (fail?.authn) throw new Error('connection refused');
      const u = users[token];
      return u ? { username: u.name, groups: ['system:authenticated'] } : undefined;
    },
    async authorize(user, verb, path) {
      calls.authz++;
      if (fail?.authz) throw new Error('timeout');
      assert.deepEqual([verb, path], ['get', '/metrics']);
      return Object.values(users).find((u) => u.name === user.username)!.allowed
        ? { allowed: true }
        : { allowed: false, reason: 'no RBAC rule' };
    },
  };
  return { r, calls };
}

test('header forms: missing, not Bearer, empty → 401 without asking the API server', async () => {
  const { r, calls } = reviewer({});
  const a = new MetricsAuthorizer(r);
  for (const h of [undefined, '', 'Basic dXNlcjpwdw==', 'Bearer', 'Bearer a b'])
    assert.equal((await a.check(h, '/metrics')).code, 401, String(h));
  assert.deepEqual(calls, { authn: 0, authz: 0 });
});

test('200 for an allowed user, 403 with the reason otherwise, 401 for an unknown token', async () => {
  const { r } = reviewer({ good: { name: 'prom', allowed: true }, bad: { name: 'eve', allowed: false } });
  const a = new MetricsAuthorizer(r);
  assert.deepEqual(await a.check('Bearer good', '/metrics'), { code: 200, user: 'prom' });
  const denied = await a.check('bearer bad', '/metrics');
  assert.equal(denied.code, 403);
  assert.match((denied as { message: string }).message, /^eve may not get \/metrics: no RBAC rule/);
  assert.equal((await a.check('Bearer nobody', '/metrics')).code, 401);
});

test('answers are cached per token for the TTL, then asked again; the cache is bounded', async () => {
  let now = 0;
  const { r, calls } = reviewer({ good: { name: 'prom', allowed: true }, bad: { name: 'eve', allowed: false } });
  const a = new MetricsAuthorizer(r, { ttlMs: 1000, now: () => now, maxEntries: 2 });
  for (let i = 0; i < 5; i++) await a.check('Bearer good', '/metrics');
  assert.deepEqual(calls, { authn: 1, authz: 1 });
  now = 1001;
  await a.check('Bearer good', '/metrics');
  assert.deepEqual(calls, { authn: 2, authz: 2 });
  await a.check('Bearer bad', '/metrics');
  await a.check('Bearer other', '/metrics');
  await a.check('Bearer good', '/metrics'); // pushed out by the two others (max 2)
  assert.equal(calls.authn, 5);
});

test('an API error is a 500 naming the review, and is not cached', async () => {
  const down = reviewer({ good: { name: 'prom', allowed: true } }, { authn: true });
  const a = new MetricsAuthorizer(down.r);
  const v = await a.check('Bearer good', '/metrics');
  assert.deepEqual([v.code, (v as { message: string }).message], [500, 'TokenReview failed: connection refused']);
  await a.check('Bearer good', '/metrics');
  assert.equal(down.calls.authn, 2, 'asked again');
  const sar = reviewer({ good: { name: 'prom', allowed: true } }, { authz: true });
  assert.match(
    ((await new MetricsAuthorizer(sar.r).check('Bearer good', '/metrics')) as { message: string }).message,
    /SubjectAccessReview failed: timeout/,
  );
});
