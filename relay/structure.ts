// The Relay's structure from its one source, the CRD's openAPIV3Schema (manifests/crd/relays.socat.io.yaml),
// kept as data in relay/schema.generated.ts (`npm run gen:relay-schema` rewrites it from the CRD; a test
// fails when the two differ). validate.ts takes the field names each object may hold from here, so a
// field added to the CRD is known to `socat-relay validate`, the webhook and the agent at once; the
// semantic checks (loopback, ports, names, selectors) stay in validate.ts.
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
  default?: unknown;
  pattern?: string;
  anyOf?: StructuralSchema[];
  /** Other OpenAPI keywords the CRD uses (kept as they are). */
  [keyword: string]: unknown;
}

/** What the generator keeps of a CRD schema: no descriptions, no CEL rules (they change without the structure). */
export function structural(s: Record<string, unknown>): StructuralSchema {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(s)) {
    if (k === 'description' || k.startsWith('x-kubernetes-')) continue;
    if (k === 'properties') out[k] = Object.fromEntries(Object.entries(v as Record<string, Record<string, unknown>>).map(([p, ps]) => [p, structural(ps)]));
    else if ((k === 'items' || k === 'additionalProperties') && typeof v === 'object' && v !== null) out[k] = structural(v as Record<string, unknown>);
    else if ((k === 'anyOf' || k === 'oneOf' || k === 'allOf') && Array.isArray(v)) out[k] = v.map((x) => structural(x as Record<string, unknown>));
    else out[k] = v;
  }
  return out as StructuralSchema;
}

/**
 * The schema at a dotted path under `spec` ('' = spec itself; `list[]` = a list's items); throws for a
 * path the CRD does not have.
 */
export function specSchema(at: string): StructuralSchema {
  let s: StructuralSchema = RELAY_SPEC_SCHEMA;
  for (const part of at === '' ? [] : at.split('.')) {
    const items = part.endsWith('[]');
    let next = s.properties?.[items ? part.slice(0, -2) : part];
    if (items) next = next?.items;
    if (!next) throw new Error(`the Relay CRD has no spec.${at}`);
    s = next;
  }
  return s;
}

/** The field names an object under `spec` may hold, in the CRD's order. */
export function specFields(at: string): string[] {
  return Object.keys(specSchema(at).properties ?? {});
}
