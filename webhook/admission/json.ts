// JSON text of frozen values built once (the injected sidecar container and volume, sidecar.ts),
// remembered so each patch that carries them splices the text instead of serialising them again.
// `patchJson` writes exactly what JSON.stringify(ops) writes (test/unit/webhook/admission/diff.test.ts checks it).
import type { Operation } from 'fast-json-patch';

const texts = new WeakMap<object, string>();

/** Remembers the JSON text of `v`, which must be deep-frozen (so the text stays true); returns `v`. */
export function rememberJson<T extends object>(v: T): T {
  texts.set(v, JSON.stringify(v));
  return v;
}

function valueJson(v: unknown): string {
  if (typeof v !== 'object' || v === null) return JSON.stringify(v);
  const known = texts.get(v);
  if (known !== undefined) return known;
  if (!Array.isArray(v) || typeof (v as { toJSON?: unknown }).toJSON === 'function') return JSON.stringify(v);
  // An array of injected containers (and the pod's own): remembered items spliced, the rest serialised.
  let out = '[';
  for (let i = 0; i < v.length; i++) {
    const item: unknown = v[i];
    if (i > 0) out += ',';
    out += item === undefined || typeof item === 'function' || typeof item === 'symbol' ? 'null' : valueJson(item);
  }
  return `${out}]`;
}

/** One op as JSON.stringify writes it: {op, path[, value]} spelled out, any other shape left to it. */
function opJson(op: Operation): string {
  const keys = Object.keys(op);
  const o = op as { op: unknown; path: unknown; value?: unknown };
  if (keys[0] !== 'op' || keys[1] !== 'path' || typeof o.op !== 'string' || typeof o.path !== 'string')
    return JSON.stringify(op);
  if (keys.length === 2) return `{"op":${JSON.stringify(o.op)},"path":${JSON.stringify(o.path)}}`;
  if (
    keys.length !== 3 ||
    keys[2] !== 'value' ||
    o.value === undefined ||
    typeof o.value === 'function' ||
    typeof o.value === 'symbol'
  )
    return JSON.stringify(op);
  return `{"op":${JSON.stringify(o.op)},"path":${JSON.stringify(o.path)},"value":${valueJson(o.value)}}`;
}

/** JSON.stringify(ops), with remembered values spliced in. */
export function patchJson(ops: readonly Operation[]): string {
  let out = '[';
  for (let i = 0; i < ops.length; i++) out += (i > 0 ? ',' : '') + opJson(ops[i]!);
  return `${out}]`;
}
