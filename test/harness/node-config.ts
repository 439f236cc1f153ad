// What the test node's containerd, CNI and kubelet are configured with — pure functions of the node's
// folders and ports, so the settings that make a kubelet run on a VM without systemd, with cgroup v1 and
// without CAP_SYS_RESOURCE are written down (and reviewed) in one place.
import path from 'node:path';

export interface NodeDirs {
  /** The node's temp folder; everything below lives in it. */
  base: string;
  containerdRoot: string;
  containerdState: string;
  containerdSocket: string;
  /** runc's state (its --root), so containers of this node never mix with another containerd's. */
  runcRoot: string;
  cniConfDir: string;
  kubeletRoot: string;
  staticPodDir: string;
  podLogsDir: string;
  kubeletConfig: string;
  volumePluginDir: string;
  /** host-local IPAM's allocations (instead of /var/lib/cni/networks). */
  ipamDir: string;
}

export function nodeDirs(base: string): NodeDirs {
  const f = (...p: string[]) => path.join(base, ...p);
  return {
    base,
    containerdRoot: f('containerd', 'root'),
    containerdState: f('containerd', 'state'),
    containerdSocket: f('containerd', 'containerd.sock'),
    runcRoot: f('containerd', 'runc'),
    cniConfDir: f('cni'),
    kubeletRoot: f('kubelet'),
    staticPodDir: f('manifests'),
    podLogsDir: f('pod-logs'),
    kubeletConfig: f('kubelet-config.yaml'),
    volumePluginDir: f('volume-plugins'),
    ipamDir: f('cni-ipam'),
  };
}

/** The Debian containernetworking-plugins folder. */
export const CNI_BIN_DIR = '/usr/lib/cni';

/**
 * containerd's config (version 2). `restrict_oom_score_adj`: this VM denies root CAP_SYS_RESOURCE, so
 * the negative oom_score_adj the CRI gives sandboxes would make runc fail ("can't get final child's PID
 * from pipe: EOF"); with it, the value is clamped to what the process may set.
 */
export function containerdConfig(d: NodeDirs, o: { sandboxImage: string }): string {
  const q = JSON.stringify;
  return `version = 2
root = ${q(d.containerdRoot)}
state = ${q(d.containerdState)}

[grpc]
  address = ${q(d.containerdSocket)}

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = ${q(o.sandboxImage)}
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = ${q(CNI_BIN_DIR)}
    conf_dir = ${q(d.cniConfDir)}
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        Root = ${q(d.runcRoot)}
`;
}

/** A bridge for the pods on a private /24, no gateway and no masquerading: pods need only their loopback. */
export function cniConflist(o: { network: string; bridge: string; subnet: string; ipamDataDir: string }): object {
  return {
    cniVersion: '0.4.0',
    name: o.network,
    plugins: [
      {
        type: 'bridge',
        bridge: o.bridge,
        isGateway: false,
        ipMasq: false,
        ipam: { type: 'host-local', ranges: [[{ subnet: o.subnet }]], dataDir: o.ipamDataDir },
      },
      { type: 'loopback' },
    ],
  };
}

/**
 * The KubeletConfiguration of a standalone test node: cgroupfs (no systemd), cgroup v1 allowed, no QoS
 * cgroups or allocatable enforcement, no swap check, no eviction or image GC (a busy CI disk must not
 * evict the suite's pods), anonymous + AlwaysAllow on a loopback-only port (nothing on the node's
 * network), and every folder under the node's temp folder.
 */
export function kubeletConfig(d: NodeDirs, o: { port: number; healthzPort: number }): object {
  return {
    apiVersion: 'kubelet.config.k8s.io/v1beta1',
    kind: 'KubeletConfiguration',
    cgroupDriver: 'cgroupfs',
    failSwapOn: false,
    failCgroupV1: false,
    cgroupsPerQOS: false,
    enforceNodeAllocatable: [],
    staticPodPath: d.staticPodDir,
    fileCheckFrequency: '2s',
    podLogsDir: d.podLogsDir,
    authentication: { anonymous: { enabled: true }, webhook: { enabled: false } },
    authorization: { mode: 'AlwaysAllow' },
    address: '127.0.0.1',
    port: o.port,
    readOnlyPort: 0,
    healthzBindAddress: '127.0.0.1',
    healthzPort: o.healthzPort,
    containerRuntimeEndpoint: `unix://${d.containerdSocket}`,
    evictionHard: {},
    imageGCHighThresholdPercent: 100,
    imageGCLowThresholdPercent: 99,
    localStorageCapacityIsolation: false,
    serializeImagePulls: false,
    volumePluginDir: d.volumePluginDir,
  };
}

export function kubeletArgs(d: NodeDirs, o: { kubeconfig: string; nodeName: string }): string[] {
  return [
    `--kubeconfig=${o.kubeconfig}`,
    `--config=${d.kubeletConfig}`,
    `--root-dir=${d.kubeletRoot}`,
    `--cert-dir=${path.join(d.kubeletRoot, 'pki')}`,
    `--hostname-override=${o.nodeName}`,
    '--v=1',
  ];
}
