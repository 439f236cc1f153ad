// Writes relay/schema.generated.ts from the CRD (manifests/crd/relays.socat.io.yaml): the structural part
// of spec's openAPIV3Schema. Run: npm run gen:relay-schema. test/http/relay-schema.test.ts fails when the
// file and the CRD differ.
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { structural } from '../relay/structure.js';

const ROOT = path.resolve(import.meta.dirname, '..');
export const CRD_FILE = path.join(ROOT, 'manifests/crd/relays.socat.io.yaml');
export const OUT_FILE = path.join(ROOT, 'relay/schema.generated.ts');

export function generate(crdText: string): string {
  const crd = parse(crdText) as { spec: { versions: { schema: { openAPIV3Schema: { properties: { spec: Record<string, unknown> } } } }[] } };
  const spec = structural(crd.spec.versions[0]!.schema.openAPIV3Schema.properties.spec);
  return `// Generated from manifests/crd/relays.socat.io.yaml by scripts/gen-relay-schema.ts — do not edit.
import type { StructuralSchema } from './structure.js';

export const RELAY_SPEC_SCHEMA: StructuralSchema = ${JSON.stringify(spec, null, 2)};
`;
}

if (process.argv[1] && path.resolve(process.argv[1]) === path.resolve(import.meta.filename)) {
  writeFileSync(OUT_FILE, generate(readFileSync(CRD_FILE, 'utf8')));
  process.stdout.write(`wrote ${path.relative(ROOT, OUT_FILE)}\n`);
}
