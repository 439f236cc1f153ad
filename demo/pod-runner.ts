// Runs one container of a pod the way a kubelet would, enough for a socat sidecar: in the pod's network
// namespace, with its hostPath volumes bind-mounted at their mountPaths (read-only where the pod says
// so) in a private mount namespace, as the container's runAsUser/runAsGroup. The command is the
// container's own `command` + `args` as the API server returned them, unchanged.
import { existsSync } from 'node:fs';
import path from 'node:path';
import type { ChildProcess } from 'node:child_process';
import type { NetNs } from '../test/harness/netns.js';

class ContainerNotRunnableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ContainerNotRunnableError';
  }
}

interface Container {
  name: string;
  command?: string[];
  args?: string[];
  volumeMounts?: { name: string; mountPath: string; readOnly?: boolean }[];
  securityContext?: { runAsUser?: number; runAsGroup?: number };
}
export interface PodLike {
  spec: {
    containers: Container[];
    initContainers?: Container[];
    volumes?: { name: string; hostPath?: { path: string } }[];
    securityContext?: { runAsUser?: number; runAsGroup?: number };
  };
}

function findContainer(pod: PodLike, name: string): Container | undefined {
  return [...(pod.spec.initContainers ?? []), ...pod.spec.containers].find((c) => c.name === name);
}

const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/** The shell script (run under `unshare --mount`) that sets the mounts up and execs the command. */
function containerScript(
  pod: PodLike,
  name: string,
  exists: (p: string) => boolean = existsSync,
): { script: string; argv: string[] } {
  const c = findContainer(pod, name);
  if (!c) throw new ContainerNotRunnableError(`the pod has no container ${name}`);
  const argv = [...(c.command ?? []), ...(c.args ?? [])];
  if (!c.command || argv.length === 0)
    throw new ContainerNotRunnableError(
      `container ${name} has no command: it would run its image's entrypoint, which this runner cannot`,
    );
  const lines = ['set -e'];
  for (const m of c.volumeMounts ?? []) {
    const v = pod.spec.volumes?.find((x) => x.name === m.name);
    if (!v?.hostPath) continue; // only hostPath volumes matter for the sidecar
    if (!exists(m.mountPath)) {
      // Put a tmpfs on the deepest existing ancestor so the mount point is made inside this mount
      // namespace only, never on the host.
      let anchor = path.posix.dirname(m.mountPath);
      while (!exists(anchor)) anchor = path.posix.dirname(anchor);
      lines.push(`mount -t tmpfs -o mode=0755 socat-relay-demo ${q(anchor)}`, `mkdir -p ${q(m.mountPath)}`);
    }
    lines.push(`mount --bind ${q(v.hostPath.path)} ${q(m.mountPath)}`);
    if (m.readOnly) lines.push(`mount -o remount,bind,ro ${q(m.mountPath)}`);
  }
  const uid = c.securityContext?.runAsUser ?? pod.spec.securityContext?.runAsUser;
  const gid = c.securityContext?.runAsGroup ?? pod.spec.securityContext?.runAsGroup ?? uid;
  const user = uid !== undefined ? `setpriv --reuid ${uid} --regid ${gid} --clear-groups -- ` : '';
  lines.push(`exec ${user}${argv.map(q).join(' ')}`);
  return { script: lines.join('\n'), argv };
}

/** Starts the container inside `ns`; the returned process is killed by ns.delete(). */
export function runContainer(ns: NetNs, pod: PodLike, name: string): { child: ChildProcess; argv: string[] } {
  const { script, argv } = containerScript(pod, name);
  const child = ns.spawn('unshare', ['--mount', '--propagation', 'private', 'sh', '-c', script]);
  return { child, argv };
}
