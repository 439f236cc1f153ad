// Where a pod can run, decided as the scheduler does for what the examples use: the pod's nodeSelector,
// its required node affinity (terms OR-ed, expressions AND-ed) and the node's NoSchedule/NoExecute taints
// against its tolerations. And which nodes a DaemonSet makes pods for: those its template fits, because
// the DaemonSet controller decides from the template, before the webhook adds the relays' affinity.
// Node-affinity operators Gt/Lt are not used by the examples; relay/selector.ts refuses them (false).
import { matchesLabelSelector, matchesNodeSelector } from '../../relay/selector.js';
import type { LabelSelector } from '../../relay/types.js';

export interface Taint { key: string; value?: string; effect: 'NoSchedule' | 'NoExecute' | 'PreferNoSchedule' }
export interface Toleration { key?: string; operator?: 'Exists' | 'Equal'; value?: string; effect?: string }
export interface ClusterNode { name: string; labels: Record<string, string>; taints: Taint[] }

interface PodSpecLike {
  nodeSelector?: Record<string, string>;
  tolerations?: Toleration[];
  affinity?: { nodeAffinity?: { requiredDuringSchedulingIgnoredDuringExecution?: { nodeSelectorTerms?: { matchExpressions?: { key: string; operator: string; values?: string[] }[] }[] } } };
}

/** A kubeadm cluster with workers: one tainted control-plane node, a Docker worker, a plain worker. */
export const MULTI_NODE: ClusterNode[] = [
  { name: 'cp-1', labels: { 'kubernetes.io/hostname': 'cp-1', 'node-role.kubernetes.io/control-plane': '' }, taints: [{ key: 'node-role.kubernetes.io/control-plane', effect: 'NoSchedule' }] },
  { name: 'worker-docker', labels: { 'kubernetes.io/hostname': 'worker-docker', 'example.com/docker': 'true' }, taints: [] },
  { name: 'worker-2', labels: { 'kubernetes.io/hostname': 'worker-2' }, taints: [] },
];

export function tolerates(tolerations: Toleration[], taint: Taint): boolean {
  return tolerations.some((t) => {
    if (t.effect && t.effect !== taint.effect) return false;
    if (t.operator === 'Exists') return t.key === undefined || t.key === '' || t.key === taint.key;
    return t.key === taint.key && (t.value ?? '') === (taint.value ?? '');
  });
}

/** Whether a pod with this spec can be scheduled on the node (PreferNoSchedule does not count). */
export function fits(spec: PodSpecLike, node: ClusterNode): boolean {
  if (!matchesNodeSelector(spec.nodeSelector ?? {}, node.labels)) return false;
  const terms = spec.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution?.nodeSelectorTerms;
  if (terms && terms.length > 0 && !terms.some((t) => matchesLabelSelector({ matchExpressions: t.matchExpressions ?? [] } as LabelSelector, node.labels))) return false;
  return node.taints.filter((t) => t.effect !== 'PreferNoSchedule').every((t) => tolerates(spec.tolerations ?? [], t));
}

export function nodesFor(spec: PodSpecLike, nodes: ClusterNode[] = MULTI_NODE): string[] {
  return nodes.filter((n) => fits(spec, n)).map((n) => n.name);
}
