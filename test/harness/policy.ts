// The ValidatingAdmissionPolicies of manifests/policy/ evaluated the way the API server does: match
// conditions, then the variables in order, then each validation, all in CEL. Variables are evaluated
// eagerly here (the API server evaluates them lazily), so an expression that errs on a request the
// policy matches fails here even when no validation reads it.
import { loadManifests, MANIFESTS, type KubeObject } from './manifest-load.js';
import { celEval } from '../manifests/openapi.js';
import path from 'node:path';

function sidecarPolicy(name = 'socat-relay-require-sidecar'): KubeObject {
  const vap = loadManifests(path.join(MANIFESTS, 'policy')).find(
    (l) => l.object.kind === 'ValidatingAdmissionPolicy' && l.object.metadata.name === name,
  );
  if (!vap) throw new Error(`no ValidatingAdmissionPolicy ${name} under manifests/policy/`);
  return vap.object;
}

export interface PolicyVerdict {
  /** False when a match condition excluded the pod. */
  matched: boolean;
  /** The denial message, when denied. */
  denied?: string;
}

export function judgeSidecarPolicy(
  pod: unknown,
  vap: KubeObject = sidecarPolicy(),
  operation = 'CREATE',
): PolicyVerdict {
  return judgePolicy(vap, { object: pod, request: { operation } });
}

/**
 * Any of the policies on one admission request: `object`, `oldObject` (null for a CREATE, as the API
 * server passes it) and `request` (operation, kind, subResource, …) as the API server gives them to CEL.
 */
export function judgePolicy(
  vap: KubeObject,
  input: { object: unknown; oldObject?: unknown; request: Record<string, unknown> },
): PolicyVerdict {
  const base = { object: input.object, oldObject: input.oldObject ?? null, request: input.request };
  for (const m of vap.spec.matchConditions ?? []) if (celEval(m.expression, base) !== true) return { matched: false };
  const variables: Record<string, unknown> = {};
  for (const v of vap.spec.variables ?? []) variables[v.name] = celEval(v.expression, { ...base, variables });
  for (const v of vap.spec.validations) {
    if (celEval(v.expression, { ...base, variables }) !== true) {
      return {
        matched: true,
        denied: String(v.messageExpression ? celEval(v.messageExpression, { ...base, variables }) : v.message),
      };
    }
  }
  return { matched: true };
}
