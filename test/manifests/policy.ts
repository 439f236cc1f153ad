// The sidecar ValidatingAdmissionPolicy (manifests/policy/require-sidecar.yaml) evaluated the way the
// API server does: match conditions, then the variables in order, then each validation, all in CEL.
import { loadManifests, MANIFESTS, type KubeObject } from './load.js';
import { celEval } from './openapi.js';
import path from 'node:path';

export function sidecarPolicy(): KubeObject {
  const vap = loadManifests(path.join(MANIFESTS, 'policy')).find((l) => l.object.kind === 'ValidatingAdmissionPolicy');
  if (!vap) throw new Error('no ValidatingAdmissionPolicy under manifests/policy/');
  return vap.object;
}

export interface PolicyVerdict {
  /** False when a match condition excluded the pod. */
  matched: boolean;
  /** The denial message, when denied. */
  denied?: string;
}

export function judgeSidecarPolicy(pod: unknown, vap: KubeObject = sidecarPolicy()): PolicyVerdict {
  for (const m of vap.spec.matchConditions ?? []) if (celEval(m.expression, { object: pod }) !== true) return { matched: false };
  const variables: Record<string, unknown> = {};
  for (const v of vap.spec.variables ?? []) variables[v.name] = celEval(v.expression, { object: pod, variables });
  for (const v of vap.spec.validations) {
    if (celEval(v.expression, { object: pod, variables }) !== true) {
      return { matched: true, denied: String(v.messageExpression ? celEval(v.messageExpression, { object: pod, variables }) : v.message) };
    }
  }
  return { matched: true };
}
