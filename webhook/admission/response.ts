// Every AdmissionResponse comes from here. The uid is stamped by the caller (the HTTP edge), so the
// pure handlers never see it; the message goes in `status.message`, the field the API server shows.
import type { Operation as JsonPatchOp } from 'fast-json-patch';
import { joinFirst } from '../../lib/text.js';
import { patchJson } from './json.js';
import type { AdmissionResponse } from './types.js';

/** The API's recommended maximum length of one warning. */
const MAX_WARNING_LENGTH = 120;

export function allowed(message?: string): AdmissionResponse {
  return { uid: '', allowed: true, ...(message ? { status: { code: 200, message } } : {}) };
}

/**
 * A denial; several reasons are joined into one message: the first 20, each cut to 2048 characters,
 * then how many more there are (lib/text.ts).
 */
export function denied(reasons: string | string[], code = 403): AdmissionResponse {
  const message = joinFirst(Array.isArray(reasons) ? reasons : [reasons], String);
  return { uid: '', allowed: false, status: { code, reason: 'Forbidden', message } };
}

/** The handler could not decide (bad input, internal error): not allowed, with an HTTP-like code. */
export function errored(code: number, message: string): AdmissionResponse {
  return { uid: '', allowed: false, status: { code, message } };
}

/** Allowed with a JSONPatch; no ops is a plain allowed (no empty patch on the wire). */
export function patched(ops: JsonPatchOp[]): AdmissionResponse {
  if (ops.length === 0) return allowed();
  return { uid: '', allowed: true, patchType: 'JSONPatch', patch: Buffer.from(patchJson(ops)).toString('base64') };
}

/** Shortens one warning to the recommended length. */
function shortWarning(w: string): string {
  return w.length <= MAX_WARNING_LENGTH ? w : `${w.slice(0, MAX_WARNING_LENGTH - 1)}…`;
}

export function withWarnings(r: AdmissionResponse, warnings: readonly string[]): AdmissionResponse {
  if (warnings.length === 0) return r;
  const all = [...(r.warnings ?? []), ...warnings.map(shortWarning)];
  return { ...r, warnings: [...new Set(all)] };
}

export function withUid(r: AdmissionResponse, uid: string): AdmissionResponse {
  return { ...r, uid };
}

/** The ops of a patched response (tests, the inject command). */
export function patchOps(r: AdmissionResponse): JsonPatchOp[] {
  return r.patch ? (JSON.parse(Buffer.from(r.patch, 'base64').toString('utf8')) as JsonPatchOp[]) : [];
}
