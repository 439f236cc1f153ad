// Offline injection (`socat-relay inject`): finds the pod (template) in a Pod or a workload, runs the
// SAME pure admission as the webhook on it, and puts the patched pod back. Other kinds pass through.
import fjp from 'fast-json-patch';
import { decidePod, type PodContext, type PodDecision } from './pod.js';
import { isObject, type RawPod } from './pod-shape.js';
import { patchOps } from './response.js';
import type { AdmissionRequest } from './types.js';

const TEMPLATE_KINDS = new Set([
  'Deployment',
  'DaemonSet',
  'StatefulSet',
  'ReplicaSet',
  'Job',
  'ReplicationController',
]);

interface Template {
  metadata?: Record<string, unknown>;
  spec?: unknown;
}

/** The pod template of a workload (by reference), or undefined for a kind without one. */
function podTemplate(obj: Record<string, unknown>): Template | undefined {
  const spec = obj.spec;
  if (!isObject(spec)) return undefined;
  if (TEMPLATE_KINDS.has(String(obj.kind))) return isObject(spec.template) ? spec.template : undefined;
  if (
    obj.kind === 'CronJob' &&
    isObject(spec.jobTemplate) &&
    isObject(spec.jobTemplate.spec) &&
    isObject(spec.jobTemplate.spec.template)
  ) {
    return spec.jobTemplate.spec.template;
  }
  return undefined;
}

export interface WorkloadResult {
  /** The object with its pod (template) injected; the input itself when nothing applied. */
  object: unknown;
  /** Undefined for objects that hold no pod. */
  decision?: PodDecision;
  /** kind/name, for messages. */
  label: string;
}

/** The AdmissionRequest the API server would send for creating `pod` (offline previews and tests). */
export function podCreateRequest(
  pod: RawPod,
  namespace: string,
  uid: string,
  username = 'socat-relay-inject',
): AdmissionRequest {
  return {
    uid,
    kind: { group: '', version: 'v1', kind: 'Pod' },
    resource: { group: '', version: 'v1', resource: 'pods' },
    namespace,
    operation: 'CREATE',
    userInfo: { username },
    object: pod,
    dryRun: true,
  };
}

export function injectWorkload(input: unknown, defaultNamespace: string, ctx: PodContext): WorkloadResult {
  if (!isObject(input)) return { object: input, label: '(not an object)' };
  const meta = isObject(input.metadata) ? input.metadata : {};
  const text = (v: unknown): string => (typeof v === 'string' ? v : '?');
  const label = `${text(input.kind)}/${text(meta.name ?? meta.generateName)}`;
  const namespace = typeof meta.namespace === 'string' && meta.namespace !== '' ? meta.namespace : defaultNamespace;
  if (input.kind === 'Pod' && (input.apiVersion ?? 'v1') === 'v1') {
    const pod = input as RawPod;
    const decision = decidePod(podCreateRequest(pod, namespace, label), ctx);
    const object = decision.response.patch
      ? fjp.applyPatch(structuredClone(pod), patchOps(decision.response), true, false).newDocument
      : input;
    return { object, decision, label };
  }
  const out = structuredClone(input);
  const template = podTemplate(out);
  if (!template) return { object: input, label };
  const pod: RawPod = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { ...(template.metadata ?? {}), namespace },
    spec: (template.spec ?? {}) as RawPod['spec'],
  };
  const decision = decidePod(podCreateRequest(pod, namespace, label), ctx);
  if (decision.response.patch) {
    const patched = fjp.applyPatch(structuredClone(pod), patchOps(decision.response), true, false).newDocument;
    const { namespace: _ns, ...metadata } = patched.metadata ?? {};
    template.metadata = metadata;
    template.spec = patched.spec;
  }
  return { object: decision.response.patch ? out : input, decision, label };
}
