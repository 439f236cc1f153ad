// webhook/admission/diff.ts is fast-json-patch's compare without the deep clones: the same ops, in the
// same order, byte for byte once serialised — on generated documents (edits that replace, remove and
// add keys and array items, type changes, keys needing escapes, subtrees shared with the original as
// the injector's copy-on-write shares them) and on a real injection.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import fjp from 'fast-json-patch';
import { diffPatch } from '../../../../webhook/admission/diff.js';
import { patchJson, rememberJson } from '../../../../webhook/admission/json.js';

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

const key = fc.constantFrom('a', 'b', 'c', 'x/y', 'm~n', '0', '1', '');
const leaf = fc.oneof(fc.constant(null), fc.boolean(), fc.integer({ min: -3, max: 3 }), fc.constantFrom('', 's', 't'));
const json: fc.Arbitrary<Json> = fc.letrec<{ v: Json }>((tie) => ({
  v: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    leaf,
    fc.array(tie('v'), { maxLength: 4 }),
    fc.dictionary(key, tie('v'), { maxKeys: 5 }),
  ),
})).v;

type Gen = fc.GeneratorValue;

/** An edited copy of `v`: copy-on-write along random paths, everything else shared with `v`. */
function edit(v: Json, g: Gen, depth = 0): Json {
  const roll = g(fc.integer, { min: 0, max: 9 });
  if (roll === 0) return g(() => json);
  if (typeof v !== 'object' || v === null) return roll < 3 ? g(() => json) : v;
  const pick = (n: number) => g(fc.integer, { min: 0, max: n - 1 });
  if (Array.isArray(v)) {
    const out = [...v];
    if (out.length > 0 && g(fc.boolean)) out.splice(pick(out.length), 1);
    if (g(fc.boolean)) out.push(g(() => json));
    if (out.length > 0 && depth < 6) {
      const i = pick(out.length);
      out[i] = edit(out[i]!, g, depth + 1);
    }
    return out;
  }
  const out: Record<string, Json> = { ...v };
  const keys = Object.keys(out);
  if (keys.length > 0 && g(fc.boolean)) delete out[keys[pick(keys.length)]!];
  if (g(fc.boolean)) out[g(() => key)] = g(() => json);
  const left = Object.keys(out);
  if (left.length > 0 && depth < 6) {
    const k = left[pick(left.length)]!;
    out[k] = edit(out[k]!, g, depth + 1);
  }
  return out;
}

const serialised = (ops: unknown) => JSON.stringify(ops);

test('diffPatch writes the same patch as fast-json-patch compare (generated documents and copy-on-write edits)', () => {
  fc.assert(
    fc.property(fc.dictionary(key, json, { maxKeys: 6 }), fc.gen(), (before, g) => {
      const after = edit(before, g) as object;
      if (typeof after !== 'object' || after === null) return;
      const frozen = JSON.stringify(before);
      const ops = diffPatch(before, after);
      assert.equal(serialised(ops), serialised(fjp.compare(before, after)));
      assert.equal(patchJson(ops), serialised(ops), 'patchJson writes what JSON.stringify writes');
      assert.equal(JSON.stringify(before), frozen, 'the original is not touched');
    }),
    { numRuns: 2000 },
  );
});

test('diffPatch on an injection: added annotation, containers, volumes and affinity, shared subtrees skipped', () => {
  const before = {
    metadata: { name: 'p', labels: { 'socat.io/consume': 'a' }, annotations: { 'x/y': '1' } },
    spec: {
      containers: [{ name: 'app', ports: [{ containerPort: 80 }] }],
      volumes: [{ name: 'v', emptyDir: {} }],
      affinity: { podAntiAffinity: {} },
    },
  };
  const after = {
    ...before,
    metadata: { ...before.metadata, annotations: { ...before.metadata.annotations, 'socat.io/injected': 'a' } },
    spec: {
      ...before.spec,
      initContainers: [{ name: 'socat-a', command: ['socat'], resources: undefined }],
      volumes: [
        ...before.spec.volumes,
        { name: 'socat-a', hostPath: { path: '/run/socat-relay/a', type: 'DirectoryOrCreate' } },
      ],
      affinity: {
        podAntiAffinity: {},
        nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [] } },
      },
    },
  };
  const ops = diffPatch(before, after);
  assert.equal(serialised(ops), serialised(fjp.compare(before, after)));
  assert.deepEqual(
    ops.map((o) => `${o.op} ${o.path}`),
    [
      'add /spec/affinity/nodeAffinity',
      'add /spec/volumes/1',
      'add /spec/initContainers',
      'add /metadata/annotations/socat.io~1injected',
    ],
  );
});

test('patchJson splices remembered values and writes exactly JSON.stringify(ops) for every op shape', () => {
  const sidecar = rememberJson(
    Object.freeze({ name: 'socat-a', command: Object.freeze(['socat', '-d']), resources: undefined }),
  );
  const volume = rememberJson(
    Object.freeze({
      name: 'socat-a',
      hostPath: Object.freeze({ path: '/run/socat-relay/a', type: 'DirectoryOrCreate' }),
    }),
  );
  const own = { name: 'init', image: 'busybox', 'we/ird~': '\u2028"' };
  const shapes: fjp.Operation[][] = [
    [{ op: 'add', path: '/spec/initContainers', value: [sidecar, own, undefined, [sidecar]] as never }],
    [
      { op: 'add', path: '/spec/volumes/3', value: volume },
      { op: 'replace', path: '/spec/initContainers/0', value: sidecar },
    ],
    [
      { op: 'remove', path: '/metadata/annotations/a~1b' },
      { op: 'replace', path: '/x', value: null },
      { op: 'replace', path: '/y', value: 'é"\n' },
    ],
    [
      { op: 'move', from: '/a', path: '/b' },
      { op: 'test', path: '/c', value: { k: [1, 2] } },
      { path: '/d', op: 'add', value: 1 } as never,
    ],
    [
      { op: 'add', path: '/z', value: undefined } as never,
      { op: 'add', path: '/n', value: { nested: sidecar, list: [volume] } },
    ],
  ];
  for (const ops of shapes) assert.equal(patchJson(ops), JSON.stringify(ops));
});
