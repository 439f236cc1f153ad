// Runs a consumer through the real pure pod admission (webhook/admission decidePod, the function the
// webhook and `socat-relay inject` call) and applies the returned patch, as the API server would.
import fjp from 'fast-json-patch';
import type { Relay } from '../../relay/index.js';
import { StaticCatalog } from '../../webhook/catalog/catalog.js';
import {
  decidePod,
  defaultInjectOptions,
  patchOps,
  podCreateRequest,
  type RawPod,
  type SidecarMode,
} from '../../webhook/admission/index.js';

export interface InjectResult {
  allowed: boolean;
  message?: string;
  warnings: string[];
  /** The pod after the patch (the original when nothing changed or when denied). */
  pod: RawPod;
}

/** A Pod built from a workload's pod template (what the workload's controller would create). */
export function podFromWorkload(workload: {
  kind: string;
  metadata: { name: string; namespace?: string };
  spec: any;
}): RawPod {
  if (workload.kind === 'Pod') return structuredClone(workload);
  const template = workload.kind === 'CronJob' ? workload.spec.jobTemplate.spec.template : workload.spec.template;
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      ...structuredClone(template.metadata ?? {}),
      name: `${workload.metadata.name}-abcde`,
      namespace: workload.metadata.namespace,
    },
    spec: structuredClone(template.spec),
  };
}

export function injectPod(
  pod: RawPod,
  relays: unknown[],
  opts: { mode?: SidecarMode; namespaceLabels?: Record<string, Record<string, string>>; image?: string } = {},
): InjectResult {
  const namespace = pod.metadata?.namespace ?? 'default';
  const decision = decidePod(
    podCreateRequest(pod, namespace, 'example', 'system:serviceaccount:kube-system:daemon-set-controller'),
    {
      catalog: new StaticCatalog(relays as Relay[]),
      namespaceLabels: (ns) => opts.namespaceLabels?.[ns] ?? { 'kubernetes.io/metadata.name': ns },
      options: defaultInjectOptions({
        mode: opts.mode ?? 'native',
        ...(opts.image ? { sidecarImage: opts.image } : {}),
      }),
    },
  );
  const r = decision.response;
  const out = structuredClone(pod);
  if (r.allowed) fjp.applyPatch(out, patchOps(r), true, true);
  return {
    allowed: r.allowed,
    ...(r.status?.message ? { message: r.status.message } : {}),
    warnings: r.warnings ?? [],
    pod: out,
  };
}
