// The image the project's Dockerfile builds, as OCI archives for containerd: scripts/build-image.sh
// (podman, a local debootstrap base, no registry) is the one place that knows the tag — a hash of the
// sources the Dockerfile copies — so a test asks it, and it rebuilds first when the sources changed.
import path from 'node:path';
import { DEFAULT_TESTBIN, REPO_ROOT } from './binaries.js';
import { collect } from './processes.js';

export interface ProjectImage {
  /** localhost/socat-relay:src-<hash> (controller and agent) */
  image: string;
  archive: string;
  /** localhost/socat-relay-sidecar:src-<hash> (the Dockerfile's sidecar target: socat alone) */
  sidecarImage: string;
  sidecarArchive: string;
  /** The sandbox ("pause") image: the same Debian base, `sleep infinity`. */
  pauseImage: string;
  pauseArchive: string;
}

const SCRIPT = path.join(REPO_ROOT, 'scripts', 'build-image.sh');
const KIND_NODE_SCRIPT = path.join(REPO_ROOT, 'scripts', 'build-kind-node.sh');

/** The KEY=value lines a build script prints, each key required. */
function parse<K extends string>(script: string, stdout: string, keys: Record<K, string>): Record<K, string> {
  const kv = Object.fromEntries(
    stdout
      .trim()
      .split('\n')
      .map((l) => l.split('=', 2) as [string, string]),
  ) as Record<string, string | undefined>;
  const out = {} as Record<K, string>;
  for (const [field, key] of Object.entries(keys) as [K, string][]) {
    const v = kv[key];
    if (!v) throw new Error(`${path.basename(script)} printed no ${key}:\n${stdout}`);
    out[field] = v;
  }
  return out;
}

class ImageBuildError extends Error {
  constructor(
    readonly script: string,
    readonly exitCode: number | null,
    readonly output: string,
  ) {
    super(
      `${path.relative(REPO_ROOT, script)} failed (exit ${exitCode}${exitCode === 3 ? ': a part is missing, run scripts/setup.sh' : ''}):\n${output.split('\n').slice(-30).join('\n')}`,
    );
    this.name = 'ImageBuildError';
  }
}

async function runScript(script: string, env: NodeJS.ProcessEnv = {}): Promise<string> {
  const r = await collect('bash', [script], { cwd: REPO_ROOT, env: { ...process.env, ...env } });
  if (r.code !== 0) throw new ImageBuildError(script, r.code, r.stderr + r.stdout);
  return r.stdout;
}

/** Builds the image when the sources changed (a no-op otherwise) and returns it. */
export async function buildProjectImage(): Promise<ProjectImage> {
  return parse(SCRIPT, await runScript(SCRIPT), {
    image: 'IMAGE',
    archive: 'ARCHIVE',
    sidecarImage: 'SIDECAR_IMAGE',
    sidecarArchive: 'SIDECAR_ARCHIVE',
    pauseImage: 'PAUSE_IMAGE',
    pauseArchive: 'PAUSE_ARCHIVE',
  });
}

export interface KindNodeImage {
  /** localhost/socat-relay-kind-node:<version>-<hash>, in podman's store */
  image: string;
  kubernetesVersion: string;
  /** The etcd and CoreDNS images it carries (registry.k8s.io/…:<tag>), for the kubeadm configuration. */
  etcdImage: string;
  corednsImage: string;
  /** Prometheus built here, run as the examples run quay.io/prometheus/prometheus; OCI archive. */
  prometheusImage: string;
  prometheusArchive: string;
  /** The prometheus-operator variant: images under upstream's tags, OCI archives; the operator's CRD folder. */
  operatorImage: string;
  operatorArchive: string;
  configReloaderImage: string;
  configReloaderArchive: string;
  kubeRbacProxyImage: string;
  kubeRbacProxyArchive: string;
  operatorCrds: string;
}

/** Where the oldest supported Kubernetes release's binaries are (scripts/build-testbin.sh k8s-oldest). */
export const OLDEST_K8S_DIR = path.join(DEFAULT_TESTBIN, 'k8s-oldest');

/**
 * The kind node image scripts/build-kind-node.sh builds from .testbin's Kubernetes binaries, or from
 * those in `k8sBinDir` (OLDEST_K8S_DIR) — a no-op when its inputs did not change.
 */
export async function buildKindNodeImage(k8sBinDir?: string): Promise<KindNodeImage> {
  const env = k8sBinDir ? { K8S_BIN_DIR: k8sBinDir } : {};
  return parse(KIND_NODE_SCRIPT, await runScript(KIND_NODE_SCRIPT, env), {
    image: 'NODE_IMAGE',
    kubernetesVersion: 'KUBERNETES_VERSION',
    etcdImage: 'ETCD_IMAGE',
    corednsImage: 'COREDNS_IMAGE',
    prometheusImage: 'PROMETHEUS_IMAGE',
    prometheusArchive: 'PROMETHEUS_ARCHIVE',
    operatorImage: 'OPERATOR_IMAGE',
    operatorArchive: 'OPERATOR_ARCHIVE',
    configReloaderImage: 'CONFIG_RELOADER_IMAGE',
    configReloaderArchive: 'CONFIG_RELOADER_ARCHIVE',
    kubeRbacProxyImage: 'KUBE_RBAC_PROXY_IMAGE',
    kubeRbacProxyArchive: 'KUBE_RBAC_PROXY_ARCHIVE',
    operatorCrds: 'OPERATOR_CRDS',
  });
}
