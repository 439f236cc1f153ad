// The Relay's structure from its one source, the CRD's openAPIV3Schema (manifests/crd/relays.socat.io.yaml).
// `npm run gen:relay-schema` copies its structural part into relay/schema.generated.ts, as data
// (RELAY_SPEC_SCHEMA) and as the TypeScript types of the spec (RelaySpec, Protocol, UdpMode…); a test
// fails when the file and the CRD differ.
//
// This file walks that schema over untrusted input (`checkStructure`): types, required fields, enums,
// ranges, lengths, patterns, entry counts and unknown fields, each problem naming its field
// (`spec.target.port`, `spec.consumers.namespaces[2]`, `spec.nodeSelector.<key>`). A field added to the
// CRD is thus checked by `socat-relay validate`, the webhook, the reconcile and the agent at once.
// relay/validate.ts runs it first and keeps only the semantic checks (loopback, ports, names, label
// keys, selector coherence, duplicates). The tests' reading of the whole CRD (test/manifests/openapi.ts)
// walks with it too, adding defaults, list types and the CEL rules.
import { isObject } from '../lib/object.js';
import { shown } from './loopback.js';
import { RELAY_SPEC_SCHEMA } from './schema.generated.js';

/** The structural part of an OpenAPI v3 schema: what the generator keeps of the CRD. */
export interface StructuralSchema {
  type?: string;
  required?: string[];
  properties?: Record<string, StructuralSchema>;
  items?: StructuralSchema;
  additionalProperties?: StructuralSchema | boolean;
  enum?: unknown[];
  minimum?: number;
  maximum?: number;
  minLength?: number;
  maxLength?: number;
  maxProperties?: number;
  default?: unknown;
  pattern?: string;
  anyOf?: StructuralSchema[];
  /** Other OpenAPI keywords the CRD uses (kept as they are). */
  [keyword: string]: unknown;
}

export interface Problem {
  field: string;
  message: string;
}

/** The keywords checkStructure understands; the generator refuses a CRD that uses another one. */
export const WALKER_KEYWORDS: readonly string[] = [
  'type',
  'required',
  'properties',
  'items',
  'additionalProperties',
  'enum',
  'minimum',
  'maximum',
  'minLength',
  'maxLength',
  'maxProperties',
  'default',
  'pattern',
  'anyOf',
];

/** What the generator keeps of a CRD schema: no descriptions, no CEL rules (they change without the structure). */
export function structural(s: Record<string, unknown>): StructuralSchema {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(s)) {
    if (k === 'description' || k.startsWith('x-kubernetes-')) continue;
    if (k === 'properties')
      out[k] = Object.fromEntries(
        Object.entries(v as Record<string, Record<string, unknown>>).map(([p, ps]) => [p, structural(ps)]),
      );
    else if ((k === 'items' || k === 'additionalProperties') && typeof v === 'object' && v !== null)
      out[k] = structural(v as Record<string, unknown>);
    else if ((k === 'anyOf' || k === 'oneOf' || k === 'allOf') && Array.isArray(v))
      out[k] = v.map((x) => structural(x as Record<string, unknown>));
    else out[k] = v;
  }
  return out;
}

/** The declared property `name` of `s`, never something inherited (`constructor`, `__proto__`). */
function propertyOf(s: StructuralSchema | undefined, name: string): StructuralSchema | undefined {
  return s?.properties && Object.hasOwn(s.properties, name) ? s.properties[name] : undefined;
}

/**
 * The schema at a dotted path under `spec` ('' = spec itself; `list[]` = a list's items); throws for a
 * path the CRD does not have.
 */
export function specSchema(at: string, root: StructuralSchema = RELAY_SPEC_SCHEMA): StructuralSchema {
  let s: StructuralSchema = root;
  for (const part of at === '' ? [] : at.split('.')) {
    const items = part.endsWith('[]');
    let next = propertyOf(s, items ? part.slice(0, -2) : part);
    if (items) next = next?.items;
    if (!next) throw new Error(`the Relay CRD has no spec.${at}`);
    s = next;
  }
  return s;
}

// ---- the walker ----

export interface StructureOptions {
  /**
   * Called for every value that has its schema's type, after its own checks; returns more problems
   * (the tests' CRD reading evaluates CEL rules and list types here).
   */
  visit?: (schema: StructuralSchema, value: unknown, field: string) => Problem[];
}

/**
 * Every structural problem of `value` under `schema`, `field` naming it ('spec'); an absent value is
 * `required`. One problem per field at most: a value of the wrong type is not looked into. Never
 * throws, whatever the value; the recursion follows the schema, so it is as deep as the schema.
 */
export function checkStructure(
  schema: StructuralSchema,
  value: unknown,
  field: string,
  options: StructureOptions = {},
): Problem[] {
  const out: Problem[] = [];
  if (value === undefined || value === null) out.push({ field, message: 'required' });
  else walk(schema, value, field, field, out, options);
  return out;
}

