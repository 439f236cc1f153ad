// Pure pod admission: request + catalog + namespace labels + options → response. No I/O: the HTTP edge
// and the inject command both call it, and a dryRun request gets the same answer as any other.
import fjp from 'fast-json-patch';
import { isDeepStrictEqual } from 'node:util';
import { INJECTED_ANNOTATION, relayDir, sidecarName, volumeName } from '../../relay/index.js';
import type { RelayCatalog } from '../catalog/catalog.js';
import { andNodeRequirements, nodeRequirements } from './affinity.js';
import { checkNamespace, checkPorts, lookUpRelays, wantedRelays, type Denial } from './consume.js';
import type { InjectOptions } from './options.js';
import { isObject, type RawContainer, type RawPod } from './pod-shape.js';
import { allowed, denied, errored, patched, withWarnings } from './response.js';
import { shouldSkip, type Skip } from './should-act.js';
import { jsonDepth, MAX_DEPTH } from './decode.js';
import { sidecarContainer, sidecarVolume } from './sidecar.js';
import type { AdmissionRequest, AdmissionResponse } from './types.js';

export interface PodContext {
  catalog: RelayCatalog;
  /** The labels of a namespace, undefined when unknown (namespaceSelector consumers). */
  namespaceLabels: (namespace: string) => Record<string, string> | undefined;
  options: InjectOptions;
}

export interface PodDecision {
  response: AdmissionResponse;
  /** Set when the pod was left alone on purpose. */
  skip?: Skip;
  denials: Denial[];
  /** Relays whose sidecar this request added (empty on a second pass). */
  injected: string[];
}

export const RUN_TO_COMPLETION_WARNING = 'socat-relay: a regular sidecar container keeps this run-to-completion pod from finishing; use native sidecars';

export function injectedRelays(pod: RawPod): string[] {
  return (pod.metadata?.annotations?.[INJECTED_ANNOTATION] ?? '').split(',').map((s) => s.trim()).filter(Boolean);
}

function deny(denials: Denial[]): PodDecision {
  return { response: denied(denials.map((d) => d.message)), denials, injected: [] };
}

