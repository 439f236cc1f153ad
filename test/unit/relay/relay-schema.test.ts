// One source for the Relay's structure: relay/schema.generated.ts is generated from the CRD — the spec's
// TypeScript types (RelaySpec, Protocol, UdpMode…) and its structural schema, which relay/structure.ts
// walks for validateRelay. Fails when the CRD changed and `npm run gen:relay-schema` was not run, when
// validate.ts stops following the schema, or when a valid fixture does not type-check as a RelaySpec.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import ts from 'typescript';
import { parse as parseYaml } from 'yaml';
import { CRD_FILE, OUT_FILE, generate } from '../../../scripts/gen-relay-schema.js';
import { specSchema } from '../../../relay/structure.js';
import { REPO_ROOT } from '../../harness/binaries.js';
import { parseDocuments, validateRelay, type Relay } from '../../../relay/index.js';

const ROOT = REPO_ROOT;

test('relay/schema.generated.ts (types and schema) is what the CRD generates (run npm run gen:relay-schema after changing the CRD)', () => {
  assert.equal(readFileSync(OUT_FILE, 'utf8'), generate(readFileSync(CRD_FILE, 'utf8')));
});

test('the generator refuses a CRD keyword the walker does not check, instead of letting it pass unchecked', () => {
  const crd = readFileSync(CRD_FILE, 'utf8').replace(
    'type: array\n                      x-kubernetes-list-type: set',
    'type: array\n                      maxItems: 3\n                      x-kubernetes-list-type: set',
  );
  assert.notEqual(crd, readFileSync(CRD_FILE, 'utf8'));
  assert.throws(
    () => generate(crd),
    /spec\.consumers\.namespaces: relay\/structure\.ts does not check the keyword maxItems/,
  );
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
  apiVersion: 'socat.io/v1alpha1',
  kind: 'Relay',
  metadata: { name: 'r' },
  spec: { target: { host: '127.0.0.1', port: 9100 }, consumers: { namespaces: ['monitoring'] } },
});

/** The field names the CRD file itself lists at `spec.<at>` (`x[]`: the items of list x), in its order. */
function crdFields(at: string): string[] {
  type Schema = { properties?: Record<string, Schema>; items?: Schema };
  const crd = parseYaml(readFileSync(CRD_FILE, 'utf8')) as {
    spec: { versions: { schema: { openAPIV3Schema: Schema } }[] };
  };
  let s = crd.spec.versions[0]!.schema.openAPIV3Schema.properties!.spec!;
  for (const part of at === '' ? [] : at.split('.'))
    s = part.endsWith('[]') ? s.properties![part.slice(0, -2)]!.items! : s.properties![part]!;
  return Object.keys(s.properties!);
}

// Every object of the spec, by where it sits in a Relay: validateRelay accepts exactly the CRD's fields.
const objects: [path: string, place: (r: Relay, o: Record<string, unknown>) => void][] = [
  ['', (r, o) => Object.assign(r.spec, o)],
  ['target', (r, o) => Object.assign(r.spec.target, o)],
  [
    'listen',
    (r, o) => {
      (r.spec as unknown as Record<string, unknown>).listen = { port: 9100, ...o };
    },
  ],
  [
    'udp',
    (r, o) => {
      r.spec.protocol = 'UDP';
      (r.spec as unknown as Record<string, unknown>).udp = { mode: 'OneWay', ...o };
    },
  ],
  ['consumers', (r, o) => Object.assign(r.spec.consumers, o)],
  [
    'sidecar',
    (r, o) => {
      (r.spec as unknown as Record<string, unknown>).sidecar = o;
    },
  ],
  [
    'sidecar.resources',
    (r, o) => {
      (r.spec as unknown as Record<string, unknown>).sidecar = { resources: o };
    },
  ],
  [
    'consumers.namespaceSelector',
    (r, o) => {
      (r.spec.consumers as Record<string, unknown>).namespaceSelector = o;
    },
  ],
  [
    'consumers.namespaceSelector.matchExpressions[]',
    (r, o) => {
      (r.spec.consumers as Record<string, unknown>).namespaceSelector = {
        matchExpressions: [{ key: 'team', operator: 'Exists', ...o }],
      };
    },
  ],
];
for (const [at, place] of objects) {
  test(`spec${at ? `.${at}` : ''}: a field the CRD does not have is refused, naming the CRD's fields`, () => {
    const r = base();
    place(r, { notInTheCrd: 1 });
    const problem = validateRelay(r).problems.find((p) => p.field.endsWith('.notInTheCrd'));
    assert.ok(problem, JSON.stringify(validateRelay(r).problems));
    assert.equal(problem.message, `unknown field (allowed: ${crdFields(at).join(', ')})`);
  });
}

