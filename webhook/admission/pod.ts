// Pure pod admission: request + catalog + namespace labels + options → response. No I/O: the HTTP edge
// and the inject command both call it, and a dryRun request gets the same answer as any other.
import { CONSUME_LABEL, INJECTED_ANNOTATION, sidecarName, volumeName, type ResolvedRelay } from '../../relay/index.js';
import type { RelayCatalog } from '../catalog/catalog.js';
import { affinityGrowthDenial, andNodeRequirements, nodeRequirements } from './affinity.js';
import { checkClaims } from './claims.js';
import { diffPatch } from './diff.js';
import { checkNamespace, checkPorts, lookUpRelays, wantedRelays, type Denial } from './consume.js';
import { decideEphemeral, ephemeralDenials } from './ephemeral.js';
import { podSecurityVerdict } from './pod-security.js';
import type { InjectOptions } from './options.js';
import { isObject, type RawContainer, type RawNodeSelectorRequirement, type RawPod } from './pod-shape.js';
import { allowed, denied, errored, patched, withWarnings } from './response.js';
import { schedulingWarnings } from './scheduling.js';
import { shouldSkip, type Skip } from './should-act.js';
import { MAX_DEPTH, withinMaxDepth } from './decode.js';
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

const EMPTY_LABEL_MESSAGE = 'label socat.io/consume is empty: name the relay to consume';

const RUN_TO_COMPLETION_WARNING =
  'socat-relay: a regular sidecar container keeps this run-to-completion pod from finishing; use native sidecars';

function deny(denials: Denial[]): PodDecision {
  return { response: denied(denials.map((d) => d.message)), denials, injected: [] };
}

export function decidePod(req: AdmissionRequest, ctx: PodContext): PodDecision {
  const pod = isObject(req.object) ? (req.object as RawPod) : undefined;
  if (!pod && (req.operation === 'CREATE' || req.operation === 'UPDATE') && req.kind?.kind === 'Pod') {
    return {
      response: errored(400, 'request.object must be a Pod object'),
      denials: [{ reason: 'bad-object', message: 'request.object must be a Pod object' }],
      injected: [],
    };
  }
  if (pod && !withinMaxDepth(pod)) {
    const message = `the pod is nested deeper than ${MAX_DEPTH} levels`;
    return { response: errored(400, message), denials: [{ reason: 'bad-object', message }], injected: [] };
  }
  if (pod && req.subResource === 'ephemeralcontainers') return decideEphemeral(req, pod);
  const skip = shouldSkip(req, pod);
  if (skip || !pod) {
    const response = skip?.warn ? withWarnings(allowed(), [skip.reason]) : allowed();
    return { response, ...(skip ? { skip } : {}), denials: [], injected: [] };
  }
  const namespace = req.namespace || pod.metadata?.namespace || '';
  if (namespace === '') return deny([{ reason: 'bad-object', message: 'the pod has no namespace' }]);

  const label = (pod.metadata?.labels?.[CONSUME_LABEL] ?? '').trim();
  if (label === '') return deny([{ reason: 'no-relay-named', message: EMPTY_LABEL_MESSAGE }]);
  const names = wantedRelays(pod);

  // Only relays that exist, are valid and allow this namespace are verified; nothing else is kept.
  const nsLabels = ctx.namespaceLabels(namespace);
  const { relays: found, denials } = lookUpRelays(names, ctx.catalog);
  const relays: ResolvedRelay[] = [];
  for (const r of found) {
    const d = checkNamespace(r, namespace, nsLabels);
    if (d) denials.push(d);
    else relays.push(r);
  }
  const pss = podSecurityVerdict(ctx.options.volumeSource, namespace, nsLabels);
  if (pss.deny) denials.push({ reason: 'pod-security', message: pss.deny });
  const spec = pod.spec ?? {};
  const claims = checkClaims(spec, names, relays, ctx.options);
  // Loops, not push(...list): a pod may bring 100 000 problems, more than a call's arguments can hold.
  for (const d of [...claims.denials, ...ephemeralDenials(pod)]) denials.push(d);
  const all: RawContainer[] = [...(spec.initContainers ?? []), ...(spec.containers ?? [])];
  // A socat-<relay> container is either the injected sidecar or already denied above.
  const reserved = new Set(names.map(sidecarName));
  for (const d of checkPorts(
    relays,
    all.filter((c) => !reserved.has(c.name ?? '')),
  ))
    denials.push(d);
  const growth = affinityGrowthDenial(spec, relays);
  if (growth) denials.push(growth);
  if (denials.length > 0) return deny(denials);
  return inject(pod, relays, claims, pss.warn, ctx);
}

