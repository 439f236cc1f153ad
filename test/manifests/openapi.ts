// A small, strict reading of a CRD's structural OpenAPI schema, for tests that compare the CRD with
// relay/validate.ts without an API server: defaults are applied first (as the API server does), then
// types, enums, ranges, lengths, patterns, required and unknown fields (kubectl's default strict field
// validation), list-type set/map uniqueness, int-or-string, and every x-kubernetes-validations rule
// evaluated with a real CEL interpreter. The real API server checks the same CRD in test/apiserver/.
import { evaluate } from '@marcbachmann/cel-js';
import { isObject } from '../../lib/object.js';

export interface Schema {
  type?: 'object' | 'array' | 'string' | 'integer' | 'number' | 'boolean';
  properties?: Record<string, Schema>;
  additionalProperties?: Schema | boolean;
  items?: Schema;
  required?: string[];
  enum?: unknown[];
  default?: unknown;
  minimum?: number;
  maximum?: number;
  minLength?: number;
  maxLength?: number;
  maxProperties?: number;
  pattern?: string;
  'x-kubernetes-int-or-string'?: boolean;
  'x-kubernetes-list-type'?: 'atomic' | 'set' | 'map';
  'x-kubernetes-list-map-keys'?: string[];
  'x-kubernetes-validations'?: { rule: string; message?: string; fieldPath?: string }[];
  [key: string]: unknown;
}

export interface SchemaProblem {
  path: string;
  message: string;
}

type Obj = Record<string, unknown>;
const isObj: (v: unknown) => v is Record<string, unknown> = isObject;

/** A deep copy of `value` with the schema's defaults filled in where a field is absent. */
export function applyDefaults(schema: Schema, value: unknown): unknown {
  if (isObj(value)) {
    const out: Obj = { ...value };
    for (const [k, s] of Object.entries(schema.properties ?? {})) {
      if (out[k] === undefined && s.default !== undefined) out[k] = structuredClone(s.default);
      if (out[k] !== undefined) out[k] = applyDefaults(s, out[k]);
    }
    if (isObj(schema.additionalProperties)) {
      for (const k of Object.keys(out)) if (!(k in (schema.properties ?? {}))) out[k] = applyDefaults(schema.additionalProperties, out[k]);
    }
    return out;
  }
  if (Array.isArray(value) && schema.items) return value.map((v) => applyDefaults(schema.items!, v));
  return value;
}

/** CEL sees JSON integers as CEL ints (BigInt in cel-js), like the API server's typed values. */
function toCel(value: unknown): unknown {
  if (typeof value === 'number' && Number.isInteger(value)) return BigInt(value);
  if (Array.isArray(value)) return value.map(toCel);
  if (isObj(value)) return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, toCel(v)]));
  return value;
}

function typeOf(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'number') return Number.isInteger(v) ? 'integer' : 'number';
  return typeof v;
}

/** Every problem of `value` (already defaulted) against `schema`. */
export function checkSchema(schema: Schema, value: unknown, path = ''): SchemaProblem[] {
  const problems: SchemaProblem[] = [];
  const bad = (message: string, at = path) => problems.push({ path: at || '(root)', message });

  if (schema['x-kubernetes-int-or-string']) {
    if (typeof value !== 'string' && typeOf(value) !== 'integer') bad(`must be an integer or a string, got ${typeOf(value)}`);
  } else if (schema.type) {
    const t = typeOf(value);
    const ok = t === schema.type || (schema.type === 'number' && t === 'integer');
    if (!ok) {
      bad(`must be of type ${schema.type}, got ${t}`);
      return problems;
    }
  }
  if (schema.enum && !schema.enum.includes(value)) bad(`unsupported value ${JSON.stringify(value)} (allowed: ${schema.enum.join(', ')})`);
  if (typeof value === 'number') {
    if (schema.minimum !== undefined && value < schema.minimum) bad(`must be >= ${schema.minimum}`);
    if (schema.maximum !== undefined && value > schema.maximum) bad(`must be <= ${schema.maximum}`);
  }
  if (typeof value === 'string') {
    if (schema.minLength !== undefined && value.length < schema.minLength) bad(`must be at least ${schema.minLength} characters`);
    if (schema.maxLength !== undefined && value.length > schema.maxLength) bad(`must be at most ${schema.maxLength} characters`);
    if (schema.pattern !== undefined && !new RegExp(schema.pattern).test(value)) bad(`must match ${schema.pattern}`);
  }
  if (isObj(value)) {
    for (const r of schema.required ?? []) if (value[r] === undefined) bad('required', `${path}.${r}`);
    if (schema.maxProperties !== undefined && Object.keys(value).length > schema.maxProperties) bad(`at most ${schema.maxProperties} entries`);
    for (const [k, v] of Object.entries(value)) {
      const sub = schema.properties?.[k] ?? (isObj(schema.additionalProperties) ? schema.additionalProperties : undefined);
      if (sub) problems.push(...checkSchema(sub, v, `${path}.${k}`));
      else if (schema.properties) bad('unknown field', `${path}.${k}`);
    }
  }
  if (Array.isArray(value) && schema.items) {
    value.forEach((v, i) => problems.push(...checkSchema(schema.items!, v, `${path}[${i}]`)));
    const listType = schema['x-kubernetes-list-type'];
    const keyOf = listType === 'set' ? (v: unknown) => JSON.stringify(v)
      : listType === 'map' ? (v: unknown) => JSON.stringify((schema['x-kubernetes-list-map-keys'] ?? []).map((k) => (v as Obj)[k]))
        : undefined;
    if (keyOf) {
      const seen = new Set<string>();
      value.forEach((v, i) => {
        const key = keyOf(v);
        if (seen.has(key)) bad(`duplicate entry ${key}`, `${path}[${i}]`);
        seen.add(key);
      });
    }
  }
  for (const v of schema['x-kubernetes-validations'] ?? []) {
    let ok: unknown;
    try {
      ok = evaluate(v.rule, { self: toCel(value) });
    } catch (e) {
      bad(`CEL rule failed to evaluate (${(e as Error).message}): ${v.rule}`);
      continue;
    }
    if (ok !== true) bad(v.message ?? `failed rule: ${v.rule}`, `${path}${v.fieldPath ?? ''}`);
  }
  return problems;
}

/** Defaults, then every check: what the API server would say about `obj` under this schema. */
export function validateAgainst(schema: Schema, obj: unknown): { problems: SchemaProblem[]; defaulted: unknown } {
  const defaulted = applyDefaults(schema, obj);
  return { problems: checkSchema(schema, defaulted), defaulted };
}

/** Evaluates one CEL expression with the given variables (JSON values; integers become CEL ints). */
export function celEval(expression: string, vars: Record<string, unknown>): unknown {
  return evaluate(expression, Object.fromEntries(Object.entries(vars).map(([k, v]) => [k, toCel(v)])));
}