// ---- the generated types against the fixtures ----

const FIXTURES = [
  'test/fixtures/relays/kube-scheduler.yaml',
  'test/fixtures/admission/valid-relays.yaml',
  'test/fixtures/admission/relays.yaml',
  'test/fixtures/node/relays.yaml',
  'test/fixtures/apiserver/relay-http.yaml',
  'test/fixtures/resilience/catalog.yaml',
  'test/fixtures/resilience/local-relays.yaml',
  'manifests/examples/kubeadm-control-plane/relays.yaml',
  'manifests/examples/kubeadm-control-plane/prometheus-operator/relays.yaml',
  'manifests/examples/agent-metrics/relay.yaml',
  'manifests/examples/docker-metrics/relay.yaml',
  'manifests/examples/syslog-udp/relay.yaml',
];

/** Type-checks in-memory TypeScript files (beside relay/, importing the real types); the diagnostics per file. */
function typeCheck(files: Record<string, string>): Map<string, string[]> {
  const options: ts.CompilerOptions = {
    strict: true,
    noEmit: true,
    skipLibCheck: true,
    types: [],
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
  };
  const host = ts.createCompilerHost(options);
  const read = host.getSourceFile.bind(host);
  const exists = host.fileExists.bind(host);
  host.getSourceFile = (f, lang, ...rest) =>
    Object.hasOwn(files, f) ? ts.createSourceFile(f, files[f]!, lang) : read(f, lang, ...rest);
  host.fileExists = (f) => Object.hasOwn(files, f) || exists(f);
  const program = ts.createProgram(Object.keys(files), options, host);
  const out = new Map<string, string[]>(Object.keys(files).map((f) => [f, []]));
  for (const d of ts.getPreEmitDiagnostics(program)) {
    out.get(d.file?.fileName ?? '')?.push(ts.flattenDiagnosticMessageText(d.messageText, ' '));
  }
  return out;
}

test('every valid Relay of the fixtures and examples type-checks as the generated RelaySpec; a wrong one does not', () => {
  const specs = FIXTURES.flatMap((f) => parseDocuments(readFileSync(path.join(ROOT, f), 'utf8'), f))
    .filter((d) => (d as Relay).kind === 'Relay' && validateRelay(d).resolved)
    .map((d) => (d as Relay).spec);
  assert.ok(specs.length >= 15, `${specs.length} valid relays in the fixtures`);
  const header = "import type { RelaySpec } from './relay/types.js';\n";
  const good = path.join(ROOT, 'fixture-specs.ts');
  const bad = path.join(ROOT, 'wrong-specs.ts');
  const diagnostics = typeCheck({
    [good]: header + specs.map((s, i) => `export const s${i}: RelaySpec = ${JSON.stringify(s)};\n`).join(''),
    [bad]: `${header}export const a: RelaySpec = { protocol: 'SCTP', target: { host: '::1', port: 1 }, consumers: {} };
export const b: RelaySpec = { consumers: { namespaces: ['a'] } };
export const c: RelaySpec = { target: { host: '::1', port: '80' }, consumers: {} };
export const d: RelaySpec = { target: { host: '::1', port: 1 }, consumers: {}, lisen: {} };
`,
  });
  assert.deepEqual(diagnostics.get(good), []);
  assert.equal(diagnostics.get(bad)!.length, 4, diagnostics.get(bad)!.join('\n'));
});
