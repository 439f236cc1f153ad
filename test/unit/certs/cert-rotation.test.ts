// certs/rotation.ts: what the self-managed certificates' loop does at each moment of a CA's and a
// serving certificate's life, on real certificates made with short lifetimes at chosen times.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { makeCA, makeLeaf, type KeyPair } from '../../../certs/selfsigned.js';
import { bundleHolds, planRotation, splitPem, trustedBundle, type StoredCerts } from '../../../certs/rotation.js';

const T0 = Date.parse('2026-01-01T00:00:00Z');
const S = 1000;
const HOSTS = ['socat-relay-webhook.socat-relay-system.svc', '127.0.0.1'];
const policy = { caLifetimeMs: 600 * S, servingLifetimeMs: 120 * S, hosts: HOSTS };
const leaf = (ca: KeyPair, now: number, o: { hosts?: string[]; lifetimeMs?: number } = {}) =>
  makeLeaf(ca, {
    commonName: HOSTS[0]!,
    hosts: o.hosts ?? HOSTS,
    usage: 'server',
    lifetimeMs: o.lifetimeMs ?? policy.servingLifetimeMs,
    now,
  });

describe('planRotation', () => {
  test('nothing stored: a new CA and a serving certificate', () => {
    const plan = planRotation({}, [], T0, policy);
    assert.deepEqual([plan.ca, plan.next, plan.serving], ['new', 'keep', 'issue']);
    assert.match(plan.reasons.join('\n'), /no CA yet/);
  });

  test('a fresh CA and serving certificate: nothing to do', async () => {
    const ca = await makeCA('ca', { lifetimeMs: policy.caLifetimeMs, now: T0 });
    const stored: StoredCerts = { ca, serving: await leaf(ca, T0), trusted: ca.cert };
    const plan = planRotation(stored, [ca.cert], T0 + 10 * S, policy);
    assert.deepEqual([plan.ca, plan.next, plan.serving, plan.reasons], ['keep', 'keep', 'keep', []]);
  });

  test('the serving certificate: renewed when a third of it is left, or not for every host, or not signed by the CA, or garbage', async () => {
    const ca = await makeCA('ca', { lifetimeMs: policy.caLifetimeMs, now: T0 });
    const other = await makeCA('other', { lifetimeMs: policy.caLifetimeMs, now: T0 });
    const cases: [string, StoredCerts['serving'], number, RegExp | undefined][] = [
      ['two thirds left', await leaf(ca, T0), T0 + 30 * S, undefined],
      ['a third left', await leaf(ca, T0), T0 + 82 * S, /expires in/],
      ['expired', await leaf(ca, T0), T0 + 200 * S, /not valid now/],
      ['another host list', await leaf(ca, T0, { hosts: [HOSTS[0]!] }), T0 + S, /not valid for 127\.0\.0\.1/],
      ['signed by another CA', await leaf(other, T0), T0 + S, /not signed by the CA/],
      ['longer than the setting', await leaf(ca, T0, { lifetimeMs: 300 * S }), T0 + S, /outlives/],
      [
        'a key of another certificate',
        { cert: (await leaf(ca, T0)).cert, key: (await leaf(ca, T0)).key },
        T0 + S,
        /do not match/,
      ],
      ['garbage', { cert: 'x', key: 'y' }, T0 + S, /unreadable/],
    ];
    for (const [name, serving, now, want] of cases) {
      const plan = planRotation({ ca, serving, trusted: ca.cert }, [ca.cert], now, policy);
      assert.equal(plan.ca, 'keep', name);
      if (!want) assert.equal(plan.serving, 'keep', `${name}: ${plan.reasons.join('; ')}`);
      else {
        assert.equal(plan.serving, 'issue', name);
        assert.match(plan.reasons.join('\n'), want, name);
      }
    }
  });

  test('the CA: a next CA when a third is left; it signs when a sixth is left, once every caBundle holds it for the overlap', async () => {
    const ca = await makeCA('ca', { lifetimeMs: policy.caLifetimeMs, now: T0 });
    const at = (s: number) => T0 + s * S;
    const serving = await leaf(ca, at(380));
    // 2/3 of 600 s gone (+ the notBefore backdate of a tenth): a next CA.
    let plan = planRotation({ ca, serving, trusted: ca.cert }, [ca.cert], at(390), policy);
    assert.deepEqual([plan.ca, plan.next, plan.serving], ['keep', 'new', 'keep']);

    const next = await makeCA('next', { lifetimeMs: policy.caLifetimeMs, now: at(390) });
    const both = trustedBundle([ca.cert, next.cert], at(390));
    const stored: StoredCerts = { ca, next, nextSince: at(390), trusted: both, serving };
    // Trusted, but more than a sixth of the CA is left: the CA still signs.
    plan = planRotation(stored, [both, both], at(450), policy);
    assert.deepEqual([plan.ca, plan.next], ['keep', 'keep']);
    // A sixth left, but one webhook entry does not hold the next CA: wait.
    plan = planRotation({ ...stored, serving: await leaf(ca, at(500)) }, [both, ca.cert], at(505), policy);
    assert.deepEqual([plan.ca, plan.next, plan.serving], ['keep', 'keep', 'keep']);
    // A sixth left and every entry holds it: the next CA signs, the serving certificate follows.
    plan = planRotation(stored, [both, both], at(505), policy);
    assert.deepEqual([plan.ca, plan.next, plan.serving], ['promote', 'drop', 'issue']);
    // The next CA made late (the controller was down): it waits the overlap (a sixth of the CA's life, 110 s here).
    plan = planRotation({ ...stored, nextSince: at(500) }, [both, both], at(540), policy);
    assert.equal(plan.ca, 'keep');
    // The CA expired meanwhile: the next CA signs at once (nothing could be served anyway).
    plan = planRotation({ ...stored, nextSince: at(590) }, [both], at(601), policy);
    assert.deepEqual([plan.ca, plan.serving], ['promote', 'issue']);
  });

  test('an expired CA without a next one, or a CA key that does not match: a new CA', async () => {
    const ca = await makeCA('ca', { lifetimeMs: policy.caLifetimeMs, now: T0 });
    const other = await makeCA('other', { lifetimeMs: policy.caLifetimeMs, now: T0 });
    assert.equal(planRotation({ ca }, [], T0 + 700 * S, policy).ca, 'new');
    assert.equal(planRotation({ ca: { cert: ca.cert, key: other.key } }, [], T0 + S, policy).ca, 'new');
    assert.equal(
      planRotation({ ca: { cert: (await leaf(ca, T0)).cert, key: (await leaf(ca, T0)).key } }, [], T0 + S, policy).ca,
      'new',
    );
  });
});

describe('trustedBundle', () => {
  test('every unexpired CA once, oldest first; leaves, expired CAs and garbage out', async () => {
    const a = await makeCA('a', { lifetimeMs: 200 * S, now: T0 });
    const b = await makeCA('b', { lifetimeMs: 600 * S, now: T0 + 100 * S });
    const l = await leaf(b, T0 + 100 * S);
    const bundle = trustedBundle([b.cert, a.cert, 'junk', l.cert, b.cert], T0 + 150 * S);
    assert.equal(splitPem(bundle).length, 2);
    assert.ok(bundleHolds(splitPem(bundle)[0]!, a.cert), 'the older CA first');
    assert.ok(bundleHolds(bundle, b.cert) && !bundleHolds(bundle, l.cert));
    assert.equal(splitPem(trustedBundle([a.cert, b.cert], T0 + 250 * S)).length, 1, 'an expired CA goes');
  });
});
