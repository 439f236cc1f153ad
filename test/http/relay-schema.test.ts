// One source for the Relay's structure: relay/schema.generated.ts is the CRD's spec schema (structure
// only), and validateRelay takes every object's field names from it. Fails when the CRD changed and
// `npm run gen:relay-schema` was not run, or when validate.ts stops following the schema.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { CRD_FILE, OUT_FILE, generate } from '../../scripts/gen-relay-schema.js';
import { specFields, specSchema } from '../../relay/structure.js';
import { validateRelay, type Relay } from '../../relay/index.js';

test('relay/schema.generated.ts is what the CRD generates (run npm run gen:relay-schema after changing the CRD)', () => {
  assert.equal(readFileSync(OUT_FILE, 'utf8'), generate(readFileSync(CRD_FILE, 'utf8')));
});

test('the generated schema keeps the structure and drops descriptions and CEL rules', () => {
  const target = specSchema('target');
  assert.deepEqual(target.required, ['host', 'port']);
  assert.deepEqual([target.properties?.port?.minimum, target.properties?.port?.maximum], [1, 65535]);
  assert.equal(JSON.stringify(specSchema('')).includes('x-kubernetes-validations'), false);
  assert.equal(JSON.stringify(specSchema('')).includes('description'), false);
  assert.throws(() => specSchema('nosuch'), /the Relay CRD has no spec.nosuch/);
});

const base = (): Relay => ({
  apiVersion: 'socat.io/v1alpha1', kind: 'Relay', metadata: { name: 'r' },
  spec: { target: { host: '127.0.0.1', port: 9100 }, consumers: { namespaces: ['monitoring'] } },
});

// Every object of the spec, by where it sits in a Relay: validateRelay accepts exactly the CRD's fields.
const objects: [path: string, place: (r: Relay, o: Record<string, unknown>) => void][] = [
  ['', (r, o) => Object.assign(r.spec, o)],
  ['target', (r, o) => Object.assign(r.spec.target, o)],
  ['listen', (r, o) => { (r.spec as unknown as Record<string, unknown>).listen = { port: 9100, ...o }; }],
  ['udp', (r, o) => { r.spec.protocol = 'UDP'; (r.spec as unknown as Record<string, unknown>).udp = { mode: 'OneWay', ...o }; }],
  ['consumers', (r, o) => Object.assign(r.spec.consumers, o)],
  ['sidecar', (r, o) => { (r.spec as unknown as Record<string, unknown>).sidecar = o; }],
  ['sidecar.resources', (r, o) => { (r.spec as unknown as Record<string, unknown>).sidecar = { resources: o }; }],
  ['consumers.namespaceSelector', (r, o) => { (r.spec.consumers as Record<string, unknown>).namespaceSelector = o; }],
  ['consumers.namespaceSelector.matchExpressions[]', (r, o) => { (r.spec.consumers as Record<string, unknown>).namespaceSelector = { matchExpressions: [{ key: 'team', operator: 'Exists', ...o }] }; }],
];
for (const [at, place] of objects) {
  test(`spec${at ? `.${at}` : ''}: a field the CRD does not have is refused, naming the CRD's fields`, () => {
    const r = base();
    place(r, { notInTheCrd: 1 });
    const problem = validateRelay(r).problems.find((p) => p.field.endsWith('.notInTheCrd'));
    assert.ok(problem, JSON.stringify(validateRelay(r).problems));
    assert.equal(problem.message, `unknown field (allowed: ${specFields(at).join(', ')})`);
  });
}
