// The pure parts of the kind suite: the kubeadm configurations the kind node containers are initialised
// and joined with (what kind itself generates), and the node image's CNI manifest with its pod subnet
// filled in. No I/O here; test/kind/config.test.ts checks each of them.
import { isIP } from 'node:net';
import { stringify } from 'yaml';

const POD_SUBNET = '10.244.0.0/16';
const SERVICE_SUBNET = '10.96.0.0/16';

export interface KubeadmOptions {
  /** The node's name and hostname (a DNS label). */
  nodeName: string;
  /** The node container's IP on its network: the API server advertises it, the kubelet uses it. */
  nodeIp: string;
  /** The image's own version (its /kind/version): kubeadm must not look up "stable" on the internet. */
  kubernetesVersion: string;
  podSubnet?: string;
  serviceSubnet?: string;
  /** The etcd image's tag when it is not the one kubeadm names (the node image's etcd is built here). */
  etcdImageTag?: string;
  /** Likewise for CoreDNS. */
  corednsImageTag?: string;
  /** Keep kubeadm's control-plane NoSchedule taint (a multi-node cluster, as kubeadm and kind leave it). */
  controlPlaneTaint?: boolean;
  /** The bootstrap token the workers join with (kubeadm's form [a-z0-9]{6}.[a-z0-9]{16}). */
  bootstrapToken?: string;
}

export interface JoinOptions {
  nodeName: string;
  nodeIp: string;
  /** host:port of the control plane's API server. */
  apiServerEndpoint: string;
  bootstrapToken: string;
}

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
const VERSION = /^v\d+\.\d+\.\d+(?:[-+][0-9A-Za-z.+-]+)?$/;
const CIDR = /^[0-9a-fA-F.:]+\/\d{1,3}$/;
const TOKEN = /^[a-z0-9]{6}\.[a-z0-9]{16}$/;
const IMAGE_TAG = /^[\w][\w.-]{0,127}$/;

export class KindConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'KindConfigError';
  }
}

/**
 * kubeadm's InitConfiguration + ClusterConfiguration + KubeletConfiguration + KubeProxyConfiguration
 * (v1beta4, Kubernetes >= 1.31), as kind writes them for a single node: no control-plane taint (the
 * suite's workloads run on it), the API server's certificate also valid for localhost/127.0.0.1, the
 * kubelet on the systemd cgroup driver with disk-pressure eviction off (the node's disk is the host's),
 * kube-proxy not touching conntrack sysctls (a container may not).
 */
export function kubeadmConfig(o: KubeadmOptions): string {
  if (!DNS_LABEL.test(o.nodeName)) throw new KindConfigError(`nodeName "${o.nodeName}" is not a DNS label`);
  if (isIP(o.nodeIp) === 0) throw new KindConfigError(`nodeIp "${o.nodeIp}" is not an IP address`);
  const version = o.kubernetesVersion.trim();
  if (!VERSION.test(version)) throw new KindConfigError(`kubernetesVersion "${o.kubernetesVersion}" is not vX.Y.Z`);
  const podSubnet = o.podSubnet ?? POD_SUBNET;
  const serviceSubnet = o.serviceSubnet ?? SERVICE_SUBNET;
  for (const [field, v] of [
    ['podSubnet', podSubnet],
    ['serviceSubnet', serviceSubnet],
  ] as const) {
    if (!CIDR.test(v) || isIP(v.split('/')[0]!) === 0) throw new KindConfigError(`${field} "${v}" is not a CIDR`);
  }
  for (const [field, v] of [
    ['etcdImageTag', o.etcdImageTag],
    ['corednsImageTag', o.corednsImageTag],
  ] as const) {
    if (v !== undefined && !IMAGE_TAG.test(v)) throw new KindConfigError(`${field} "${v}" is not an image tag`);
  }
  if (o.bootstrapToken !== undefined && !TOKEN.test(o.bootstrapToken))
    throw new KindConfigError('bootstrapToken is not of the form [a-z0-9]{6}.[a-z0-9]{16}');
  const docs = [
    {
      apiVersion: 'kubeadm.k8s.io/v1beta4',
      kind: 'InitConfiguration',
      localAPIEndpoint: { advertiseAddress: o.nodeIp, bindPort: 6443 },
      ...(o.bootstrapToken ? { bootstrapTokens: [{ token: o.bootstrapToken, ttl: '2h0m0s' }] } : {}),
      nodeRegistration: {
        ...nodeRegistration(o.nodeName, o.nodeIp),
        // kubeadm's default taint when kept (its default); none on a one-node cluster, as kind does.
        ...(o.controlPlaneTaint ? {} : { taints: [] }),
      },
      skipPhases: ['preflight'],
    },
    {
      apiVersion: 'kubeadm.k8s.io/v1beta4',
      kind: 'ClusterConfiguration',
      clusterName: 'socat-relay-e2e',
      kubernetesVersion: version,
      controlPlaneEndpoint: `${o.nodeIp}:6443`,
      apiServer: { certSANs: ['localhost', '127.0.0.1', o.nodeIp, o.nodeName] },
      networking: { podSubnet, serviceSubnet, dnsDomain: 'cluster.local' },
      ...(o.etcdImageTag ? { etcd: { local: { imageTag: o.etcdImageTag } } } : {}),
      ...(o.corednsImageTag ? { dns: { imageTag: o.corednsImageTag } } : {}),
    },
    {
      apiVersion: 'kubelet.config.k8s.io/v1beta1',
      kind: 'KubeletConfiguration',
      cgroupDriver: 'systemd',
      cgroupRoot: '/kubelet',
      // Kubernetes 1.31+ keeps cgroup v1 in maintenance; a v1 host (this VM is one) must say so.
      failCgroupV1: false,
      failSwapOn: false,
      imageGCHighThresholdPercent: 100,
      evictionHard: { 'nodefs.available': '0%', 'nodefs.inodesFree': '0%', 'imagefs.available': '0%' },
    },
    {
      apiVersion: 'kubeproxy.config.k8s.io/v1alpha1',
      kind: 'KubeProxyConfiguration',
      mode: 'iptables',
      conntrack: { maxPerCore: 0, tcpEstablishedTimeout: '0s', tcpCloseWaitTimeout: '0s' },
    },
  ];
  return docs.map((d) => stringify(d)).join('---\n');
}

