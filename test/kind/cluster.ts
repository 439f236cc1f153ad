// A multi-node Kubernetes cluster in containers, started by testcontainers (through podman's
// Docker-compatible API, test/harness/podman.ts) the way kind does it: one network of its own, a
// control-plane node and workers, each the kind node image (scripts/build-kind-node.sh) run privileged
// with tmpfs /run and /tmp, an anonymous volume on /var, a private cgroup namespace on cgroup v2 (the
// host's on v1) and the host's /lib/modules where it has one; systemd in each starts containerd and
// imports the node's images; `kubeadm init` on the control plane with the configuration of
// node-config.ts, the node image's pod network (default-cni.yaml), `kubeadm join` on the workers; every
// node Ready.
// kubectl runs inside the control-plane node (its admin.conf), so no port of the API server leaves the
// containers.
import type { HostConfig } from 'dockerode';
import { randomBytes } from 'node:crypto';
import { existsSync, statfsSync } from 'node:fs';
import type { StartedNetwork, StartedTestContainer } from 'testcontainers';
import { DEFAULT_TESTBIN, missingFromTestbin } from '../harness/binaries.js';
import type { KindNodeImage } from '../harness/image.js';
import { waitFor } from '../harness/wait.js';
import { cgroupnsFor, cniManifest, joinConfig, kubeadmConfig } from './node-config.js';

/** The filesystem of the host's /sys/fs/cgroup as `stat -f -c %T` names it (statfs f_type, linux/magic.h). */
/**
 * Why scripts/build-kind-node.sh cannot build the node image and its side images (Prometheus, the
 * prometheus-operator variant's) here, or null: the Kubernetes binaries from `k8sDir` (K8S_BIN_DIR), the
 * rest from .testbin. A kind suite without them would fail inside the build instead of naming the part.
 */
export function nodeImageMissing(k8sDir = DEFAULT_TESTBIN, k8sComponent = 'k8s'): string | null {
  return (
    missingFromTestbin(
      ['kubeadm', 'kubelet', 'kubectl', 'kube-apiserver', 'kube-controller-manager', 'kube-scheduler', 'kube-proxy'],
      k8sComponent,
      k8sDir,
    ) ??
    missingFromTestbin(
      ['etcd', 'coredns', 'prometheus', 'operator', 'prometheus-config-reloader', 'kube-rbac-proxy'],
      'etcd coredns prometheus prometheus-operator',
    )
  );
}

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
    readonly node: string,
    readonly argv: string[],
    readonly exitCode: number,
    readonly output: string,
  ) {
    super(
      `${argv.join(' ')} failed in kind node ${node} (exit ${exitCode}):\n${output.trim().split('\n').slice(-25).join('\n')}`,
    );
    this.name = 'KindCommandError';
  }
}

interface KindNode {
  name: string;
  /** The node's address on the cluster's network (its InternalIP). */
  ip: string;
  /** Runs argv inside the node; throws KindCommandError on a non-zero exit. */
  sh(argv: string[]): Promise<string>;
  /** The same, returning exit code and output instead of throwing. */
  try(argv: string[]): Promise<ExecResult>;
  /** kubectl with the cluster's admin.conf (on the control-plane node; elsewhere after join it fails). */
  kubectl(args: string[]): Promise<string>;
  /** Writes `content` to `target` inside the node. */
  write(target: string, content: string | Buffer): Promise<void>;
  /** Imports an OCI archive (from scripts/build-image.sh) into containerd's k8s.io namespace as `image`. */
  importImage(archive: string, image: string): Promise<void>;
  logs(): Promise<string>;
  stop(): Promise<void>;
}

export interface KindCluster {
  controlPlane: KindNode;
  workers: KindNode[];
  /** Control plane first. */
  nodes: KindNode[];
  /** kubectl on the control-plane node. */
  kubectl(args: string[]): Promise<string>;
  /** Imports an OCI archive into every node. */
  importImage(archive: string, image: string): Promise<void>;
  stop(): Promise<void>;
}

