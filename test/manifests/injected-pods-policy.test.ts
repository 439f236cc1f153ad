// The injected-pods ValidatingAdmissionPolicy (manifests/policy/injected-pods.yaml) evaluated in CEL
// here, on the same tables the real API server runs in test/apiserver/ (attacks.test.ts,
// bindings.test.ts): Bindings (pods/binding and the bindings resource), whose annotations
// the API server copies onto the pod, and the metadata UPDATEs of a stored consumer.
import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, test } from 'node:test';
import { BINDING_CASES, bindingFor, injectedPod, METADATA_CASES, type Expect } from '../harness/attacks.js';
import { loadManifests, MANIFESTS, type KubeObject } from '../harness/manifest-load.js';
import { judgePolicy, type PolicyVerdict } from '../harness/policy.js';

const vap: KubeObject = loadManifests(path.join(MANIFESTS, 'policy'))
  .map((l) => l.object)
  .find((o) => o.kind === 'ValidatingAdmissionPolicy' && o.metadata.name === 'socat-relay-injected-pods')!;

const POD_KIND = { group: '', version: 'v1', kind: 'Pod' };
const BINDING_KIND = { group: '', version: 'v1', kind: 'Binding' };

function expectVerdict(v: PolicyVerdict, want: Expect, what: string): void {
  assert.equal(v.matched, true, `${what}: the policy must judge it`);
  if (want === 'allowed') assert.equal(v.denied, undefined, `${what}: denied: ${v.denied}`);
  else assert.match(v.denied ?? '(allowed)', want, what);
}

/** RFC 7386 JSON merge patch (what `kubectl patch --type merge` sends). */
function mergePatch(target: unknown, patch: unknown): unknown {
  if (patch === null || typeof patch !== 'object' || Array.isArray(patch)) return patch;
  const out: Record<string, unknown> =
    target !== null && typeof target === 'object' && !Array.isArray(target)
      ? { ...(target as Record<string, unknown>) }
      : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

describe('Bindings: the API server copies their annotations onto the pod', () => {
  for (const c of BINDING_CASES) {
    test(`${c.name} (${c.via}) → ${c.policy === 'allowed' ? 'admitted' : 'denied'}`, () => {
      const request = {
        operation: 'CREATE',
        kind: BINDING_KIND,
        resource: { group: '', version: 'v1', resource: c.via === 'bindings' ? 'bindings' : 'pods' },
        ...(c.via === 'pods/binding' ? { subResource: 'binding' } : {}),
      };
      expectVerdict(
        judgePolicy(vap, { object: bindingFor(c, 'consumer', 'node-a'), oldObject: null, request }),
        c.policy,
        c.name,
      );
    });
  }
  test('the policy matches CREATE of pods/binding and bindings, and nothing else is CREATE', () => {
    const rules = vap.spec.matchConstraints.resourceRules as { operations: string[]; resources: string[] }[];
    const creates = rules
      .filter((r) => r.operations.includes('CREATE'))
      .flatMap((r) => r.resources)
      .sort();
    assert.deepEqual(creates, ['bindings', 'pods/binding']);
  });
});

describe('metadata UPDATEs of a stored consumer (unchanged by the Binding rule)', () => {
  const stored = injectedPod('csi', 'stored');
  for (const c of METADATA_CASES) {
    test(`${c.name} → ${c.policy === 'allowed' ? 'admitted' : 'denied'}`, () => {
      const request = {
        operation: 'UPDATE',
        kind: POD_KIND,
        resource: { group: '', version: 'v1', resource: 'pods' },
        ...(c.via ? { subResource: c.via } : {}),
      };
      expectVerdict(
        judgePolicy(vap, { object: mergePatch(stored, c.patch), oldObject: stored, request }),
        c.policy,
        c.name,
      );
    });
  }
  test('a pod without socat-* volumes is not judged; a mirror pod is not judged', () => {
    const request = { operation: 'UPDATE', kind: POD_KIND, resource: { group: '', version: 'v1', resource: 'pods' } };
    const plain = {
      metadata: { name: 'x', labels: { 'socat.io/consume': 'sched' } },
      spec: { containers: [{ name: 'a' }] },
    };
    assert.deepEqual(judgePolicy(vap, { object: plain, oldObject: plain, request }), { matched: false });
    const mirror = mergePatch(injectedPod('csi', 'm'), {
      metadata: { annotations: { 'kubernetes.io/config.mirror': 'x' } },
    });
    assert.deepEqual(judgePolicy(vap, { object: mirror, oldObject: mirror, request }), { matched: false });
  });
});