function nodeRegistration(name: string, ip: string) {
  return {
    name,
    criSocket: 'unix:///run/containerd/containerd.sock',
    kubeletExtraArgs: [{ name: 'node-ip', value: ip }],
  };
}

/**
 * kubeadm's JoinConfiguration for a worker, as kind writes it: the bootstrap token, the control plane's
 * endpoint, discovery without pinning the CA (the nodes share a network only the test made), preflight
 * skipped (a container fails several of its host checks).
 */
export function joinConfig(o: JoinOptions): string {
  if (!DNS_LABEL.test(o.nodeName)) throw new KindConfigError(`nodeName "${o.nodeName}" is not a DNS label`);
  if (isIP(o.nodeIp) === 0) throw new KindConfigError(`nodeIp "${o.nodeIp}" is not an IP address`);
  if (!TOKEN.test(o.bootstrapToken))
    throw new KindConfigError('bootstrapToken is not of the form [a-z0-9]{6}.[a-z0-9]{16}');
  const m = /^(.+):(\d{1,5})$/.exec(o.apiServerEndpoint);
  if (!m || isIP(m[1]!) === 0) throw new KindConfigError(`apiServerEndpoint "${o.apiServerEndpoint}" is not ip:port`);
  return stringify({
    apiVersion: 'kubeadm.k8s.io/v1beta4',
    kind: 'JoinConfiguration',
    nodeRegistration: nodeRegistration(o.nodeName, o.nodeIp),
    discovery: {
      bootstrapToken: {
        apiServerEndpoint: o.apiServerEndpoint,
        token: o.bootstrapToken,
        unsafeSkipCAVerification: true,
      },
    },
    skipPhases: ['preflight'],
  });
}

/**
 * The node container's cgroup namespace, from the host's /sys/fs/cgroup filesystem type (`stat -f`):
 * cgroup v2 (cgroup2fs) needs a private one, as kind uses, so systemd in the node owns its tree;
 * on cgroup v1 the node runs in the host's (kind's way before v0.20; podman's Docker API takes no
 * private cgroup namespace there).
 */
export function cgroupnsFor(cgroupFsType: string): 'private' | 'host' {
  if (cgroupFsType === 'cgroup2fs' || cgroupFsType === 'cgroup2') return 'private';
  if (cgroupFsType === 'tmpfs') return 'host';
  throw new KindConfigError(
    `/sys/fs/cgroup is ${cgroupFsType || 'nothing'}: neither cgroup v2 (cgroup2fs) nor v1 (tmpfs)`,
  );
}

/** kind's CNI manifest (kindnet, /kind/manifests/default-cni.yaml in the node image) with the pod subnet. */
export function cniManifest(template: string, podSubnet = POD_SUBNET): string {
  if (!template.includes('{{ .PodSubnet }}'))
    throw new KindConfigError("the CNI manifest has no {{ .PodSubnet }} placeholder: not kind's default-cni.yaml?");
  const out = template.replaceAll('{{ .PodSubnet }}', podSubnet);
  const left = /\{\{[^}]*\}\}/.exec(out);
  if (left) throw new KindConfigError(`the CNI manifest has a placeholder this suite does not fill: ${left[0]}`);
  return out;
}
