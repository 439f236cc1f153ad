// The structural walker (relay/structure.ts) that validateRelay runs over the CRD's schema before its
// semantic checks: every rule of the schema at every level gives exactly one problem naming the field;
// a field added to the schema is checked without touching relay/validate.ts; hostile input of any
// shape never throws, never pollutes a prototype, and long keys are cut in the field name.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { RELAY_SPEC_SCHEMA } from '../../../relay/schema.generated.js';
import { checkStructure, inFieldOrder, type StructuralSchema } from '../../../relay/structure.js';
import { validateRelay } from '../../../relay/validate.js';

type Obj = Record<string, any>;
type Key = string | number;

/** A valid relay that sets every field of the schema (the level test below needs a value at each). */
const full = (): Obj => ({
  apiVersion: 'socat.io/v1alpha1',
  kind: 'Relay',
  metadata: { name: 'full' },
  spec: {
    protocol: 'UDP',
    target: { host: '127.0.0.1', port: 53 },
    listen: { port: 5353, address: '127.0.0.1' },
    udp: { mode: 'RequestReply', replyTimeoutSeconds: 5 },
    nodeSelector: { 'kubernetes.io/os': 'linux' },
    consumers: {
      namespaces: ['monitoring'],
      namespaceSelector: {
        matchLabels: { team: 'obs' },
        matchExpressions: [{ key: 'tier', operator: 'In', values: ['a'] }],
      },
    },
    sidecar: { resources: { requests: { cpu: '5m' }, limits: { memory: '32Mi' } } },
  },
});

interface Node {
  schema: StructuralSchema;
  keys: Key[];
  field: string;
}

/** Every place of the schema with the keys that reach it in `full()`; throws where full() lacks a value. */
function schemaNodes(s: StructuralSchema, value: unknown, keys: Key[], field: string, out: Node[] = []): Node[] {
  assert.ok(value !== undefined, `full() has no value for ${field}: add one`);
  out.push({ schema: s, keys, field });
  for (const [k, sub] of Object.entries(s.properties ?? {}))
    schemaNodes(sub, (value as Obj)[k], [...keys, k], `${field}.${k}`, out);
  if (s.items) schemaNodes(s.items, (value as unknown[])[0], [...keys, 0], `${field}[0]`, out);
  if (typeof s.additionalProperties === 'object') {
    const k = Object.keys(value as Obj)[0]!;
    schemaNodes(s.additionalProperties, (value as Obj)[k], [...keys, k], `${field}.${k}`, out);
  }
  return out;
}

function edited(keys: Key[], edit: (parent: Obj, last: Key) => void): Obj {
  const r = full();
  const parent = keys.slice(0, -1).reduce<Obj>((o, k) => o[k], r);
  edit(parent, keys.at(-1)!);
  return r;
}

/** Values that break one rule of `s` each: [what, value]. */
function breakers(s: StructuralSchema, current: unknown): [string, unknown][] {
  const out: [string, unknown][] = [];
  const types = s.type ? [s.type] : (s.anyOf ?? []).map((b) => b.type);
  if (!types.includes('string')) out.push(['a string for a non-string', 'x']);
  if (!types.includes('integer')) out.push(['a number for a non-number', 42]);
  if (types.includes('integer')) out.push(['a fraction for an integer', 1.5]);
  if (!types.includes('object') && !types.includes('array')) out.push(['an object for a scalar', { a: 1 }]);
  if (s.enum) out.push(['a value outside the enum', 'Bogus']);
  if (s.minimum !== undefined) out.push(['below the minimum', s.minimum - 1]);
  if (s.maximum !== undefined) out.push(['above the maximum', s.maximum + 1]);
  if (s.minLength) out.push(['shorter than minLength', '']);
  if (s.maxLength !== undefined) out.push(['longer than maxLength', 'a'.repeat(s.maxLength + 1)]);
  if (s.pattern) out.push(['not matching the pattern', '-!-']);
  if (s.maxProperties !== undefined) {
    const v = Object.values(current as Obj)[0];
    out.push([
      'more entries than maxProperties',
      Object.fromEntries(Array.from({ length: s.maxProperties + 1 }, (_, i) => [`not a key ${i}`, v])),
    ]);
  }
  return out;
}

const nodes = schemaNodes(RELAY_SPEC_SCHEMA, full().spec, ['spec'], 'spec');

test('full() is valid and reaches every place of the schema', () => {
  assert.deepEqual(validateRelay(full()).problems, []);
  assert.ok(nodes.length > 25, `${nodes.length} places`);
});

