// Bindings on a real kube-apiserver, with the ValidatingAdmissionPolicies of manifests/policy alone:
// `POST pods/<name>/binding` (what the scheduler sends) and the older `POST bindings` set a pod's node
// and copy the Binding's metadata.annotations onto the pod — past the policy's UPDATE rules, since the
// object admitted is the Binding. A Binding carrying socat.io/* annotations (or the mirror annotation)
// is refused and leaves the pod as it was; a plain one still binds the pod. The same table is
// evaluated in CEL in test/manifests/injected-pods-policy.test.ts.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  ApiError,
  applyAll,
  readManifests,
  skipUnlessControlPlane,
  startControlPlane,
  waitUntilWebhookCalled,
  type ControlPlane,
  type KubeObject,
} from '../harness/index.js';
import type { RawPod } from '../../webhook/admission/index.js';
import { INJECTED_ANNOTATION } from '../../relay/index.js';
import {
  BINDING_CASES,
  bindingFor,
  injectedPod,
  NAMESPACE,
  plainPod,
  type BindingCase,
  type Expect,
} from '../harness/attacks.js';
import { required } from '../harness/required.js';

const skip = required(skipUnlessControlPlane() || null);
const NODE = 'node-a';

async function verdict(p: Promise<unknown>): Promise<{ allowed: boolean; message: string }> {
  try {
    await p;
    return { allowed: true, message: '' };
  } catch (err) {
    if (!(err instanceof ApiError)) throw err;
    return { allowed: false, message: err.message };
  }
}

function judge(v: { allowed: boolean; message: string }, expect: Expect, who: string): void {
  if (expect === 'allowed') assert.equal(v.allowed, true, `${who} denied: ${v.message}`);
  else {
    assert.equal(v.allowed, false, `${who} allowed it`);
    assert.match(v.message, expect);
  }
}

describe('Bindings on a real API server (the policies alone)', () => {
  let cp: ControlPlane | undefined;
  const api = () => cp!.client;
  const bind = (c: BindingCase, pod: string, dryRun: boolean) =>
    api().request(
      'POST',
      c.via === 'bindings'
        ? `/api/v1/namespaces/${NAMESPACE}/bindings`
        : `/api/v1/namespaces/${NAMESPACE}/pods/${pod}/binding`,
      { body: bindingFor(c, pod, NODE), query: { dryRun: dryRun ? 'All' : undefined } },
    );
  const getPod = async (name: string) => await api().get<RawPod>('v1', 'Pod', name, NAMESPACE);

  before(async () => {
    if (skip) return;
    cp = await startControlPlane({ namespaces: [NAMESPACE] });
    await applyAll(api(), readManifests('policy'));
    await waitUntilWebhookCalled(
      'the policy',
      async () => !(await verdict(api().create(plainPod('probe') as KubeObject, { dryRun: true }))).allowed,
    );
    // A consumer as the webhook stores it; no scheduler runs here, so it waits unbound.
    await api().create(injectedPod('csi', 'consumer') as KubeObject);
  });
  after(async () => {
    await cp?.stop();
  });

  for (const c of BINDING_CASES) {
    test(`${c.name} (${c.via}, dry run) → ${c.policy === 'allowed' ? 'bound' : 'denied'}`, { skip }, async () => {
      judge(await verdict(bind(c, 'consumer', true)), c.policy, 'the policy');
    });
  }

  test(
    'for real: a Binding that rewrites the marker is refused and leaves the pod unbound and unchanged; a plain Binding then binds it',
    { skip },
    async () => {
      const before = await getPod('consumer');
      const attack = BINDING_CASES.find(
        (c) => c.via === 'pods/binding' && c.annotations?.[INJECTED_ANNOTATION] !== undefined,
      )!;
      judge(await verdict(bind(attack, 'consumer', false)), attack.policy, 'the policy');
      const still = await getPod('consumer');
      assert.equal(still.spec?.nodeName, undefined, 'not bound');
      assert.equal(
        still.metadata?.annotations?.[INJECTED_ANNOTATION],
        before.metadata?.annotations?.[INJECTED_ANNOTATION],
        'the marker is as the webhook wrote it',
      );

      await bind({ name: 'plain', via: 'pods/binding', policy: 'allowed' }, 'consumer', false);
      const bound = await getPod('consumer');
      assert.equal(bound.spec?.nodeName, NODE);
      assert.deepEqual(
        bound.metadata?.annotations,
        before.metadata?.annotations,
        'a plain Binding changes no annotation',
      );
    },
  );
});
