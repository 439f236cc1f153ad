// Judging one admission answer against the rules: a valid AdmissionReview, the request's uid, no 5xx,
// a patch that applies cleanly to the pod and yields a pod the API server would accept, sidecars that
// are locked down, and idempotence (the patched pod, sent again, gets no patch).
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { fileURLToPath } from 'node:url';
import fjp from 'fast-json-patch';
import { parseDocuments, POD_SOCKET_DIR, relayDir, type Relay } from '../../relay/index.js';
import { StaticCatalog } from '../../webhook/catalog/catalog.js';
import {
  decidePod,
  defaultInjectOptions,
  type AdmissionRequest,
  type AdmissionResponse,
  type PodContext,
} from '../../webhook/admission/index.js';
import { podRuleViolations } from './oracle.js';
import type { GeneratedBody } from './arbitraries.js';
import { NAMESPACE_LABELS as BASE_NAMESPACE_LABELS } from './namespaces.js';
import { isObject } from '../../lib/object.js';

export const FIXTURES = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'resilience');

export function fuzzCatalog(): StaticCatalog {
  return new StaticCatalog(
    parseDocuments(readFileSync(path.join(FIXTURES, 'catalog.yaml'), 'utf8'), 'catalog.yaml') as Relay[],
  );
}

/** The admission suites' namespaces, plus `default`. */
export const NAMESPACE_LABELS: Record<string, Record<string, string>> = {
  ...BASE_NAMESPACE_LABELS,
  default: { 'kubernetes.io/metadata.name': 'default' },
};

const NODE_SOCKET_DIR = '/var/run/socat-relay-test';

export function fuzzContext(catalog = fuzzCatalog()): PodContext {
  return {
    catalog,
    namespaceLabels: (ns) => NAMESPACE_LABELS[ns],
    options: defaultInjectOptions({ sidecarImage: 'example.com/socat-relay:fuzz', nodeSocketDir: NODE_SOCKET_DIR }),
  };
}

const isObj: (v: unknown) => v is Record<string, unknown> = isObject;

export interface Judgement {
  problems: string[];
  outcome: 'patched' | 'allowed' | 'denied' | 'rejected';
}

/** Checks one answer; `ctx` is used to re-admit a patched pod (idempotence). */
export function judgeAnswer(body: GeneratedBody, status: number, review: unknown, ctx: PodContext): Judgement {
  const problems: string[] = [];
  if (status >= 500 || ![200, 400, 413, 415].includes(status)) problems.push(`HTTP ${status}`);
  if (
    !isObj(review) ||
    review.apiVersion !== 'admission.k8s.io/v1' ||
    review.kind !== 'AdmissionReview' ||
    !isObj(review.response)
  ) {
    return {
      problems: [...problems, `not an AdmissionReview: ${JSON.stringify(review).slice(0, 200)}`],
      outcome: 'rejected',
    };
  }
  const r = review.response as unknown as AdmissionResponse;
  if (typeof r.allowed !== 'boolean') problems.push('response.allowed is not a boolean');
  if (typeof r.uid !== 'string') problems.push('response.uid is not a string');
  if (body.uid !== '' && status === 200 && r.uid !== body.uid) problems.push(`uid ${r.uid} instead of ${body.uid}`);
  if (body.uid !== '' && status === 400 && r.uid !== body.uid && body.label !== 'truncated')
    problems.push(`400 without the readable uid ${body.uid}`);
  if ((r.status?.code ?? 200) >= 500)
    problems.push(`response.status.code ${r.status?.code}: ${r.status?.message?.slice(0, 200)}`);
  if (!r.allowed && !(r.status?.message && r.status.message.length > 0)) problems.push('denied without a message');
  if (status !== 200) {
    if (r.allowed) problems.push(`HTTP ${status} but allowed`);
    return { problems, outcome: 'rejected' };
  }
  if (!r.patch) return { problems, outcome: r.allowed ? 'allowed' : 'denied' };
  if (r.patchType !== 'JSONPatch') problems.push(`patchType ${r.patchType}`);
  if (body.path !== '/mutate-pods') problems.push('a relay review was patched');
  let ops: fjp.Operation[];
  try {
    ops = JSON.parse(Buffer.from(r.patch, 'base64').toString('utf8')) as fjp.Operation[];
  } catch {
    return { problems: [...problems, 'patch is not base64 JSON'], outcome: 'patched' };
  }
  // The pod as the server read it (JSON turns -0 into 0 and drops undefined).
  const pod = (JSON.parse(body.text) as { request: { object: unknown } }).request.object;
  let out: Record<string, unknown>;
  try {
    const err = fjp.validate(ops, structuredClone(pod));
    if (err) throw err;
    out = fjp.applyPatch(structuredClone(pod), ops, true, false).newDocument as Record<string, unknown>;
  } catch (e) {
    return {
      problems: [...problems, `patch does not apply: ${(e as Error).message.slice(0, 200)}`],
      outcome: 'patched',
    };
  }
  problems.push(...checkInjectedPod(pod, out));
  // Idempotence: the mutated pod sent again gets no patch.
  const again = decidePod(
    { ...(JSON.parse(body.text) as { request: AdmissionRequest }).request, object: out },
    ctx,
  ).response;
  if (again.patch)
    problems.push(
      `not idempotent: second pass patched again (${Buffer.from(again.patch, 'base64').toString().slice(0, 200)})`,
    );
  if (!again.allowed) problems.push(`second pass denied: ${again.status?.message}`);
  return { problems, outcome: 'patched' };
}