for (const n of nodes) {
  test(`${n.field}: each broken rule of the schema gives exactly one problem, on that field`, () => {
    const current = n.keys.reduce<any>((o, k) => o[k], full());
    const cases = breakers(n.schema, current);
    assert.ok(cases.length > 0);
    for (const [what, bad] of cases) {
      const problems = validateRelay(
        edited(n.keys, (p, k) => {
          p[k] = bad;
        }),
      ).problems;
      assert.equal(problems.length, 1, `${what}: ${JSON.stringify(problems)}`);
      assert.equal(problems[0]!.field, n.field, what);
    }
  });
  for (const r of n.schema.required ?? []) {
    test(`${n.field}.${r} missing: exactly one problem, "required"`, () => {
      const problems = validateRelay(
        edited([...n.keys, r], (p, k) => {
          delete p[k];
        }),
      ).problems;
      assert.deepEqual(problems, [{ field: `${n.field}.${r}`, message: 'required' }]);
    });
  }
  if (n.schema.properties) {
    test(`${n.field}: an unknown field is exactly one problem listing the allowed ones`, () => {
      const problems = validateRelay(
        edited([...n.keys, 'notInTheCrd'], (p, k) => {
          p[k] = 1;
        }),
      ).problems;
      assert.deepEqual(problems, [
        {
          field: `${n.field}.notInTheCrd`,
          message: `unknown field (allowed: ${Object.keys(n.schema.properties!).join(', ')})`,
        },
      ]);
    });
  }
}

test('a declared field set to null is absent (the API server prunes it): defaults apply, required says required', () => {
  const r = full();
  r.spec.protocol = null;
  r.spec.udp = null;
  assert.equal(validateRelay(r).resolved?.protocol, 'TCP');
  assert.deepEqual(
    validateRelay(
      edited(['spec', 'target'], (p, k) => {
        p[k] = null;
      }),
    ).problems,
    [{ field: 'spec.target', message: 'required' }],
  );
});

// ---- a field added to the CRD ----

function withField(at: string[], name: string, schema: StructuralSchema, required = false): StructuralSchema {
  const copy = structuredClone(RELAY_SPEC_SCHEMA);
  const parent = at.reduce<StructuralSchema>((s, k) => s.properties![k]!, copy);
  parent.properties![name] = schema;
  if (required) parent.required = [...(parent.required ?? []), name];
  return copy;
}

test('a field added to a copy of the CRD schema is validated by validateRelay with no change to relay/validate.ts', () => {
  const schema = withField(['target'], 'keepaliveSeconds', { type: 'integer', minimum: 1, maximum: 600 });
  const relay = (v: unknown) =>
    edited(['spec', 'target', 'keepaliveSeconds'], (p, k) => {
      p[k] = v;
    });
  assert.deepEqual(validateRelay(relay(30), { schema }).problems, []);
  assert.deepEqual(validateRelay(relay(0), { schema }).problems, [
    { field: 'spec.target.keepaliveSeconds', message: 'keepaliveSeconds 0 is out of range 1-600' },
  ]);
  assert.deepEqual(validateRelay(relay('30'), { schema }).problems, [
    { field: 'spec.target.keepaliveSeconds', message: 'must be an integer from 1 to 600, got "30"' },
  ]);
  // Without it in the schema, the same relay has an unknown field.
  assert.match(validateRelay(relay(30)).problems[0]!.message, /^unknown field \(allowed: host, port\)$/);
});

test("an added object with a required enum, an added map and an added list are walked like the CRD's own", () => {
  const schema = withField(
    [],
    'tls',
    {
      type: 'object',
      required: ['mode'],
      properties: {
        mode: { type: 'string', enum: ['Off', 'Strict'] },
        labels: { type: 'object', additionalProperties: { type: 'string', maxLength: 3 } },
        sans: { type: 'array', items: { type: 'string', pattern: '^[a-z]+$' } },
      },
    },
    true,
  );
  const relay = (tls: unknown) =>
    edited(['spec', 'tls'], (p, k) => {
      p[k] = tls;
    });
  assert.deepEqual(
    validateRelay(relay({ mode: 'Strict', labels: { a: 'abc' }, sans: ['x'] }), { schema }).problems,
    [],
  );
  assert.deepEqual(
    validateRelay(relay({ mode: 'Loose', labels: { a: 'abcd' }, sans: ['x', 'Y1'] }), { schema }).problems,
    [
      { field: 'spec.tls.mode', message: 'unknown mode "Loose" (allowed: Off, Strict)' },
      { field: 'spec.tls.labels.a', message: 'must be at most 3 characters, got 4' },
      { field: 'spec.tls.sans[1]', message: '"Y1" does not match ^[a-z]+$' },
    ],
  );
  assert.deepEqual(validateRelay(full(), { schema }).problems, [{ field: 'spec.tls', message: 'required' }]);
});

// ---- messages and order ----

