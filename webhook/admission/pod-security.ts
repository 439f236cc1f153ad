// Pod Security and the hostPath volume source: the baseline and restricted levels forbid hostPath
// volumes, so a consumer injected with one in such a namespace would be refused by PodSecurity
// admission with a message that cannot say what to do. The webhook refuses it first (enforce) or
// warns (warn), naming the fix: the CSI volume source, which both levels allow.
import type { VolumeSource } from './options.js';

const PSS_ENFORCE_LABEL = 'pod-security.kubernetes.io/enforce';
const PSS_WARN_LABEL = 'pod-security.kubernetes.io/warn';
const FORBID_HOST_PATH = new Set(['baseline', 'restricted']);

function podSecurityMessage(namespace: string, level: string): string {
  return `namespace "${namespace}" enforces Pod Security level ${level}, which forbids the hostPath volume socat-relay injects in hostPath mode: run the controller with --volume-source csi (SOCAT_RELAY_VOLUME_SOURCE=csi, with the csi.socat.io driver installed) so the pod mounts its relay folder through a CSI volume`;
}

const POD_SECURITY_WARNING =
  'socat-relay: Pod Security warn level forbids hostPath; use the CSI volume source (--volume-source csi)';

/** A denial message (enforce) and/or a warning (warn) for a hostPath injection into this namespace. */
export function podSecurityVerdict(
  source: VolumeSource,
  namespace: string,
  labels: Record<string, string> | undefined,
): { deny?: string; warn?: string } {
  if (source !== 'hostPath' || !labels) return {};
  const enforce = labels[PSS_ENFORCE_LABEL];
  if (enforce !== undefined && FORBID_HOST_PATH.has(enforce)) return { deny: podSecurityMessage(namespace, enforce) };
  const warn = labels[PSS_WARN_LABEL];
  if (warn !== undefined && FORBID_HOST_PATH.has(warn)) return { warn: POD_SECURITY_WARNING };
  return {};
}
