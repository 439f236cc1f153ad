// The sidecar ValidatingAdmissionPolicy (manifests/policy/require-sidecar.yaml) evaluated the way the
// API server does: match conditions, then the variables in order, then each validation, all in CEL.
import { loadManifests, MANIFESTS, type KubeObject } from './load.js';
import { celEval } from './openapi.js';
import path from 'node:path';

export function sidecarPolicy(name = 'socat-relay-require-sidecar'): KubeObject {
  const vap = loadManifests(path.join(MANIFESTS, 'policy')).find((l) => l.object.kind === 'ValidatingAdmissionPolicy' && l.object.metadata.name === name);
  if (!vap) throw new Error(`no ValidatingAdmissionPolicy ${name} under manifests/policy/`);
  return vap.object;
}

export interface PolicyVerdict {
  /** False when a match condition excluded the pod. */
  matched: boolean;
  /** The denial message, when denied. */
  denied?: string;
}

export function judgeSidecarPolicy(pod: unknown, vap: KubeObject = sidecarPolicy(), operation = 'CREATE'): PolicyVerdict {
  const request = { operation };
  for (const m of vap.spec.matchConditions ?? []) if (celEval(m.expression, { object: pod, request }) !== true) return { matched: false };
  const variables: Record<string, unknown> = {};
  for (const v of vap.spec.variables ?? []) variables[v.name] = celEval(v.expression, { object: pod, request, variables });
  for (const v of vap.spec.validations) {
    if (celEval(v.expression, { object: pod, request, variables }) !== true) {
      return { matched: true, denied: String(v.messageExpression ? celEval(v.messageExpression, { object: pod, request, variables }) : v.message) };
    }
  }
  return { matched: true };
}
