// Admission warnings about where a consumer can run: a relay whose nodeSelector picks control-plane
// nodes makes the pod schedulable only there (the webhook adds the relay's node requirements), and
// kubeadm taints those nodes node-role.kubernetes.io/control-plane:NoSchedule. Without a toleration the
// pod stays Pending and only the scheduler says why ("untolerated taint"); the warning says it at once.
import type { ResolvedRelay } from '../../relay/index.js';
import { isObject, type RawPodSpec } from './pod-shape.js';

const CONTROL_PLANE_TAINT = { key: 'node-role.kubernetes.io/control-plane', effect: 'NoSchedule', value: '' } as const;
/** Node labels that pick control-plane nodes (kubeadm's, and the label of clusters from before 1.24). */
const CONTROL_PLANE_LABELS = ['node-role.kubernetes.io/control-plane', 'node-role.kubernetes.io/master'];

/** True when one of the pod's tolerations tolerates the taint (the scheduler's rule). */
function tolerates(spec: RawPodSpec, taint: { key: string; effect: string; value: string }): boolean {
  const tolerations = Array.isArray(spec.tolerations) ? spec.tolerations : [];
  return tolerations.some((t) => {
    if (!isObject(t)) return false;
    const effectOk = t.effect === undefined || t.effect === '' || t.effect === taint.effect;
    if (!effectOk) return false;
    const op = t.operator ?? 'Equal';
    if (t.key === undefined || t.key === '') return op === 'Exists';
    if (t.key !== taint.key) return false;
    return op === 'Exists' || (op === 'Equal' && (t.value ?? '') === taint.value);
  });
}

function controlPlaneWarning(relay: string): string {
  return `socat-relay: relay ${relay} needs a toleration of ${CONTROL_PLANE_TAINT.key}:${CONTROL_PLANE_TAINT.effect}`;
}

/** One warning per relay that selects control-plane nodes, when the pod cannot run there. */
export function schedulingWarnings(spec: RawPodSpec, relays: readonly ResolvedRelay[]): string[] {
  if (tolerates(spec, CONTROL_PLANE_TAINT)) return [];
  return relays
    .filter((r) => CONTROL_PLANE_LABELS.some((l) => Object.hasOwn(r.nodeSelector, l)))
    .map((r) => controlPlaneWarning(r.name))
    .sort();
}
