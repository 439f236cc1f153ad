// Ephemeral containers (`kubectl debug`) arrive later, as an UPDATE of the pods/ephemeralcontainers
// subresource whose object is the whole pod. For a labeled pod none may take a socat-* name or mount
// an injected volume writable; everything else about them is Pod Security's business.
import { CONSUME_LABEL, NAME_PREFIX } from '../../relay/index.js';
import { containersOf, writableMounts } from './claims.js';
import type { Denial } from './consume.js';
import type { RawPod } from './pod-shape.js';
import type { PodDecision } from './pod.js';
import { allowed, denied } from './response.js';
import type { AdmissionRequest } from './types.js';

export function ephemeralDenials(pod: RawPod): Denial[] {
  const spec = pod.spec ?? {};
  const denials: Denial[] = [];
  for (const l of containersOf(spec)) {
    if (l.list !== 'ephemeralContainers' || typeof l.c.name !== 'string' || !l.c.name.startsWith(NAME_PREFIX)) continue;
    denials.push({ reason: 'reserved-name', message: `spec.ephemeralContainers[${l.index}] "${l.c.name}": ephemeral containers may not use the prefix ${NAME_PREFIX}, reserved for injected sidecars` });
  }
  denials.push(...writableMounts(spec, new Set(), ['ephemeralContainers']));
  return denials;
}

export function decideEphemeral(req: AdmissionRequest, pod: RawPod): PodDecision {
  if (req.operation !== 'UPDATE' || pod.metadata?.labels?.[CONSUME_LABEL] === undefined) return { response: allowed(), denials: [], injected: [] };
  const denials = ephemeralDenials(pod);
  if (denials.length === 0) return { response: allowed(), denials: [], injected: [] };
  return { response: denied(denials.map((d) => d.message)), denials, injected: [] };
}
