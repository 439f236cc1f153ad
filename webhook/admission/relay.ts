// Pure relay admission (the validating webhook): the shared validateRelay, plus a warning when another
// relay listens on the same port and protocol (a pod consuming both would be denied).
import { formatProblem, validateRelay, GROUP, KIND } from '../../relay/index.js';
import type { RelayCatalog } from '../catalog/catalog.js';
import { isObject } from './pod-shape.js';
import { validatedRelay } from './validated.js';
import { allowed, denied, errored, withWarnings } from './response.js';
import type { AdmissionRequest, AdmissionResponse } from './types.js';

export interface RelayDecision {
  response: AdmissionResponse;
  denied: boolean;
}

function listenOverlaps(name: string, port: number, protocol: string, catalog: RelayCatalog): string[] {
  const out: string[] = [];
  for (const other of catalog.list()) {
    if (other.metadata.name === name) continue;
    const v = validatedRelay(other).resolved;
    if (v && v.listenPort === port && v.protocol === protocol) {
      out.push(`relay "${v.name}" also listens on ${port}/${protocol}: one pod cannot consume both`);
    }
  }
  return out.sort();
}

export function decideRelay(req: AdmissionRequest, catalog: RelayCatalog): RelayDecision {
  if (req.kind?.group !== GROUP || req.kind?.kind !== KIND) return { response: allowed(), denied: false };
  if (req.operation !== 'CREATE' && req.operation !== 'UPDATE') return { response: allowed(), denied: false };
  if (req.subResource) return { response: allowed(), denied: false };
  if (!isObject(req.object)) return { response: errored(400, 'request.object must be a Relay object'), denied: true };
  const v = validateRelay(req.object);
  if (!v.resolved) return { response: withWarnings(denied(v.problems.map(formatProblem)), v.warnings), denied: true };
  const overlaps = listenOverlaps(v.resolved.name, v.resolved.listenPort, v.resolved.protocol, catalog);
  return { response: withWarnings(allowed(), [...v.warnings, ...overlaps]), denied: false };
}

export function admitRelay(req: AdmissionRequest, catalog: RelayCatalog): AdmissionResponse {
  return decideRelay(req, catalog).response;
}
