// A one-node Kubernetes cluster in a container, started by testcontainers (through podman's
// Docker-compatible API, test/harness/podman.ts) the way the Java kindcontainer module does it: the kind
// node image run privileged with tmpfs /run and /tmp, an anonymous volume on /var, a private cgroup
// namespace on cgroup v2 (the host's on v1) and the host's /lib/modules; systemd in it starts containerd; `kubeadm
// init` with the
// configuration of node-config.ts; kind's own CNI manifest; wait for the node to be Ready.
// Why not the `kind` binary in a container: it is in no image here and would have to be downloaded at
// test time, and it needs a container engine inside; the node image alone carries kubeadm, the kubelet,
// kubectl and the control plane's images, so this needs nothing beyond that one image.
// kubectl runs inside the node (its admin.conf), so no port of the API server leaves the container.
import type { HostConfig } from 'dockerode';
import { existsSync, statfsSync } from 'node:fs';
import { waitFor } from '../harness/wait.js';
import { cgroupnsFor, cniManifest, KIND_NODE_IMAGE, kubeadmConfig } from './node-config.js';

/** The filesystem of the host's /sys/fs/cgroup as `stat -f -c %T` names it (statfs f_type, linux/magic.h). */
export function hostCgroupFs(): string {
  const type = statfsSync('/sys/fs/cgroup').type;
  return type === 0x63677270 ? 'cgroup2fs' : type === 0x01021994 ? 'tmpfs' : `0x${type.toString(16)}`;
}

interface ExecResult {
  exitCode: number;
  output: string;
}

class KindCommandError extends Error {
  constructor(
    readonly argv: string[],
    readonly exitCode: number,
    readonly output: string,
  ) {
    super(
      `${argv.join(' ')} failed in the kind node (exit ${exitCode}):\n${output.trim().split('\n').slice(-25).join('\n')}`,
    );
    this.name = 'KindCommandError';
  }
}

export interface KindNode {
  name: string;
  /** Runs argv inside the node; throws KindCommandError on a non-zero exit. */
  sh(argv: string[]): Promise<string>;
  /** The same, returning exit code and output instead of throwing. */
  try(argv: string[]): Promise<ExecResult>;
  kubectl(args: string[]): Promise<string>;
  /** Writes `content` to `target` inside the node. */
  write(target: string, content: string | Buffer): Promise<void>;
  /** Imports an OCI archive (from scripts/build-image.sh) into containerd's k8s.io namespace as `image`. */
  importImage(archive: string, image: string): Promise<void>;
  logs(): Promise<string>;
  stop(): Promise<void>;
}

/**
 * The container of a kind node, not started: `image` run privileged with tmpfs /run and /tmp, an
 * anonymous volume on /var, a private cgroup namespace on cgroup v2 (cgroupnsFor) and the host's
 * /lib/modules (read-only) where it has one — what
 * `kind create cluster` and kindcontainer give the node container.
 */
export async function kindNodeContainer(image: string, nodeName: string) {
  const { GenericContainer } = await import('testcontainers');
  const cgroupns = cgroupnsFor(hostCgroupFs());
  class KindNodeContainer extends GenericContainer {
    constructor() {
      super(image);
      (this.hostConfig as HostConfig & { CgroupnsMode?: string }).CgroupnsMode = cgroupns;
      // kind: --volume /var (containerd's store and the kubelet's folders must not be on overlayfs).
      this.createOpts.Volumes = { '/var': {} };
    }
  }
  return (
    new KindNodeContainer()
      .withName(`${nodeName}-${process.pid}`)
      .withHostname(nodeName)
      .withPrivilegedMode()
      .withSecurityOpt('seccomp=unconfined', 'apparmor=unconfined')
      .withTmpFs({ '/run': 'rw', '/tmp': 'rw' })
      // Only where the host has it: podman would create the folder on the host.
      .withBindMounts(
        existsSync('/lib/modules') ? [{ source: '/lib/modules', target: '/lib/modules', mode: 'ro' }] : [],
      )
      .withEnvironment({ container: 'docker', KUBECONFIG: '/etc/kubernetes/admin.conf' })
      .withStartupTimeout(120_000)
  );
}

export async function startKindNode(nodeName: string): Promise<KindNode> {
  const started = await (await kindNodeContainer(KIND_NODE_IMAGE, nodeName)).start();

  const tryExec = async (argv: string[]): Promise<ExecResult> => {
    const r = await started.exec(argv, { env: { KUBECONFIG: '/etc/kubernetes/admin.conf' } });
    return { exitCode: r.exitCode, output: r.output };
  };
  const sh = async (argv: string[]): Promise<string> => {
    const r = await tryExec(argv);
    if (r.exitCode !== 0) throw new KindCommandError(argv, r.exitCode, r.output);
    return r.output;
  };
  const node: KindNode = {
    name: nodeName,
    sh,
    try: tryExec,
    kubectl: (args) => sh(['kubectl', ...args]),
    write: (target, content) => started.copyContentToContainer([{ content, target }]),
    async importImage(archive, image) {
      const target = `/kind/socat-relay/${image.replace(/[^A-Za-z0-9.-]/g, '_')}.oci.tar`;
      await started.copyFilesToContainer([{ source: archive, target }]);
      // --base-name: podman's OCI archive names the image by its tag only; containerd needs the full name.
      await sh(['ctr', '-n', 'k8s.io', 'images', 'import', '--base-name', image.replace(/:[^:/]+$/, ''), target]);
      await sh(['rm', '-f', target]);
      const listed = await sh(['ctr', '-n', 'k8s.io', 'images', 'ls', '-q']);
      if (!listed.split('\n').includes(image))
        throw new Error(`ctr images import ${archive} did not give ${image}; images:\n${listed}`);
    },
    async logs() {
      const text = await sh(['journalctl', '--no-pager', '-n', '80', '-u', 'kubelet', '-u', 'containerd']).catch(
        (e: Error) => e.message,
      );
      return text.slice(-6000);
    },
    async stop() {
      await started.stop({ remove: true, removeVolumes: true }).catch(() => undefined);
    },
  };

  try {
    await waitFor(
      'systemd and containerd in the kind node',
      async () => (await tryExec(['ctr', 'version'])).exitCode === 0,
      { timeoutMs: 120_000, intervalMs: 1000 },
    );
    const kubernetesVersion = (await sh(['cat', '/kind/version'])).trim();
    const nodeIp = started.getIpAddress(started.getNetworkNames()[0]!);
    await node.write('/kind/kubeadm.conf', kubeadmConfig({ nodeName, nodeIp, kubernetesVersion }));
    await sh(['kubeadm', 'init', '--config=/kind/kubeadm.conf', '--skip-token-print', '--v=1']);
    await node.write('/kind/cni.yaml', cniManifest(await sh(['cat', '/kind/manifests/default-cni.yaml'])));
    await node.kubectl(['apply', '-f', '/kind/cni.yaml']);
    await node.kubectl(['wait', '--for=condition=Ready', `node/${nodeName}`, '--timeout=300s']);
  } catch (e) {
    const logs = await node.logs();
    await node.stop();
    throw new Error(`${(e as Error).message}\n--- kubelet/containerd journal ---\n${logs}`, { cause: e });
  }
  return node;
}