/** `name` is what the value is called in a message: its property name, or `value` for list items and map values. */
function walk(s: StructuralSchema, v: unknown, field: string, name: string, out: Problem[], o: StructureOptions): void {
  const problem = typeProblem(s, v) ?? valueProblem(s, v, name);
  if (problem) {
    out.push({ field, message: problem });
    if (!hasType(s, v)) return;
  }
  if (isObject(v)) walkObject(s, v, field, out, o);
  else if (Array.isArray(v) && s.items) v.forEach((item, i) => walk(s.items!, item, `${field}[${i}]`, 'value', out, o));
  if (o.visit) out.push(...o.visit(s, v, field));
}

function walkObject(
  s: StructuralSchema,
  v: Record<string, unknown>,
  field: string,
  out: Problem[],
  o: StructureOptions,
): void {
  for (const r of s.required ?? [])
    if (!Object.hasOwn(v, r) || v[r] === undefined || v[r] === null)
      out.push({ field: `${field}.${r}`, message: 'required' });
  const extra = isObject(s.additionalProperties) ? s.additionalProperties : undefined;
  // An object schema with neither properties nor additionalProperties (metadata) holds anything.
  const closed = s.properties !== undefined || s.additionalProperties === false;
  for (const k of Object.keys(v)) {
    const sub = propertyOf(s, k);
    const at = `${field}.${shown(k, 320)}`;
    // A declared field set to null is absent (the API server prunes it).
    if (sub) {
      if (v[k] !== null && v[k] !== undefined) walk(sub, v[k], at, k, out, o);
    } else if (extra) walk(extra, v[k], at, 'value', out, o);
    else if (closed)
      out.push({ field: at, message: `unknown field (allowed: ${Object.keys(s.properties ?? {}).join(', ')})` });
  }
}

/** The types `s` allows: its `type`, or those of its anyOf branches (int-or-string); none = any. */
function typesOf(s: StructuralSchema): string[] {
  if (s.type) return [s.type];
  return (s.anyOf ?? []).flatMap((b) => (b.type ? [b.type] : []));
}

function isType(t: string, v: unknown): boolean {
  switch (t) {
    case 'object':
      return isObject(v);
    case 'array':
      return Array.isArray(v);
    case 'string':
      return typeof v === 'string';
    case 'integer':
      return Number.isInteger(v);
    case 'number':
      return typeof v === 'number' && Number.isFinite(v);
    case 'boolean':
      return typeof v === 'boolean';
    default:
      return true;
  }
}

function hasType(s: StructuralSchema, v: unknown): boolean {
  const types = typesOf(s);
  return types.length === 0 || types.some((t) => isType(t, v));
}

const A_TYPE: Record<string, string> = {
  object: 'an object',
  array: 'a list',
  string: 'a string',
  integer: 'an integer',
  number: 'a number',
  boolean: 'true or false',
};

/** What a number must be: `an integer from 1 to 65535`, `an integer >= 0`… */
function numberRule(s: StructuralSchema, t: string): string {
  const what = A_TYPE[t] ?? t;
  if (s.minimum !== undefined && s.maximum !== undefined) return `${what} from ${s.minimum} to ${s.maximum}`;
  if (s.minimum !== undefined) return `${what} >= ${s.minimum}`;
  if (s.maximum !== undefined) return `${what} <= ${s.maximum}`;
  return what;
}

function typeProblem(s: StructuralSchema, v: unknown): string | undefined {
  if (hasType(s, v)) return undefined;
  const types = typesOf(s);
  const what =
    types.length === 1 && (types[0] === 'integer' || types[0] === 'number')
      ? numberRule(s, types[0])
      : types.map((t) => A_TYPE[t] ?? t).join(' or ');
  return `must be ${what}, got ${describe(v)}`;
}

/** The first rule of enum, range, length and pattern that `v` (of the right type) breaks. */
function valueProblem(s: StructuralSchema, v: unknown, name: string): string | undefined {
  if (s.enum && !s.enum.includes(v))
    return `unknown ${name} ${describe(v)} (allowed: ${s.enum.map(String).join(', ')})`;
  if (typeof v === 'number') return rangeProblem(s, v, name);
  if (typeof v === 'string') return stringProblem(s, v);
  if (isObject(v) && s.maxProperties !== undefined && Object.keys(v).length > s.maxProperties) {
    return `must have at most ${s.maxProperties} entries, got ${Object.keys(v).length}`;
  }
  return undefined;
}