/**
 * The injected pod: the API rules hold (when they held before), nothing of the original is lost, sidecars are locked
 * down.
 */
function checkInjectedPod(before: unknown, after: Record<string, unknown>): string[] {
  const problems: string[] = [];
  if (podRuleViolations(before).length === 0)
    problems.push(...podRuleViolations(after).map((v) => `API rule broken: ${v}`));
  const b = before as { spec?: Record<string, unknown[] | undefined> };
  const a = after as { spec?: Record<string, unknown[] | undefined> };
  for (const field of ['containers', 'initContainers', 'volumes']) {
    for (const item of b.spec?.[field] ?? []) {
      if (!(a.spec?.[field] ?? []).some((x) => isDeepStrictEqual(x, item)))
        problems.push(`${field}: ${JSON.stringify(item).slice(0, 80)} lost or changed`);
    }
  }
  const all = [...(a.spec?.initContainers ?? []), ...(a.spec?.containers ?? [])] as Record<string, any>[];
  const volumes = (a.spec?.volumes ?? []) as Record<string, any>[];
  for (const c of all.filter(
    (x) =>
      typeof x.name === 'string' &&
      x.name.startsWith('socat-') &&
      !(b.spec?.containers ?? [])
        .concat(b.spec?.initContainers ?? [])
        .some((o) => (o as { name?: string }).name === x.name),
  )) {
    const relay = (c.name as string).slice('socat-'.length);
    const sc = c.securityContext ?? {};
    if (
      sc.runAsNonRoot !== true ||
      !(sc.runAsUser > 0) ||
      sc.readOnlyRootFilesystem !== true ||
      sc.allowPrivilegeEscalation !== false ||
      JSON.stringify(sc.capabilities?.drop) !== '["ALL"]' ||
      sc.capabilities?.add !== undefined ||
      sc.privileged === true
    ) {
      problems.push(`sidecar ${c.name} not locked down: ${JSON.stringify(sc)}`);
    }
    const mounts = (c.volumeMounts ?? []) as Record<string, any>[];
    if (mounts.length !== 1 || mounts[0]?.readOnly !== true || mounts[0]?.mountPath !== relayDir(POD_SOCKET_DIR, relay))
      problems.push(`sidecar ${c.name} mounts ${JSON.stringify(mounts)}`);
    const vol = volumes.find((v) => v.name === mounts[0]?.name);
    if (!vol?.hostPath || vol.hostPath.path !== relayDir(NODE_SOCKET_DIR, relay))
      problems.push(`sidecar ${c.name}: volume ${JSON.stringify(vol)} is not exactly its relay's folder`);
  }
  return problems;
}