export function decidePod(req: AdmissionRequest, ctx: PodContext): PodDecision {
  const pod = isObject(req.object) ? (req.object as RawPod) : undefined;
  if (!pod && (req.operation === 'CREATE' || req.operation === 'UPDATE') && req.kind?.kind === 'Pod') {
    return { response: errored(400, 'request.object must be a Pod object'), denials: [{ reason: 'bad-object', message: 'request.object must be a Pod object' }], injected: [] };
  }
  if (pod && jsonDepth(pod) > MAX_DEPTH) {
    const message = `the pod is nested deeper than ${MAX_DEPTH} levels`;
    return { response: errored(400, message), denials: [{ reason: 'bad-object', message }], injected: [] };
  }
  const skip = shouldSkip(req, pod);
  if (skip || !pod) {
    const response = skip?.warn ? withWarnings(allowed(), [skip.reason]) : allowed();
    return { response, ...(skip ? { skip } : {}), denials: [], injected: [] };
  }
  const namespace = req.namespace || pod.metadata?.namespace || '';
  if (namespace === '') return deny([{ reason: 'bad-object', message: 'the pod has no namespace' }]);

  const names = wantedRelays(pod);
  if (names.length === 0) return deny([{ reason: 'no-relay-named', message: 'label socat.io/consume is empty: name the relay to consume' }]);

  const { relays, denials } = lookUpRelays(names, ctx.catalog);
  for (const r of relays) {
    const d = checkNamespace(r, namespace, ctx.namespaceLabels(namespace));
    if (d) denials.push(d);
  }

  const ours = new Set(injectedRelays(pod));
  const spec = pod.spec ?? {};
  const all: RawContainer[] = [...(spec.initContainers ?? []), ...(spec.containers ?? [])];
  const oursByName = new Set([...ours].map(sidecarName));
  for (const r of relays) {
    const name = sidecarName(r.name);
    const volume = (spec.volumes ?? []).find((v) => v.name === volumeName(r.name));
    if (ours.has(r.name)) {
      // The marker says we injected it; the volume must then be exactly ours (the annotation can be
      // written by anyone, and the sidecar's mount must never point at something else).
      if (volume && !isDeepStrictEqual(volume, sidecarVolume(r, ctx.options))) {
        denials.push({ reason: 'name-conflict', message: `the pod has a volume named "${volumeName(r.name)}" that is not the relay's folder ${relayDir(ctx.options.nodeSocketDir, r.name)}` });
      }
      continue;
    }
    if (all.some((c) => c.name === name)) denials.push({ reason: 'name-conflict', message: `the pod already has a container named "${name}" that socat-relay did not inject` });
    if (volume) denials.push({ reason: 'name-conflict', message: `the pod already has a volume named "${volumeName(r.name)}" that socat-relay did not inject` });
  }
  denials.push(...checkPorts(relays, all.filter((c) => !oursByName.has(c.name ?? ''))));
  if (denials.length > 0) return deny(denials);

  const mutated = copyForInjection(pod);
  const mspec = mutated.spec!;
  const present = new Set([...(mspec.initContainers ?? []), ...(mspec.containers ?? [])].map((c) => c.name));
  const newSidecars: RawContainer[] = [];
  const injected: string[] = [];
  for (const r of [...relays].sort((a, b) => a.name.localeCompare(b.name))) {
    if (!present.has(sidecarName(r.name))) {
      newSidecars.push(sidecarContainer(r, ctx.options));
      injected.push(r.name);
    }
    if (!(mspec.volumes ?? []).some((v) => v.name === volumeName(r.name))) (mspec.volumes ??= []).push(sidecarVolume(r, ctx.options));
    andNodeRequirements(mspec, nodeRequirements(r.nodeSelector));
  }
  if (newSidecars.length > 0) {
    // Native sidecars go before the pod's own init containers so they run while those do.
    if (ctx.options.mode === 'native') mspec.initContainers = [...newSidecars, ...(mspec.initContainers ?? [])];
    else mspec.containers = [...(mspec.containers ?? []), ...newSidecars];
  }
  const marker = [...new Set([...ours, ...relays.map((r) => r.name)])].sort().join(',');
  if (pod.metadata?.annotations?.[INJECTED_ANNOTATION] !== marker) {
    mutated.metadata ??= {};
    (mutated.metadata.annotations ??= {})[INJECTED_ANNOTATION] = marker;
  }
  const warnings: string[] = [];
  const restartPolicy = spec.restartPolicy;
  if (ctx.options.mode === 'regular' && injected.length > 0 && (restartPolicy === 'Never' || restartPolicy === 'OnFailure')) {
    warnings.push(RUN_TO_COMPLETION_WARNING);
  }
  return { response: withWarnings(patched(fjp.compare(pod, mutated)), warnings), denials: [], injected };
}

export function admitPod(req: AdmissionRequest, ctx: PodContext): AdmissionResponse {
  return decidePod(req, ctx).response;
}

/**
 * The mutable copy to diff against the raw pod: copy-on-write of exactly what injection may change
 * (metadata.annotations, spec.containers/initContainers/volumes — replaced or appended to — and a deep
 * copy of spec.affinity, which andNodeRequirements edits in place); every other subtree is shared with
 * the raw pod, so `compare` skips it by identity instead of walking it (the webhook's hot path). The raw
 * pod is never mutated: the tests apply the patch to the untouched fixture.
 */
function copyForInjection(pod: RawPod): RawPod {
  const spec = { ...(pod.spec ?? {}) };
  if (spec.volumes) spec.volumes = [...spec.volumes];
  if (spec.affinity) spec.affinity = structuredClone(spec.affinity);
  const metadata = { ...(pod.metadata ?? {}) };
  if (metadata.annotations) metadata.annotations = { ...metadata.annotations };
  return { ...pod, metadata, spec };
}
