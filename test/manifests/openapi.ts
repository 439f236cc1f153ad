// A strict reading of a whole CRD schema, for tests that compare the CRD with relay/validate.ts without
// an API server: nulls pruned and defaults applied first (as the API server does), then the structure
// (types, enums, ranges, lengths, patterns, required and unknown fields as kubectl's strict field
// validation refuses them) through relay/structure.ts's walker, the one the code uses, and on top of it
// what only the API server does: list-type set/map uniqueness and every x-kubernetes-validations rule,
// evaluated with a real CEL interpreter. The real API server checks the same CRD in test/apiserver/.
import { evaluate } from '@marcbachmann/cel-js';
import { isObject } from '../../lib/object.js';
import { checkStructure, type Problem, type StructuralSchema } from '../../relay/structure.js';

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
function applyDefaults(schema: Schema, value: unknown): unknown {
  if (isObj(value)) {
    const out: Obj = { ...value };
    for (const [k, s] of Object.entries(schema.properties ?? {})) {
      if (out[k] === null) delete out[k];
      if (out[k] === undefined && s.default !== undefined) out[k] = structuredClone(s.default);
      if (out[k] !== undefined) out[k] = applyDefaults(s, out[k]);
    }
    if (isObj(schema.additionalProperties)) {
      for (const k of Object.keys(out))
        if (!Object.hasOwn(schema.properties ?? {}, k)) out[k] = applyDefaults(schema.additionalProperties, out[k]);
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

/**
 * What the API server checks beyond the structure, at a value of the right type: list-type set/map uniqueness, CEL
 * rules.
 */
function apiServerRules(s: StructuralSchema, value: unknown, path: string): Problem[] {
  const schema = s as Schema;
  const problems: Problem[] = [];
  const bad = (message: string, at = path) => problems.push({ field: at, message });
  if (Array.isArray(value)) {
    const listType = schema['x-kubernetes-list-type'];
    const keyOf =
      listType === 'set'
        ? (v: unknown) => JSON.stringify(v)
        : listType === 'map'
          ? (v: unknown) => JSON.stringify((schema['x-kubernetes-list-map-keys'] ?? []).map((k) => (v as Obj)[k]))
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

/**
 * Every problem of `value` (already defaulted) against `schema`: relay/structure.ts's walk plus the API server's rules.
 */
function checkSchema(schema: Schema, value: unknown, path = ''): SchemaProblem[] {
  return checkStructure(schema, value, path, { visit: apiServerRules }).map((p) => ({
    path: p.field || '(root)',
    message: p.message,
  }));
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