/**
 * The container of a kind node, not started: `image` run privileged with tmpfs /run and /tmp, an
 * anonymous volume on /var, a private cgroup namespace on cgroup v2 (cgroupnsFor) and the host's
 * /lib/modules (read-only) where it has one — what `kind create cluster` gives the node container.
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

function wrap(started: StartedTestContainer, name: string, ip: string): KindNode {
  const tryExec = async (argv: string[]): Promise<ExecResult> => {
    const r = await started.exec(argv, { env: { KUBECONFIG: '/etc/kubernetes/admin.conf' } });
    return { exitCode: r.exitCode, output: r.output };
  };
  const sh = async (argv: string[]): Promise<string> => {
    const r = await tryExec(argv);
    if (r.exitCode !== 0) throw new KindCommandError(name, argv, r.exitCode, r.output);
    return r.output;
  };
  return {
    name,
    ip,
    sh,
    try: tryExec,
    kubectl: (args) => sh(['kubectl', ...args]),
    write: (target, content) => started.copyContentToContainer([{ content, target }]),
    async importImage(archive, image) {
      const target = `/kind/socat-relay-${image.replace(/[^A-Za-z0-9.-]/g, '_')}.oci.tar`;
      await started.copyFilesToContainer([{ source: archive, target }]);
      // --base-name: podman's OCI archive names the image by its tag only; containerd needs the full name.
      await sh(['ctr', '-n', 'k8s.io', 'images', 'import', '--base-name', image.replace(/:[^:/]+$/, ''), target]);
      await sh(['rm', '-f', target]);
      const listed = await sh(['ctr', '-n', 'k8s.io', 'images', 'ls', '-q']);
      if (!listed.split('\n').includes(image))
        throw new Error(`ctr images import ${archive} on ${name} did not give ${image}; images:\n${listed}`);
    },
    async logs() {
      const text = await sh(['journalctl', '--no-pager', '-n', '60', '-u', 'kubelet', '-u', 'containerd']).catch(
        (e: Error) => e.message,
      );
      return `--- ${name}: kubelet/containerd journal ---\n${text.slice(-5000)}`;
    },
    async stop() {
      await started.stop({ remove: true, removeVolumes: true }).catch(() => undefined);
    },
  };
}

async function startNode(image: string, name: string, network: StartedNetwork): Promise<KindNode> {
  const started = await (await kindNodeContainer(image, name)).withNetwork(network).start();
  const node = wrap(started, name, started.getIpAddress(network.getName()));
  try {
    // systemd up, containerd answering, the node's images imported (kind-preload.service).
    await waitFor(
      `containerd and the preloaded images in ${name}`,
      async () => (await node.try(['test', '-e', '/run/kind-preloaded'])).exitCode === 0,
      {
        timeoutMs: 240_000,
        intervalMs: 1000,
      },
    );
  } catch (e) {
    const logs = await node.logs();
    await node.stop();
    throw new Error(`${(e as Error).message}\n${logs}`, { cause: e });
  }
  return node;
}

export interface ClusterOptions {
  /** Node names: <name>-control-plane, <name>-worker, <name>-worker2, … as kind names them. */
  name: string;
  workers: number;
  nodeImage: KindNodeImage;
}

const tagOf = (image: string) => image.slice(image.lastIndexOf(':') + 1);

/** Starts the nodes, `kubeadm init` + pod network + `kubeadm join`, every node Ready. */
export async function startKindCluster(o: ClusterOptions): Promise<KindCluster> {
  const { Network } = await import('testcontainers');
  const network = await new Network().start();
  const names = [
    `${o.name}-control-plane`,
    ...Array.from({ length: o.workers }, (_, i) => `${o.name}-worker${i === 0 ? '' : i + 1}`),
  ];
  const settled = await Promise.allSettled(names.map((n) => startNode(o.nodeImage.image, n, network)));
  const nodes = settled.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
  const stop = async () => {
    await Promise.all(nodes.map((n) => n.stop()));
    await network.stop().catch(() => undefined);
  };
  const failed = settled.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) {
    await stop();
    throw failed.reason as Error;
  }
  const [cp, ...workers] = nodes as [KindNode, ...KindNode[]];
  const token = `${randomBytes(3).toString('hex')}.${randomBytes(8).toString('hex')}`;
  try {
    await cp.write(
      '/kind/kubeadm.conf',
      kubeadmConfig({
        nodeName: cp.name,
        nodeIp: cp.ip,
        kubernetesVersion: o.nodeImage.kubernetesVersion,
        etcdImageTag: tagOf(o.nodeImage.etcdImage),
        corednsImageTag: tagOf(o.nodeImage.corednsImage),
        controlPlaneTaint: workers.length > 0,
        bootstrapToken: token,
      }),
    );
    await cp.sh(['kubeadm', 'init', '--config=/kind/kubeadm.conf', '--skip-token-print', '--v=1']);
    await cp.write('/kind/cni.yaml', cniManifest(await cp.sh(['cat', '/kind/manifests/default-cni.yaml'])));
    await cp.kubectl(['apply', '-f', '/kind/cni.yaml']);
    await Promise.all(
      workers.map(async (w) => {
        await w.write(
          '/kind/kubeadm.conf',
          joinConfig({ nodeName: w.name, nodeIp: w.ip, apiServerEndpoint: `${cp.ip}:6443`, bootstrapToken: token }),
        );
        await w.sh(['kubeadm', 'join', '--config=/kind/kubeadm.conf', '--v=1']);
      }),
    );
    await cp.kubectl(['wait', '--for=condition=Ready', 'node', '--all', '--timeout=300s']);
  } catch (e) {
    const logs = (await Promise.all(nodes.map((n) => n.logs()))).join('\n');
    const described = await cp.kubectl(['get', 'nodes,pods', '-A', '-o', 'wide']).catch((err: Error) => err.message);
    await stop();
    throw new Error(`${(e as Error).message}\n${described}\n${logs}`, { cause: e });
  }
  return {
    controlPlane: cp,
    workers,
    nodes,
    kubectl: (args) => cp.kubectl(args),
    async importImage(archive, image) {
      await Promise.all(nodes.map((n) => n.importImage(archive, image)));
    },
    stop,
  };
}
