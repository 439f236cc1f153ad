// Writes relay/schema.generated.ts from the CRD (manifests/crd/relays.socat.io.yaml): the TypeScript
// types of the Relay's spec (with the CRD's descriptions as doc comments, enums as value lists) and the
// structural part of spec's openAPIV3Schema as data for relay/structure.ts. Run: npm run gen:relay-schema.
// test/unit/relay/relay-schema.test.ts fails when the file and the CRD differ.
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { WALKER_KEYWORDS, structural, type StructuralSchema } from '../relay/structure.js';

const ROOT = path.resolve(import.meta.dirname, '..');
export const CRD_FILE = path.join(ROOT, 'manifests/crd/relays.socat.io.yaml');
export const OUT_FILE = path.join(ROOT, 'relay/schema.generated.ts');

/**
 * Names for the parts of the spec that code refers to, by path under spec (`list[]` = a list's items).
 * An enum gets a type and a value list; an object an interface. Everything else is written inline.
 */
const NAMES: Record<string, { type: string; values?: string }> = {
  '': { type: 'RelaySpec' },
  protocol: { type: 'Protocol', values: 'PROTOCOLS' },
  'udp.mode': { type: 'UdpMode', values: 'UDP_MODES' },
  'consumers.namespaceSelector': { type: 'LabelSelector' },
  'consumers.namespaceSelector.matchExpressions[]': { type: 'LabelSelectorRequirement' },
  'consumers.namespaceSelector.matchExpressions[].operator': { type: 'SelectorOperator', values: 'SELECTOR_OPERATORS' },
  'sidecar.resources': { type: 'SidecarResources' },
};

type Raw = Record<string, unknown>;

function docComment(raw: Raw, indent: string): string {
  if (typeof raw.description !== 'string') return '';
  return `${indent}/** ${raw.description.replace(/\s+/g, ' ').replace(/\*\//g, '*\\/')} */\n`;
}

/**
 * Emits the TypeScript of the spec: named declarations in `decls` (each before its first use), returns the type of
 * `raw`.
 */
function tsType(raw: Raw, at: string, decls: string[], indent = ''): string {
  const named = Object.hasOwn(NAMES, at) ? NAMES[at] : undefined;
  let t: string;
  if (Array.isArray(raw.enum)) {
    t = raw.enum.map((v) => JSON.stringify(v)).join(' | ');
    if (named?.values) {
      decls.push(
        `${docComment(raw, '')}export const ${named.values} = [${raw.enum.map((v) => JSON.stringify(v)).join(', ')}] as const;\nexport type ${named.type} = (typeof ${named.values})[number];\n`,
      );
      return named.type;
    }
  } else if (Array.isArray(raw.anyOf)) {
    t = (raw.anyOf as Raw[]).map((b, i) => tsType(b, `${at}|${i}`, decls, indent)).join(' | ');
  } else if (raw.type === 'object') {
    t = objectType(raw, at, decls, named ? '' : indent);
  } else if (raw.type === 'array') {
    const item = tsType(raw.items as Raw, `${at}[]`, decls, indent);
    t = /[ |]/.test(item) ? `(${item})[]` : `${item}[]`;
  } else {
    t =
      raw.type === 'integer' || raw.type === 'number'
        ? 'number'
        : raw.type === 'string' || raw.type === 'boolean'
          ? raw.type
          : 'unknown';
  }
  if (!named) return t;
  decls.push(
    `${docComment(raw, '')}export ${t.startsWith('{') ? `interface ${named.type} ${t}` : `type ${named.type} = ${t};`}\n`,
  );
  return named.type;
}

function objectType(raw: Raw, at: string, decls: string[], indent: string): string {
  const props = raw.properties as Record<string, Raw> | undefined;
  if (!props) {
    const values = raw.additionalProperties;
    return typeof values === 'object' && values !== null
      ? `Record<string, ${tsType(values as Raw, `${at}.*`, decls, indent)}>`
      : 'Record<string, unknown>';
  }
  const required = new Set((raw.required as string[] | undefined) ?? []);
  const inner = `${indent}  `;
  const lines = Object.entries(props).map(([k, p]) => {
    const type = tsType(p, at === '' ? k : `${at}.${k}`, decls, inner);
    return `${docComment(p, inner)}${inner}${k}${required.has(k) ? '' : '?'}: ${type};\n`;
  });
  return `{\n${lines.join('')}${indent}}`;
}

function checkKeywords(s: StructuralSchema, at: string): void {
  for (const [k, v] of Object.entries(s)) {
    if (!WALKER_KEYWORDS.includes(k))
      throw new Error(`spec${at}: relay/structure.ts does not check the keyword ${k}; teach checkStructure first`);
    if (k === 'properties')
      for (const [p, ps] of Object.entries(v as Record<string, StructuralSchema>)) checkKeywords(ps, `${at}.${p}`);
    if ((k === 'items' || k === 'additionalProperties') && typeof v === 'object')
      checkKeywords(v as StructuralSchema, `${at}.${k}`);
    if (k === 'anyOf') (v as StructuralSchema[]).forEach((b) => checkKeywords(b, at));
  }
}

export function generate(crdText: string): string {
  const crd = parse(crdText) as {
    spec: { versions: { schema: { openAPIV3Schema: { properties: { spec: Raw } } } }[] };
  };
  const raw = crd.spec.versions[0]!.schema.openAPIV3Schema.properties.spec;
  const spec = structural(raw);
  checkKeywords(spec, '');
  const decls: string[] = [];
  tsType(raw, '', decls);
  return `// Generated from manifests/crd/relays.socat.io.yaml by scripts/gen-relay-schema.ts — do not edit.
// The Relay's spec as TypeScript types and as data (its structural schema, walked by relay/structure.ts).
import type { StructuralSchema } from './structure.js';

${decls.join('\n')}
export const RELAY_SPEC_SCHEMA: StructuralSchema = ${JSON.stringify(spec, null, 2)};
`;
}

if (process.argv[1] && path.resolve(process.argv[1]) === path.resolve(import.meta.filename)) {
  writeFileSync(OUT_FILE, generate(readFileSync(CRD_FILE, 'utf8')));
  process.stdout.write(`wrote ${path.relative(ROOT, OUT_FILE)}\n`);
}
