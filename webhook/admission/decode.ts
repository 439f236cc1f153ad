// The AdmissionReview envelope: checks what the handlers rely on and turns every malformed input into
// a DecodeError carrying the HTTP code and the request uid when one was readable, so the edge can
// always answer with an AdmissionReview (controller-runtime http.go), never crash.
import { errored, withUid } from './response.js';
import {
  ADMISSION_API_VERSION, ADMISSION_KIND,
  type AdmissionRequest, type AdmissionResponse, type AdmissionReview,
} from './types.js';
import { isObject } from './pod-shape.js';

export class DecodeError extends Error {
  constructor(message: string, readonly code: number, readonly uid: string) {
    super(message);
    this.name = 'DecodeError';
  }
}

/** Deeper than this is no Kubernetes object; cloning and diffing it would exhaust the stack. */
export const MAX_DEPTH = 512;

/** The nesting depth of a JSON value, counted without recursion; stops early once over `limit`. */
export function jsonDepth(value: unknown, limit = MAX_DEPTH): number {
  let max = 0;
  const stack: [unknown, number][] = [[value, 1]];
  while (stack.length > 0) {
    const [v, d] = stack.pop()!;
    if (typeof v !== 'object' || v === null) continue;
    if (d > max) max = d;
    if (max > limit) return max;
    for (const child of Array.isArray(v) ? v : Object.values(v)) stack.push([child, d + 1]);
  }
  return max;
}

export function decodeReview(body: unknown): AdmissionRequest {
  if (!isObject(body)) throw new DecodeError('the body must be an AdmissionReview object', 400, '');
  const request = body.request;
  const uid = isObject(request) && typeof request.uid === 'string' ? request.uid : '';
  if (jsonDepth(body) > MAX_DEPTH) throw new DecodeError(`the AdmissionReview is nested deeper than ${MAX_DEPTH} levels`, 400, uid);
  if (body.apiVersion === 'admission.k8s.io/v1beta1') {
    throw new DecodeError('admission.k8s.io/v1beta1 is not supported: set admissionReviewVersions: [v1]', 400, uid);
  }
  if (body.apiVersion !== ADMISSION_API_VERSION) {
    throw new DecodeError(`apiVersion must be ${ADMISSION_API_VERSION}, got ${JSON.stringify(body.apiVersion ?? null)}`, 400, uid);
  }
  if (body.kind !== ADMISSION_KIND) throw new DecodeError(`kind must be ${ADMISSION_KIND}, got ${JSON.stringify(body.kind ?? null)}`, 400, uid);
  if (!isObject(request)) throw new DecodeError('the AdmissionReview has no request', 400, uid);
  if (uid === '') throw new DecodeError('request.uid is required', 400, uid);
  if (!isObject(request.kind) || typeof request.kind.kind !== 'string') throw new DecodeError('request.kind is required', 400, uid);
  if (typeof request.operation !== 'string') throw new DecodeError('request.operation is required', 400, uid);
  return request as unknown as AdmissionRequest;
}

export function reviewOf(response: AdmissionResponse, uid: string): AdmissionReview {
  return { apiVersion: ADMISSION_API_VERSION, kind: ADMISSION_KIND, response: withUid(response, uid) };
}

export function errorReview(code: number, message: string, uid = ''): AdmissionReview {
  return reviewOf(errored(code, message), uid);
}
