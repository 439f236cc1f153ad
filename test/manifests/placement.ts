// Where a pod can run, decided by the kube-scheduler's own filter rules, written out here from the
// Kubernetes API reference (NodeAffinity and TaintToleration plugins) rather than taken from the
// product's selector code, so the product is never its own judge:
//   - spec.nodeSelector: every key present on the node with an equal value;
//   - requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms: OR-ed; within a term the
//     matchExpressions are AND-ed; a term without expressions matches no node; In / NotIn / Exists /
//     DoesNotExist / Gt / Lt as the API reference defines them (NotIn and DoesNotExist hold where the
//     label is absent; Gt/Lt compare integers and fail where either side is not one);
//   - every NoSchedule and NoExecute taint of the node tolerated (PreferNoSchedule does not filter):
//     a toleration's empty effect matches every effect, operator Exists with an empty key every taint,
//     Exists matches any value, Equal (the default) the same value.
// And which nodes a DaemonSet makes pods for: those its template fits, because the DaemonSet controller
// decides from the template, before the webhook adds the relays' affinity.
// The examples' test also holds a literal table of the nodes each consumer lands on. A real scheduler's
// placement on several nodes comes with the kind suite (test/kind), once it runs more than one node.

interface Taint {
  key: string;
  value?: string;
  effect: 'NoSchedule' | 'NoExecute' | 'PreferNoSchedule';
}
interface Toleration {
  key?: string;
  operator?: 'Exists' | 'Equal';
  value?: string;
  effect?: string;
}
export interface ClusterNode {
  name: string;
  labels: Record<string, string>;
  taints: Taint[];
}
export interface Requirement {
  key: string;
  operator: string;
  values?: string[];
}

interface PodSpecLike {
  nodeSelector?: Record<string, string>;
  tolerations?: Toleration[];
  affinity?: {
    nodeAffinity?: {
      requiredDuringSchedulingIgnoredDuringExecution?: { nodeSelectorTerms?: { matchExpressions?: Requirement[] }[] };
    };
  };
}

/** A kubeadm cluster with workers: one tainted control-plane node, a Docker worker, a plain worker. */
export const MULTI_NODE: ClusterNode[] = [
  {
    name: 'cp-1',
    labels: { 'kubernetes.io/hostname': 'cp-1', 'node-role.kubernetes.io/control-plane': '' },
    taints: [{ key: 'node-role.kubernetes.io/control-plane', effect: 'NoSchedule' }],
  },
  {
    name: 'worker-docker',
    labels: { 'kubernetes.io/hostname': 'worker-docker', 'example.com/docker': 'true' },
    taints: [],
  },
  { name: 'worker-2', labels: { 'kubernetes.io/hostname': 'worker-2' }, taints: [] },
];

function tolerates(tolerations: Toleration[], taint: Taint): boolean {
  return tolerations.some((t) => {
    if (t.effect && t.effect !== taint.effect) return false;
    if (t.operator === 'Exists') return t.key === undefined || t.key === '' || t.key === taint.key;
    return t.key === taint.key && (t.value ?? '') === (taint.value ?? '');
  });
}

const INTEGER = /^-?\d+$/;

/** One matchExpression against a node's labels. An operator the API does not have matches nothing. */
export function requirementHolds(r: Requirement, labels: Record<string, string>): boolean {
  const has = Object.hasOwn(labels, r.key);
  const value = labels[r.key];
  const values = r.values ?? [];
  switch (r.operator) {
    case 'In':
      return has && values.includes(value!);
    case 'NotIn':
      return !has || !values.includes(value!);
    case 'Exists':
      return has;
    case 'DoesNotExist':
      return !has;
    case 'Gt':
    case 'Lt': {
      if (!has || values.length !== 1 || !INTEGER.test(value!) || !INTEGER.test(values[0]!)) return false;
      return r.operator === 'Gt' ? BigInt(value!) > BigInt(values[0]!) : BigInt(value!) < BigInt(values[0]!);
    }
    default:
      return false;
  }
}

/** Whether a pod with this spec passes the scheduler's node-affinity and taint filters on the node. */
export function fits(spec: PodSpecLike, node: ClusterNode): boolean {
  if (!Object.entries(spec.nodeSelector ?? {}).every(([k, v]) => Object.hasOwn(node.labels, k) && node.labels[k] === v))
    return false;
  const required = spec.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution;
  if (
    required &&
    !(required.nodeSelectorTerms ?? []).some(
      (t) =>
        (t.matchExpressions ?? []).length > 0 && t.matchExpressions!.every((r) => requirementHolds(r, node.labels)),
    )
  )
    return false;
  return node.taints.filter((t) => t.effect !== 'PreferNoSchedule').every((t) => tolerates(spec.tolerations ?? [], t));
}

export function nodesFor(spec: PodSpecLike, nodes: ClusterNode[] = MULTI_NODE): string[] {
  return nodes.filter((n) => fits(spec, n)).map((n) => n.name);
}
