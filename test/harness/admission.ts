// Shared by the unit and HTTP suites: fixtures, a catalog, requests built like the API server's.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import fjp from 'fast-json-patch';
import { parseDocuments, type Relay } from '../../relay/index.js';
import { StaticCatalog } from '../../webhook/catalog/catalog.js';
import {
  defaultInjectOptions,
  patchOps,
  type AdmissionRequest,
  type AdmissionResponse,
  type PodContext,
  type RawPod,
} from '../../webhook/admission/index.js';
import { NAMESPACE_LABELS } from './namespaces.js';

export const FIXTURES = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'fixtures');

export function fixtureDocs(rel: string): unknown[] {
  return parseDocuments(readFileSync(path.join(FIXTURES, rel), 'utf8'), rel);
}

export function pod(name: string): RawPod {
  return structuredClone(fixtureDocs(`pods/${name}.yaml`)[0] as RawPod);
}

export function catalog(): StaticCatalog {
  return new StaticCatalog(fixtureDocs('admission/relays.yaml') as Relay[]);
}

export { NAMESPACE_LABELS };

export function context(overrides: Partial<PodContext> = {}): PodContext {
  return {
    catalog: catalog(),
    namespaceLabels: (ns) => NAMESPACE_LABELS[ns],
    options: defaultInjectOptions({ sidecarImage: 'example.com/socat-relay:test' }),
    ...overrides,
  };
}

let n = 0;
export function podRequest(object: unknown, over: Partial<AdmissionRequest> = {}): AdmissionRequest {
  const ns = (object as RawPod | undefined)?.metadata?.namespace ?? 'monitoring';
  return {
    uid: `uid-${++n}`,
    kind: { group: '', version: 'v1', kind: 'Pod' },
    resource: { group: '', version: 'v1', resource: 'pods' },
    namespace: ns,
    operation: 'CREATE',
    userInfo: { username: 'system:serviceaccount:kube-system:replicaset-controller' },
    object,
    ...over,
  };
}

export function relayRequest(object: unknown, over: Partial<AdmissionRequest> = {}): AdmissionRequest {
  return {
    uid: `uid-${++n}`,
    kind: { group: 'socat.io', version: 'v1alpha1', kind: 'Relay' },
    resource: { group: 'socat.io', version: 'v1alpha1', resource: 'relays' },
    operation: 'CREATE',
    userInfo: { username: 'admin' },
    object,
    ...over,
  };
}

/** Applies the response's patch to a deep clone of the pod, the way the API server does. */
export function applied(original: unknown, r: AdmissionResponse): RawPod {
  const ops = patchOps(r);
  return fjp.applyPatch(structuredClone(original), ops, true, false).newDocument as RawPod;
}
