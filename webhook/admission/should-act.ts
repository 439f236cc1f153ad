// "Should we act on this pod?" — an ordered list of small checks; the first that returns a reason
// decides, and the request is allowed unchanged (with a warning where the user should know why).
import { CONSUME_LABEL } from '../../relay/index.js';
import type { AdmissionRequest } from './types.js';
import type { RawPod } from './pod-shape.js';

type SkipCode = 'not-a-pod' | 'operation' | 'subresource' | 'no-label' | 'mirror-pod' | 'host-network';

export interface Skip {
  code: SkipCode;
  reason: string;
  /** When true the reason is returned to the user as a warning. */
  warn: boolean;
}

const MIRROR_ANNOTATION = 'kubernetes.io/config.mirror';

type Check = (req: AdmissionRequest, pod: RawPod | undefined) => Skip | null;

const isPodKind = (req: AdmissionRequest): boolean =>
  req.kind?.group === '' && req.kind?.kind === 'Pod' && (req.resource?.resource ?? 'pods') === 'pods';

const checks: readonly Check[] = [
  (req) =>
    isPodKind(req)
      ? null
      : { code: 'not-a-pod', reason: `not a Pod (${req.kind?.kind ?? 'unknown kind'})`, warn: false },
  (req) =>
    req.subResource
      ? { code: 'subresource', reason: `subresource ${req.subResource} is not mutated`, warn: false }
      : null,
  (req) =>
    req.operation === 'CREATE'
      ? null
      : {
          code: 'operation',
          reason: `${req.operation}: only CREATE is mutated (a pod's containers cannot change later)`,
          warn: false,
        },
  (_req, pod) =>
    pod?.metadata?.labels?.[CONSUME_LABEL] === undefined
      ? { code: 'no-label', reason: `no ${CONSUME_LABEL} label`, warn: false }
      : null,
  (_req, pod) =>
    pod?.metadata?.annotations?.[MIRROR_ANNOTATION] !== undefined
      ? { code: 'mirror-pod', reason: 'mirror pod (static pod on the node): not injected', warn: true }
      : null,
  (_req, pod) =>
    pod?.spec?.hostNetwork === true
      ? {
          code: 'host-network',
          reason: 'socat-relay: hostNetwork pod not injected; it already shares the node loopback',
          warn: true,
        }
      : null,
];

export function shouldSkip(req: AdmissionRequest, pod: RawPod | undefined): Skip | null {
  for (const check of checks) {
    const skip = check(req, pod);
    if (skip) return skip;
  }
  return null;
}