function rangeProblem(s: StructuralSchema, v: number, name: string): string | undefined {
  const low = s.minimum !== undefined && v < s.minimum;
  const high = s.maximum !== undefined && v > s.maximum;
  if (!low && !high) return undefined;
  if (s.minimum !== undefined && s.maximum !== undefined)
    return `${name} ${v} is out of range ${s.minimum}-${s.maximum}`;
  return low ? `${name} ${v} is below the minimum ${s.minimum}` : `${name} ${v} is above the maximum ${s.maximum}`;
}

// What the CRD's patterns mean, for messages a user can act on; a pattern not listed is quoted as it is.
const PATTERN_MEANINGS: Record<string, string> = {
  '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$': 'a valid namespace name',
  '^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$': 'a valid label value',
  '^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$':
    'a valid label key',
  '^[+-]?(\\d+(\\.\\d*)?|\\.\\d+)(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei|[eE][+-]?\\d+)?$': 'a quantity',
};
const compiled = new Map<string, RegExp>();

function stringProblem(s: StructuralSchema, v: string): string | undefined {
  if (s.minLength !== undefined && v.length < s.minLength)
    return s.minLength === 1 ? 'must not be empty' : `must be at least ${s.minLength} characters, got ${v.length}`;
  if (s.maxLength !== undefined && v.length > s.maxLength)
    return `must be at most ${s.maxLength} characters, got ${v.length}`;
  if (s.pattern === undefined) return undefined;
  let re = compiled.get(s.pattern);
  if (!re) compiled.set(s.pattern, (re = new RegExp(s.pattern)));
  if (re.test(v)) return undefined;
  const meaning = Object.hasOwn(PATTERN_MEANINGS, s.pattern) ? PATTERN_MEANINGS[s.pattern] : undefined;
  return meaning ? `${describe(v)} is not ${meaning}` : `${describe(v)} does not match ${s.pattern}`;
}

/** A value as a message shows it: `"80"`, `number 0`, `null`, `a list`, `an object` (long strings cut). */
export function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'string')
    return v.length > 40 ? `"${shown(v.slice(0, 40))}…" (${v.length} characters)` : `"${shown(v)}"`;
  if (typeof v === 'object') return 'an object';
  if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint') return `${typeof v} ${v.toString()}`;
  return typeof v;
}

// ---- problems in the order of the document ----

/**
 * Where `field` sits under `schema` (named `base`): property positions and list indexes; unknown names
 * last. `open` is false when the walk stopped early (a map key, an unknown field, past the schema):
 * then nothing below the field is ordered.
 */
function positionOf(field: string, schema: StructuralSchema, base: string): { at: number[]; open: boolean } {
  const out: number[] = [];
  let rest = field.slice(base.length);
  let s: StructuralSchema | undefined = schema;
  while (rest !== '' && s) {
    const index = /^\[(\d+)\]/.exec(rest);
    if (index) {
      out.push(Number(index[1]));
      s = s.items;
      rest = rest.slice(index[0].length);
      continue;
    }
    const names = Object.keys(s.properties ?? {});
    const name = /^\.([^.[]+)/.exec(rest)?.[1];
    const i = name === undefined ? -1 : names.indexOf(name);
    out.push(i < 0 ? names.length : i);
    if (i < 0) return { at: out, open: false }; // a map key or an unknown field: nothing below it is ordered
    s = propertyOf(s, name!);
    rest = rest.slice(name!.length + 1);
  }
  return { at: out, open: rest === '' && s !== undefined };
}

/** `problems` under `base` sorted into the schema's field order (stable: one field's problems keep theirs). */
export function inFieldOrder(problems: Problem[], schema: StructuralSchema, base: string): Problem[] {
  // A list's own position is walked once for all its entries (a hostile list has 500 000 problems).
  const lists = new Map<string, { at: number[]; open: boolean }>();
  const position = (field: string): number[] => {
    if (field !== base && !field.startsWith(`${base}.`) && !field.startsWith(`${base}[`)) return [];
    const entry = /^(.+)\[(\d+)\]$/.exec(field);
    if (!entry || entry[1]!.length < base.length) return positionOf(field, schema, base).at;
    let list = lists.get(entry[1]!);
    if (!list) lists.set(entry[1]!, (list = positionOf(entry[1]!, schema, base)));
    return list.open ? [...list.at, Number(entry[2])] : list.at;
  };
  const keyed = problems.map((p) => ({ p, at: position(p.field) }));
  const order = (a: { at: number[] }, b: { at: number[] }): number => {
    for (let i = 0; i < Math.min(a.at.length, b.at.length); i++) if (a.at[i] !== b.at[i]) return a.at[i]! - b.at[i]!;
    return a.at.length - b.at.length;
  };
  // The walker finds problems in document order: most lists need no sort (a hostile one has 500 000).
  if (keyed.every((k, i) => i === 0 || order(keyed[i - 1]!, k) <= 0)) return problems.slice();
  keyed.sort(order);
  return keyed.map((k) => k.p);
}