/** The verified relays' sidecars, volumes, node requirements and marker added to a copy of the pod. */
function inject(
  pod: RawPod,
  relays: ResolvedRelay[],
  claims: ReturnType<typeof checkClaims>,
  pssWarning: string | undefined,
  ctx: PodContext,
): PodDecision {
  const spec = pod.spec ?? {};
  const mutated = copyForInjection(pod);
  const mspec = mutated.spec!;
  const newSidecars: RawContainer[] = [];
  const injected: string[] = [];
  const requirements: RawNodeSelectorRequirement[] = [];
  for (const r of [...relays].sort((a, b) => a.name.localeCompare(b.name))) {
    if (!claims.sidecars.has(sidecarName(r.name))) {
      newSidecars.push(sidecarContainer(r, ctx.options));
      injected.push(r.name);
    }
    if (!claims.volumes.has(volumeName(r.name))) (mspec.volumes ??= []).push(sidecarVolume(r, ctx.options));
    for (const req of nodeRequirements(r.nodeSelector)) requirements.push(req);
  }
  // Every relay's requirements in one pass over the pod's terms (in relay order, duplicates once).
  andNodeRequirements(mspec, requirements);
  if (newSidecars.length > 0) {
    // Native sidecars go before the pod's own init containers so they run while those do.
    if (ctx.options.mode === 'native') mspec.initContainers = [...newSidecars, ...(mspec.initContainers ?? [])];
    else mspec.containers = [...(mspec.containers ?? []), ...newSidecars];
  }
  // The marker lists exactly the relays verified above, whatever the pod claimed.
  const marker = relays
    .map((r) => r.name)
    .sort()
    .join(',');
  if (pod.metadata?.annotations?.[INJECTED_ANNOTATION] !== marker) {
    mutated.metadata ??= {};
    (mutated.metadata.annotations ??= {})[INJECTED_ANNOTATION] = marker;
  }
  const warnings: string[] = pssWarning ? [pssWarning] : [];
  // Said once, when the sidecars go in (a reinvoked webhook would repeat it to the user).
  if (injected.length > 0) for (const w of schedulingWarnings(spec, relays)) warnings.push(w);
  const restartPolicy = spec.restartPolicy;
  if (
    ctx.options.mode === 'regular' &&
    injected.length > 0 &&
    (restartPolicy === 'Never' || restartPolicy === 'OnFailure')
  ) {
    warnings.push(RUN_TO_COMPLETION_WARNING);
  }
  return { response: withWarnings(patched(diffPatch(pod, mutated)), warnings), denials: [], injected };
}

export function admitPod(req: AdmissionRequest, ctx: PodContext): AdmissionResponse {
  return decidePod(req, ctx).response;
}

/**
 * The mutable copy to diff against the raw pod: copy-on-write of exactly what injection may change
 * (metadata.annotations, spec.containers/initContainers/volumes — replaced or appended to — and a deep
 * copy of spec.affinity, which andNodeRequirements edits in place); every other subtree is shared with
 * the raw pod, so `diffPatch` (diff.ts) skips it by identity instead of walking it (the webhook's hot
 * path). The raw pod is never mutated: the tests apply the patch to the untouched fixture.
 */
function copyForInjection(pod: RawPod): RawPod {
  const spec = { ...(pod.spec ?? {}) };
  if (spec.volumes) spec.volumes = [...spec.volumes];
  if (spec.affinity) spec.affinity = structuredClone(spec.affinity);
  const metadata = { ...(pod.metadata ?? {}) };
  if (metadata.annotations) metadata.annotations = { ...metadata.annotations };
  return { ...pod, metadata, spec };
}
