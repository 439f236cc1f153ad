// The spelling table (spellings.ts) against relay/validate.ts, and against the CRD's CEL rules on a
// real kube-apiserver (no webhook registered): both must give every spelling the same verdict.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { validateRelay } from '../../relay/index.js';
import {
  ApiError,
  installCrds,
  skipUnlessControlPlane,
  startControlPlane,
  type ControlPlane,
  type KubeObject,
} from '../harness/index.js';
import { required } from '../harness/required.js';
import { SPELLINGS, type Spelling } from './spellings.js';

function relayWith(s: Spelling, i: number): KubeObject & { spec: Record<string, any> } {
  const r = {
    apiVersion: 'socat.io/v1alpha1',
    kind: 'Relay',
    metadata: { name: `spelling-${i}` },
    spec: { target: { host: '127.0.0.1', port: 10259 }, consumers: { namespaces: ['monitoring'] } } as Record<
      string,
      any
    >,
  };
  if (s.field === 'target.host') r.spec.target.host = s.value;
  else r.spec.listen = { address: s.value };
  return r;
}
const label = (s: Spelling) => `${s.field} ${JSON.stringify(s.value)} ${s.accepted ? 'accepted' : 'refused'}`;

SPELLINGS.forEach((s, i) => {
  test(`validateRelay: ${label(s)}`, () => {
    const v = validateRelay(relayWith(s, i));
    if (s.accepted) assert.deepEqual(v.problems, []);
    else
      assert.ok(
        v.problems.some((p) => p.field === `spec.${s.field}`),
        JSON.stringify(v.problems),
      );
  });
});

const skip = required(skipUnlessControlPlane() || null);

describe('the CRD on a real API server', () => {
  let cp: ControlPlane | undefined;
  before(async () => {
    if (skip) return;
    cp = await startControlPlane();
    await installCrds(cp.client);
  });
  after(async () => {
    await cp?.stop();
  });
  SPELLINGS.forEach((s, i) => {
    test(`CRD: ${label(s)}`, { skip }, async () => {
      const err = await cp!.client.create(relayWith(s, i), { dryRun: true }).then(
        () => undefined,
        (e: unknown) => e,
      );
      if (s.accepted) assert.equal(err, undefined, String(err));
      else {
        assert.ok(err instanceof ApiError, `the CRD accepted ${JSON.stringify(s.value)}`);
        assert.equal(err.status, 422);
        assert.match(err.message, new RegExp(`spec\\.${s.field.replace('.', '\\.')}`));
      }
    });
  });
});
