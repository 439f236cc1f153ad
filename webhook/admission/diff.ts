// The JSONPatch from the raw pod to its injected copy: fast-json-patch's `compare` (same walk, same ops
// in the same order — test/unit/webhook/admission/diff.test.ts checks it against the library), without its deep clone
// of every value it puts in an op. Those clones guard against later edits of either document; here the
// ops are serialised at once (response.ts `patched`) and neither document is edited afterwards, so the
// values are referenced, not copied. Subtrees the copy shares with the raw pod are skipped by identity,
// which is what keeps the walk short (pod.ts `copyForInjection`).
import type { Operation } from 'fast-json-patch';

const hasOwn = (o: object, k: string): boolean => Object.prototype.hasOwnProperty.call(o, k);

/** One JSON Pointer segment (RFC 6901: `~` → `~0`, `/` → `~1`). */
function escape(key: string): string {
  if (key.indexOf('/') === -1 && key.indexOf('~') === -1) return key;
  return key.replace(/~/g, '~0').replace(/\//g, '~1');
}

function keysOf(o: object): string[] {
  if (!Array.isArray(o)) return Object.keys(o);
  const keys = new Array<string>(o.length);
  for (let i = 0; i < keys.length; i++) keys[i] = `${i}`;
  return keys;
}

/** A value as JSON.stringify would write it in an op (undefined in an array is null). */
const opValue = (v: unknown): unknown => (v === undefined ? null : v);

function walk(before: Record<string, unknown>, after: Record<string, unknown>, ops: Operation[], path: string): void {
  if (after === before) return;
  const newKeys = keysOf(after);
  const oldKeys = keysOf(before);
  let deleted = false;
  for (let t = oldKeys.length - 1; t >= 0; t--) {
    const key = oldKeys[t]!;
    const oldVal = before[key];
    if (hasOwn(after, key) && !(after[key] === undefined && oldVal !== undefined && !Array.isArray(after))) {
      const newVal = after[key];
      if (
        typeof oldVal === 'object' &&
        oldVal !== null &&
        typeof newVal === 'object' &&
        newVal !== null &&
        Array.isArray(oldVal) === Array.isArray(newVal)
      ) {
        walk(oldVal as Record<string, unknown>, newVal as Record<string, unknown>, ops, `${path}/${escape(key)}`);
      } else if (oldVal !== newVal) {
        ops.push({ op: 'replace', path: `${path}/${escape(key)}`, value: opValue(newVal) });
      }
    } else if (Array.isArray(before) === Array.isArray(after)) {
      ops.push({ op: 'remove', path: `${path}/${escape(key)}` });
      deleted = true;
    } else {
      ops.push({ op: 'replace', path, value: after });
    }
  }
  if (!deleted && newKeys.length === oldKeys.length) return;
  for (const key of newKeys) {
    if (!hasOwn(before, key) && after[key] !== undefined)
      ops.push({ op: 'add', path: `${path}/${escape(key)}`, value: after[key] });
  }
}

/** The ops that turn `before` into `after` (both JSON objects); the ops reference `after`'s values. */
export function diffPatch(before: object, after: object): Operation[] {
  const ops: Operation[] = [];
  walk(before as Record<string, unknown>, after as Record<string, unknown>, ops, '');
  return ops;
}
