// A "pod" for the data-path tests: a network namespace of its own, and sidecars run exactly as the
// injector wrote them (command, user, group, the relay folder mounted read-only at its mountPath).
import { spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { parseAllDocuments, stringify } from 'yaml';
import { NetNs } from './netns.js';
import { waitFor } from './agent.js';

const ROOT = path.resolve(import.meta.dirname, '../..');

export interface InjectedSidecar {
  name: string;
  command: string[];
  uid: number;
  gid: number;
  mountPath: string;
  /** The hostPath of the sidecar's volume: the relay's folder on the node. */
  hostPath: string;
}

interface RawContainer {
  name: string;
  command?: string[];
  args?: string[];
  securityContext?: { runAsUser?: number; runAsGroup?: number };
  volumeMounts?: { name: string; mountPath: string; readOnly?: boolean }[];
}

/**
 * Runs `socat-relay inject -f POD --relays RELAYS` on a labelled pod and returns its socat sidecars
 * (the real injection result, not a retyped command line).
 */
export async function injectSidecars(
  dir: string,
  relays: object[],
  consume: string[],
  nodeSocketDir: string,
  namespace = 'default',
): Promise<InjectedSidecar[]> {
  const podFile = path.join(dir, 'pod.yaml');
  const relaysFile = path.join(dir, 'relays.yaml');
  await writeFile(
    podFile,
    stringify({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: {
        name: 'consumer',
        namespace,
        labels: { 'socat.io/consume': consume[0] },
        annotations: { 'socat.io/consume': consume.join(',') },
      },
      spec: { containers: [{ name: 'app', image: 'busybox' }] },
    }),
  );
  await writeFile(relaysFile, relays.map((r) => stringify(r)).join('---\n'));
  const out = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        path.join(ROOT, 'cli/main.ts'),
        'inject',
        '-f',
        podFile,
        '--relays',
        relaysFile,
        '--socket-dir',
        nodeSocketDir,
      ],
      { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
  if (out.code !== 0) throw new Error(`socat-relay inject exited ${out.code}: ${out.stderr}`);
  const pod = parseAllDocuments(out.stdout)
    .map(
      (d) =>
        d.toJS() as {
          kind?: string;
          spec?: {
            containers?: RawContainer[];
            initContainers?: RawContainer[];
            volumes?: { name: string; hostPath?: { path: string } }[];
          };
        },
    )
    .find((d) => d?.kind === 'Pod');
  if (!pod) throw new Error(`inject printed no Pod:\n${out.stdout}`);
  const all = [...(pod.spec?.initContainers ?? []), ...(pod.spec?.containers ?? [])];
  return all
    .filter((c) => c.name.startsWith('socat-'))
    .map((c) => {
      const command = [...(c.command ?? []), ...(c.args ?? [])];
      const mount = c.volumeMounts?.[0];
      const hostPath = pod.spec?.volumes?.find((v) => v.name === mount?.name)?.hostPath?.path;
      if (!mount || !hostPath || command.length === 0)
        throw new Error(`sidecar ${c.name} has no command, mount or hostPath volume`);
      return {
        name: c.name,
        command,
        uid: c.securityContext?.runAsUser ?? 0,
        gid: c.securityContext?.runAsGroup ?? 0,
        mountPath: mount.mountPath,
        hostPath,
      };
    });
}

/**
 * Starts a sidecar in the pod's namespace: a private /run (tmpfs), its hostPath volume (the node's
 * relay folder) bind-mounted read-only at its mountPath, then its command as its uid/gid.
 */
export function startSidecar(ns: NetNs, sc: InjectedSidecar): ReturnType<NetNs['spawn']> {
  const script = [
    'set -e',
    'mount -t tmpfs -o mode=0755 tmpfs /run',
    'mkdir -p "$2"',
    'mount --bind "$1" "$2"',
    'mount -o remount,bind,ro "$2"',
    'uid=$3; gid=$4; shift 4',
    'exec setpriv --reuid="$uid" --regid="$gid" --clear-groups --no-new-privs "$@"',
  ].join('\n');
  return ns.spawn('sh', [
    '-c',
    script,
    'sidecar',
    sc.hostPath,
    sc.mountPath,
    String(sc.uid),
    String(sc.gid),
    ...sc.command,
  ]);
}

/** Waits until something listens on 127.0.0.1:port (tcp or udp) inside the namespace. */
export function waitListening(ns: NetNs, proto: 'tcp' | 'udp', port: number): Promise<true> {
  return waitFor(
    `${proto} port ${port} listening in ${ns.name}`,
    async () => {
      const r = await ns.run('ss', [proto === 'tcp' ? '-Hltn' : '-Hlun', `sport = :${port}`], { timeoutMs: 3000 });
      return r.stdout.trim() !== '' ? (true as const) : undefined;
    },
    10_000,
  );
}