test('problems come in the order of the document, structural and semantic mixed', () => {
  const r = full();
  r.spec.sidecar.resources.limits = { gpu: '1' }; // semantic
  r.spec.consumers.namespaces = ['a', 'a', 'B']; // semantic [1], structural [2]
  r.spec.target = { host: '10.0.0.1', port: 0 }; // semantic host, structural port
  r.spec.protocol = 'SCTP'; // structural
  assert.deepEqual(
    validateRelay(r).problems.map((p) => p.field),
    [
      'spec.protocol',
      'spec.target.host',
      'spec.target.port',
      'spec.consumers.namespaces[1]',
      'spec.consumers.namespaces[2]',
      'spec.sidecar.resources.limits.gpu',
    ],
  );
  assert.deepEqual(
    inFieldOrder(
      [
        { field: 'spec.zzz', message: '' },
        { field: 'spec', message: '' },
        { field: 'spec.target', message: '' },
      ],
      RELAY_SPEC_SCHEMA,
      'spec',
    ).map((p) => p.field),
    ['spec', 'spec.target', 'spec.zzz'],
  );
});

test('what a value is shown as in a message: types named, long strings cut with their length', () => {
  const at = (v: unknown) =>
    checkStructure(RELAY_SPEC_SCHEMA.properties!.target!, { host: v, port: 1 }, 'spec.target')[0]?.message;
  assert.equal(at(7), 'must be a string, got number 7');
  assert.equal(at([1]), 'must be a string, got a list');
  assert.equal(at({}), 'must be a string, got an object');
  assert.equal(at(true), 'must be a string, got boolean true');
  assert.equal(at('x'.repeat(65)), 'must be at most 64 characters, got 65');
  const list = checkStructure({ type: 'array' }, 'y'.repeat(100), 'f')[0]!.message;
  assert.equal(list, `must be a list, got "${'y'.repeat(40)}…" (100 characters)`);
  assert.deepEqual(checkStructure(RELAY_SPEC_SCHEMA, undefined, 'spec'), [{ field: 'spec', message: 'required' }]);
});

// ---- hostile input ----

test('__proto__, constructor and other inherited names are plain unknown fields or map keys; no prototype changes', () => {
  const spec = JSON.parse(
    '{"__proto__": {"polluted": 1}, "constructor": {"x": 1}, "target": {"host": "127.0.0.1", "port": 80, "__proto__": 1},' +
      ' "consumers": {"namespaces": ["a"]}, "nodeSelector": {"__proto__": "x", "toString": "y"}}',
  );
  const problems = validateRelay({
    apiVersion: 'socat.io/v1alpha1',
    kind: 'Relay',
    metadata: { name: 'p' },
    spec,
  }).problems;
  assert.deepEqual(
    problems.map((p) => `${p.field}: ${p.message.split(' (')[0]}`),
    [
      'spec.target.__proto__: unknown field',
      'spec.nodeSelector.__proto__: not a valid label key',
      'spec.__proto__: unknown field',
      'spec.constructor: unknown field',
    ],
  );
  assert.equal(({} as Obj).polluted, undefined);
  const ok = JSON.parse(
    '{"target": {"host": "127.0.0.1", "port": 80}, "consumers": {"namespaces": ["a"]}, "nodeSelector": {"toString": "y", "constructor": "z"}}',
  );
  const resolved = validateRelay({
    apiVersion: 'socat.io/v1alpha1',
    kind: 'Relay',
    metadata: { name: 'p' },
    spec: ok,
  }).resolved!;
  assert.deepEqual(Object.entries(resolved.nodeSelector), [
    ['toString', 'y'],
    ['constructor', 'z'],
  ]);
  assert.equal(Object.getPrototypeOf(resolved.nodeSelector), Object.prototype);
});

test('a huge unknown key or map key is cut in the field name, with its length', () => {
  const key = 'k'.repeat(100_000);
  const r = full();
  r.spec[key] = 1;
  r.spec.nodeSelector = { [key]: 'v' };
  const fields = validateRelay(r).problems.map((p) => p.field);
  assert.equal(fields.length, 2);
  for (const f of fields) assert.ok(f.length < 400 && f.endsWith('… (100000 characters)'), f);
});

test('generated input of any shape, at the spec and at every place in it: never throws, every problem names a field', () => {
  const places = nodes.map((n) => n.keys);
  fc.assert(
    fc.property(
      fc.constantFrom(...places),
      fc.anything({ withNullPrototype: true, withObjectString: true, maxDepth: 4 }),
      (keys, v) => {
        for (const input of [
          edited(keys, (p, k) => {
            p[k] = v;
          }),
          v,
          { ...full(), spec: v },
        ]) {
          const r = validateRelay(input);
          for (const p of r.problems)
            assert.ok(
              typeof p.field === 'string' && p.field !== '' && typeof p.message === 'string' && p.message !== '',
              JSON.stringify(p),
            );
          assert.equal(r.resolved === undefined, r.problems.length > 0);
        }
      },
    ),
    { numRuns: 2000, seed: 12 },
  );
});
