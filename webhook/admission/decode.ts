// The AdmissionReview envelope: checks what the handlers rely on and turns every malformed input into
// a DecodeError carrying the HTTP code and the request uid when one was readable, so the edge can
// always answer with an AdmissionReview (controller-runtime http.go), never crash.
import { errored, withUid } from './response.js';
import {
  ADMISSION_API_VERSION,
  ADMISSION_KIND,
  type AdmissionRequest,
  type AdmissionResponse,
  type AdmissionReview,
} from './types.js';
import { isObject } from './pod-shape.js';

export class DecodeError extends Error {
  constructor(
    message: string,
    readonly code: number,
    readonly uid: string,
  ) {
    super(message);
    this.name = 'DecodeError';
  }
}

/** Deeper than this is no Kubernetes object; cloning and diffing it would exhaust the stack. */
export const MAX_DEPTH = 512;

/**
 * The nesting depth of a JSON value (a primitive is 0, `{}` and `[]` are 1); stops early, returning a
 * value over `limit`, once the walk is deeper than `limit`, so the recursion is at most limit + 1 deep.
 */
export function jsonDepth(value: unknown, limit = MAX_DEPTH): number {
  return depthFrom(value, 1, limit);
}

function depthFrom(v: unknown, d: number, limit: number): number {
  if (typeof v !== 'object' || v === null) return 0;
  if (d > limit) return d;
  let max = d;
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) {
      const m = depthFrom(v[i], d + 1, limit);
      if (m > max && (max = m) > limit) return max;
    }
  } else {
    for (const k in v) {
      const m = depthFrom((v as Record<string, unknown>)[k], d + 1, limit);
      if (m > max && (max = m) > limit) return max;
    }
  }
  return max;
}

/** Objects inside a review that decodeReview has walked (the request's object): not walked again. */
const walked = new WeakSet<object>();

/** Is `v` at most MAX_DEPTH deep? Free for a request's object that came through decodeReview. */
export function withinMaxDepth(v: object): boolean {
  return walked.has(v) || jsonDepth(v) <= MAX_DEPTH;
}

export function decodeReview(body: unknown): AdmissionRequest {
  if (!isObject(body)) throw new DecodeError('the body must be an AdmissionReview object', 400, '');
  const request = body.request;
  const uid = isObject(request) && typeof request.uid === 'string' ? request.uid : '';
  if (jsonDepth(body) > MAX_DEPTH)
    throw new DecodeError(`the AdmissionReview is nested deeper than ${MAX_DEPTH} levels`, 400, uid);
  if (body.apiVersion === 'admission.k8s.io/v1beta1') {
    throw new DecodeError('admission.k8s.io/v1beta1 is not supported: set admissionReviewVersions: [v1]', 400, uid);
  }
  if (body.apiVersion !== ADMISSION_API_VERSION) {
    throw new DecodeError(
      `apiVersion must be ${ADMISSION_API_VERSION}, got ${JSON.stringify(body.apiVersion ?? null)}`,
      400,
      uid,
    );
  }
  if (body.kind !== ADMISSION_KIND)
    throw new DecodeError(`kind must be ${ADMISSION_KIND}, got ${JSON.stringify(body.kind ?? null)}`, 400, uid);
  if (!isObject(request)) throw new DecodeError('the AdmissionReview has no request', 400, uid);
  if (uid === '') throw new DecodeError('request.uid is required', 400, uid);
  if (!isObject(request.kind) || typeof request.kind.kind !== 'string')
    throw new DecodeError('request.kind is required', 400, uid);
  if (typeof request.operation !== 'string') throw new DecodeError('request.operation is required', 400, uid);
  // The whole review is at most MAX_DEPTH deep, so its object is too (decidePod checks it otherwise).
  if (typeof request.object === 'object' && request.object !== null) walked.add(request.object);
  return request as unknown as AdmissionRequest;
}

export function reviewOf(response: AdmissionResponse, uid: string): AdmissionReview {
  return { apiVersion: ADMISSION_API_VERSION, kind: ADMISSION_KIND, response: withUid(response, uid) };
}

export function errorReview(code: number, message: string, uid = ''): AdmissionReview {
  return reviewOf(errored(code, message), uid);
}
