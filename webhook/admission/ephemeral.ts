// Ephemeral containers (`kubectl debug`) arrive later, as an UPDATE of the pods/ephemeralcontainers
// subresource whose object is the whole pod. In a labeled pod, or one that carries socat-* volumes
// (labels are mutable: a consumer whose label was removed still has its relay's folder), none may take
// a socat-* name or mount an injected volume writable; everything else about them, and every pod with
// neither, is Pod Security's business.
import { CONSUME_LABEL, NAME_PREFIX } from '../../relay/index.js';
import { containersOf, writableMounts } from './claims.js';
import type { Denial } from './consume.js';
import { isObject, type RawPod } from './pod-shape.js';
import type { PodDecision } from './pod.js';
import { allowed, denied } from './response.js';
import type { AdmissionRequest } from './types.js';

export function ephemeralDenials(pod: RawPod): Denial[] {
  const spec = pod.spec ?? {};
  const denials: Denial[] = [];
  for (const l of containersOf(spec)) {
    if (l.list !== 'ephemeralContainers' || typeof l.c.name !== 'string' || !l.c.name.startsWith(NAME_PREFIX)) continue;
    denials.push({
      reason: 'reserved-name',
      message: `spec.ephemeralContainers[${l.index}] "${l.c.name}": ephemeral containers may not use the prefix ${NAME_PREFIX}, reserved for injected sidecars`,
    });
  }
  for (const d of writableMounts(spec, new Set(), ['ephemeralContainers'])) denials.push(d);
  return denials;
}

/** Whose ephemeral containers are checked: the same pods as the webhook's and the policy's match condition. */
function guardsEphemeral(pod: RawPod): boolean {
  if (pod.metadata?.labels?.[CONSUME_LABEL] !== undefined) return true;
  const volumes = Array.isArray(pod.spec?.volumes) ? pod.spec.volumes : [];
  return volumes.some((v) => isObject(v) && typeof v.name === 'string' && v.name.startsWith(NAME_PREFIX));
}

export function decideEphemeral(req: AdmissionRequest, pod: RawPod): PodDecision {
  if (req.operation !== 'UPDATE' || !guardsEphemeral(pod)) return { response: allowed(), denials: [], injected: [] };
  const denials = ephemeralDenials(pod);
  if (denials.length === 0) return { response: allowed(), denials: [], injected: [] };
  return { response: denied(denials.map((d) => d.message)), denials, injected: [] };
}
