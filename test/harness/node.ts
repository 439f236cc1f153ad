// A real node for the tests: containerd (Debian's, its own root, state, socket, runc root and CNI config
// in a temp folder; pods on a private bridge) and a kubelet (.testbin/, built by scripts/build-testbin.sh)
// registered with the test API server, its root folder a shared mount (Bidirectional propagation needs
// one). The image the project's Dockerfile builds is imported into containerd, so pods run what users run.
// stop() — or, failing that, process exit or a signal — deletes the node's pods, stops both processes,
// kills what containerd's shims left, unmounts everything under the temp folder (overlay roots, pod
// volumes, the kubelet's bind mount), deletes the pods' network namespaces, the bridge and its veths,
// and removes the folder.
import { execFile, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  accessSync,
  constants,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { stringify } from 'yaml';
import { DEFAULT_TESTBIN } from './binaries.js';
import { registerCleanup } from './cleanup.js';
import type { KubeObject } from './client.js';
import type { ControlPlane } from './controlplane.js';
import { buildProjectImage, type ProjectImage } from './image.js';
import {
  CNI_BIN_DIR,
  cniConflist,
  containerdConfig,
  kubeletArgs,
  kubeletConfig,
  nodeDirs,
  type NodeDirs,
} from './node-config.js';
import { killPids, links, makeSharedMount, netnsNames } from './node-host.js';
import { startReaper } from './node-reaper.js';
import {
  cniConflistPath,
  NODE_DIR_PREFIX,
  sweepNode,
  sweepStaleNodes,
  writeOwner,
  type NodeNet,
} from './node-sweep.js';
import { freePort } from './ports.js';
import { spawnManaged, type ManagedProcess } from './processes.js';
import { waitFor } from './wait.js';

/** Why a real node cannot be started here (null when it can). */
export function nodeUnavailable(testbin: string = DEFAULT_TESTBIN): string | null {
  if (process.platform !== 'linux') return 'a test node needs Linux';
  if (process.getuid?.() !== 0) return 'a test node needs root (containerd, mounts, network namespaces)';
  const missing: string[] = [];
  const onPath = (cmd: string) => spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
  for (const cmd of ['containerd', 'ctr', 'runc', 'podman', 'debootstrap', 'ip']) if (!onPath(cmd)) missing.push(cmd);
  for (const plugin of ['bridge', 'host-local', 'loopback'])
    if (!existsSync(path.join(CNI_BIN_DIR, plugin))) missing.push(`${CNI_BIN_DIR}/${plugin}`);
  try {
    accessSync(path.join(testbin, 'kubelet'), constants.X_OK);
  } catch {
    missing.push(`${testbin}/kubelet (scripts/build-testbin.sh k8s)`);
  }
  return missing.length ? `missing for a test node: ${missing.join(', ')} — run scripts/setup.sh` : null;
}

export interface NodeOptions {
  controlPlane: ControlPlane;
  nodeName?: string;
  testbin?: string;
  /** How long to wait for the Node to be Ready (default 120 s). */
  readyTimeoutMs?: number;
  /** Folders the node's watchdog removes with it when this process dies before cleaning up. */
  alsoRemove?: string[];
}

interface ExecResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface TestNode {
  name: string;
  dirs: NodeDirs;
  image: ProjectImage;
  bridge: string;
  subnet: string;
  /** The kubelet's and containerd's last log lines. */
  logs(lines?: number): string;
  /** `ctr -n k8s.io ARGS` against this node's containerd. */
  ctr(args: string[], opts?: { timeoutMs?: number; input?: string }): Promise<ExecResult>;
  /** The containerd id of a pod's container (regular or init/sidecar), from the pod's status. */
  containerId(namespace: string, pod: string, container: string): Promise<string>;
  /** Runs `argv` in a running container (the container's user, capabilities and root filesystem). */
  exec(
    namespace: string,
    pod: string,
    container: string,
    argv: string[],
    opts?: { timeoutMs?: number; input?: string },
  ): Promise<ExecResult>;
  /** Everything the container wrote (all its restarts), read from the kubelet's pod log folder. */
  podLog(namespace: string, pod: string, container: string): string;
  /** Writes a static pod manifest into the kubelet's folder. */
  writeStaticPod(file: string, pod: KubeObject): void;
  removeStaticPod(file: string): void;
  /** The host-side pids of a container's processes (its init and everything under it). */
  containerPids(containerId: string): Promise<number[]>;
  /** Links on the host that belong to this node (its bridge and the veths on it). */
  ownLinks(): string[];
  stop(): Promise<void>;
}

const NS = 'k8s.io';

/** A random private /24 for the pods (10.200.0.0/16 – 10.239.0.0/16) and a bridge name of ≤ 15 chars. */
function networkNames(): NodeNet {
  const r = randomBytes(3);
  const bridge = `srbr${r.toString('hex')}`;
  return { bridge, subnet: `10.${200 + (r[0]! % 40)}.${r[1]}.0/24`, network: `socat-relay-${bridge}` };
}

export async function startNode(opts: NodeOptions): Promise<TestNode> {
  const why = nodeUnavailable(opts.testbin);
  if (why) throw new Error(why);
  const name = opts.nodeName ?? 'test-node';
  const cp = opts.controlPlane;
  const image = await buildProjectImage();
  // A node of an earlier run that was killed before it could clean up would hold the agent's port.
  sweepStaleNodes();
  const dirs = nodeDirs(mkdtempSync(path.join(os.tmpdir(), NODE_DIR_PREFIX)));
  for (const d of [
    dirs.containerdRoot,
    dirs.containerdState,
    dirs.runcRoot,
    dirs.cniConfDir,
    dirs.kubeletRoot,
    dirs.staticPodDir,
    dirs.podLogsDir,
    dirs.volumePluginDir,
    dirs.ipamDir,
  ]) {
    mkdirSync(d, { recursive: true });
  }
  writeOwner(dirs);
  // Sweeps the node if this process dies before it could (SIGKILL, an exit handler cut short).
  const reaper = startReaper(dirs.base, [...(opts.alsoRemove ?? []), opts.controlPlane.dir]);
  const net = networkNames();
  const netnsBefore = new Set(netnsNames());
  const seenLinks = new Set<string>([net.bridge]);
  const procs: ManagedProcess[] = [];
  const f = (n: string) => path.join(dirs.base, n);

  const ctrArgs = (args: string[]) => ['-a', dirs.containerdSocket, '-n', NS, ...args];
  const ctr = (args: string[], o: { timeoutMs?: number; input?: string } = {}): Promise<ExecResult> =>
    new Promise((resolve) => {
      const child = execFile(
        'ctr',
        ctrArgs(args),
        { timeout: o.timeoutMs ?? 60_000, maxBuffer: 16 << 20 },
        (err, stdout, stderr) => {
          const code = err
            ? typeof (err as { code?: unknown }).code === 'number'
              ? (err as { code: number }).code
              : null
            : 0;
          resolve({ code, stdout, stderr });
        },
      );
      if (o.input !== undefined) child.stdin?.end(o.input);
      else child.stdin?.end();
    });
  const recordLinks = () => {
    for (const l of links()) if (l.master === net.bridge) seenLinks.add(l.ifname);
  };

  // Synchronous, so that the exit/signal handlers can run it as well.
  let tornDown = false;
  const teardownSync = (): string[] => {
    if (tornDown) return [];
    tornDown = true;
    for (const p of procs) if (p.running() && p.child.pid) killPids([p.child.pid]);
    recordLinks();
    return sweepNode(dirs, { net, netnsBefore });
  };
  const unregister = registerCleanup(() => void teardownSync(), { phase: 'files' });

  const logs = (lines = 40) => procs.map((p) => `--- ${p.name} ---\n${p.logTail(lines)}`).join('\n');
  try {
    // containerd
    writeFileSync(f('containerd.toml'), containerdConfig(dirs, { sandboxImage: image.pauseImage }));
    writeFileSync(cniConflistPath(dirs), JSON.stringify(cniConflist({ ...net, ipamDataDir: dirs.ipamDir }), null, 2));
    const containerd = spawnManaged(
      'containerd',
      'containerd',
      ['--config', f('containerd.toml'), '--log-level', 'info'],
      { logFile: f('containerd.log') },
    );
    procs.push(containerd);
    await waitFor(
      'containerd to answer',
      async () => {
        if (!containerd.running()) throw new Error(`containerd exited:\n${containerd.logTail()}`);
        return (await ctr(['version'], { timeoutMs: 5000 })).code === 0;
      },
      { timeoutMs: 30_000, intervalMs: 200 },
    );
    for (const [img, archive] of [
      [image.pauseImage, image.pauseArchive],
      [image.image, image.archive],
      [image.sidecarImage, image.sidecarArchive],
    ] as const) {
      const res = await ctr(['images', 'import', '--base-name', img.replace(/:[^:/]+$/, ''), archive], {
        timeoutMs: 300_000,
      });
      const listed = await ctr(['images', 'ls', '-q']);
      if (!listed.stdout.split('\n').includes(img)) {
        throw new Error(
          `ctr images import ${archive} did not give ${img} (exit ${res.code}): ${res.stderr}${res.stdout}\nimages: ${listed.stdout}`,
        );
      }
    }

    // kubelet
    makeSharedMount(dirs.kubeletRoot);
    const [port, healthzPort] = [await freePort(), await freePort()];
    writeFileSync(dirs.kubeletConfig, stringify(kubeletConfig(dirs, { port, healthzPort })));
    const kubelet = spawnManaged(
      'kubelet',
      path.join(opts.testbin ?? DEFAULT_TESTBIN, 'kubelet'),
      kubeletArgs(dirs, { kubeconfig: cp.kubeconfigPath, nodeName: name }),
      {
        logFile: f('kubelet.log'),
      },
    );
    procs.push(kubelet);
    await waitFor(
      `node ${name} Ready`,
      async () => {
        if (!kubelet.running()) throw new Error(`kubelet exited:\n${kubelet.logTail()}`);
        const node = await cp.client.getOrUndefined<{ status?: { conditions?: { type: string; status: string }[] } }>(
          'v1',
          'Node',
          name,
        );
        return node?.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;
      },
      { timeoutMs: opts.readyTimeoutMs ?? 120_000, intervalMs: 500 },
    );
  } catch (err) {
    const problems = teardownSync();
    unregister();
    if (reaper) killPids([reaper]);
    throw new Error(
      `${(err as Error).message}\n${logs()}${problems.length ? `\ncleanup: ${problems.join('; ')}` : ''}`,
      { cause: err },
    );
  }

  const podStatus = async (namespace: string, pod: string) =>
    cp.client.get<{
      status?: {
        containerStatuses?: { name: string; containerID?: string }[];
        initContainerStatuses?: { name: string; containerID?: string }[];
      };
      metadata: { uid: string };
    }>('v1', 'Pod', pod, namespace);
  const containerId = async (namespace: string, pod: string, container: string): Promise<string> => {
    const p = await podStatus(namespace, pod);
    const st = [...(p.status?.containerStatuses ?? []), ...(p.status?.initContainerStatuses ?? [])].find(
      (c) => c.name === container,
    );
    if (!st?.containerID) throw new Error(`pod ${namespace}/${pod} has no running container ${container} yet`);
    return st.containerID.replace(/^containerd:\/\//, '');
  };
  let execCounter = 0;

  return {
    name,
    dirs,
    image,
    bridge: net.bridge,
    subnet: net.subnet,
    logs,
    ctr,
    containerId,
    async exec(namespace, pod, container, argv, o = {}) {
      const id = await containerId(namespace, pod, container);
      return ctr(['tasks', 'exec', '--exec-id', `test-${process.pid}-${++execCounter}`, id, ...argv], o);
    },
    podLog(namespace, pod, container) {
      const podDir = readdirSync(dirs.podLogsDir).find((d) => d.startsWith(`${namespace}_${pod}_`));
      if (!podDir) return '';
      const dir = path.join(dirs.podLogsDir, podDir, container);
      if (!existsSync(dir)) return '';
      // CRI log lines: "<time> <stream> <P|F> <text>"; files 0.log, 1.log, … one per restart.
      return readdirSync(dir)
        .filter((e) => /^\d+\.log$/.test(e))
        .sort((a, b) => parseInt(a, 10) - parseInt(b, 10))
        .map((e) =>
          readFileSync(path.join(dir, e), 'utf8')
            .split('\n')
            .filter(Boolean)
            .map((l) => l.split(' ').slice(3).join(' '))
            .join('\n'),
        )
        .join('\n');
    },
    writeStaticPod(file, pod) {
      writeFileSync(path.join(dirs.staticPodDir, file), stringify(pod));
    },
    removeStaticPod(file) {
      rmSync(path.join(dirs.staticPodDir, file), { force: true });
    },
    async containerPids(id) {
      const res = await ctr(['tasks', 'ps', id]);
      if (res.code !== 0) throw new Error(`ctr tasks ps ${id}: ${res.stderr}`);
      return res.stdout
        .split('\n')
        .slice(1)
        .map((l) => Number(l.trim().split(/\s+/)[0]))
        .filter((n) => n > 0);
    },
    ownLinks() {
      recordLinks();
      return [...seenLinks];
    },
    async stop() {
      recordLinks();
      // Orderly first: static pods out of the folder, the node's pods deleted, the kubelet tears them
      // down (CNI DEL, volumes unmounted); then the sweep.
      for (const e of readdirSync(dirs.staticPodDir)) rmSync(path.join(dirs.staticPodDir, e), { force: true });
      try {
        const pods = await cp.client.request<{ items: { metadata: { name: string; namespace: string } }[] }>(
          'GET',
          '/api/v1/pods',
          { query: { fieldSelector: `spec.nodeName=${name}` } },
        );
        for (const p of pods.items) {
          await cp.client
            .request('DELETE', `/api/v1/namespaces/${p.metadata.namespace}/pods/${p.metadata.name}`, {
              query: { gracePeriodSeconds: '0' },
            })
            .catch(() => undefined);
        }
        await waitFor(
          'the kubelet to stop every container',
          async () => (await ctr(['tasks', 'ls', '-q'])).stdout.trim() === '',
          { timeoutMs: 60_000, intervalMs: 500 },
        );
        // The pause container stops before the sandbox's network is torn down and its namespace removed:
        // containerd must stay up until it has done both.
        await waitFor(
          "containerd to remove the pods' network namespaces",
          () => netnsNames().every((n) => netnsBefore.has(n) || !n.startsWith('cni-')),
          { timeoutMs: 30_000, intervalMs: 250 },
        );
      } catch {
        // the sweep below kills what is left
      }
      for (const p of [...procs].reverse()) await p.stop(10_000);
      const problems = teardownSync();
      unregister();
      if (reaper) killPids([reaper]);
      if (problems.length) throw new Error(`test node cleanup: ${problems.join('; ')}`);
    },
  };
}
