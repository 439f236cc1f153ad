// The controller's settings: one schema (key, default, env var, flag, meaning), read once at start
// from flags > environment > defaults, validated, fatal with every problem listed. Nothing else in the
// controller reads process.env.
import { DEFAULT_CONFIG_DIR, DEFAULT_SOCKET_DIR } from '../relay/index.js';
import { DEFAULT_IMAGE, ImageRefError, parseImageRef, sidecarImageOf } from '../lib/image.js';
import type { LogLevel } from '../lib/log.js';
import {
  SettingError,
  SettingsError,
  absPath,
  bool,
  logLevelSetting,
  nonEmpty,
  oneOf,
  port,
  positiveSeconds,
  readSettings,
  seconds,
  settingsUsage,
  text,
  type Schema,
} from '../lib/settings.js';
import { VOLUME_SOURCES, type VolumeSource } from './admission/options.js';
import { DEFAULT_CA_LIFETIME, DEFAULT_SERVING_LIFETIME } from './certs/names.js';
import {
  LEADER_LEASE_SECONDS,
  LEASE_DURATION_SECONDS,
  LEASE_GRACE_SECONDS,
  LEASE_RENEW_SECONDS,
} from './reconcile/lease.js';

export type SidecarModeSetting = 'auto' | 'native' | 'regular';
type CertificatesSetting = 'files' | 'self-managed';

export interface ControllerConfig {
  port: number;
  metricsPort: number;
  /** Seconds between SIGTERM (readiness fails) and closing the servers. */
  shutdownDrainSeconds: number;
  host: string;
  tlsCert: string;
  tlsKey: string;
  /** files: serve tlsCert/tlsKey; self-managed: make, rotate and serve the Secrets' certificates (webhook/certs/). */
  certificates: CertificatesSetting;
  /** Self-managed: the CA's and the serving certificate's lifetimes (ms), the check period, extra host names. */
  caLifetimeMs: number;
  servingLifetimeMs: number;
  certCheckSeconds: number;
  certHosts: string[];
  nodeName: string;
  /** The controller's namespace: where the controllers' Leases live. */
  namespace: string;
  /** The controller Lease (webhook/reconcile/lease.ts): stated duration, renew period, grace before stale. */
  leaseDurationSeconds: number;
  leaseRenewSeconds: number;
  leaseGraceSeconds: number;
  configDir: string;
  socketDir: string;
  /** The controller's and agent's image (the one image setting). */
  image: string;
  /** The injected sidecar's image: `<repository>-sidecar:<tag>` of `image` unless set. */
  sidecarImage: string;
  sidecarMode: SidecarModeSetting;
  volumeSource: VolumeSource;
  reconcile: boolean;
  /** Serve admission (needs the serving key) and stand for the election; false: this node's reconcile only. */
  serveAdmission: boolean;
  /** The leader Lease's duration (webhook/cluster/election.ts). */
  leaderLeaseSeconds: number;
  logLevel: LogLevel;
  kubeconfig: string;
  relaysFile: string;
  selfSignedDir: string;
}

export class ConfigError extends SettingsError {
  constructor(problems: string[]) {
    super(problems, 'controller configuration');
    this.name = 'ConfigError';
  }
}

/** A certificate lifetime: <n>s, <n>m or <n>h, at least 10 s (tests), at most 20 years. */
const lifetime = (raw: string): number => {
  const m = /^(\d+)(s|m|h)$/.exec(raw);
  const ms = m ? Number(m[1]) * { s: 1000, m: 60_000, h: 3_600_000 }[m[2] as 's' | 'm' | 'h'] : NaN;
  if (!(ms >= 10_000 && ms <= 175_200 * 3_600_000))
    throw new SettingError(`must be a duration from 10s to 175200h, as <n>s, <n>m or <n>h, got "${raw}"`);
  return ms;
};
const hostList = (raw: string): string[] => {
  const hosts = raw
    .split(',')
    .map((h) => h.trim())
    .filter((h) => h !== '');
  const bad = hosts.find((h) => !/^[A-Za-z0-9.:-]+$/.test(h));
  if (bad !== undefined) throw new SettingError(`must be DNS names or IP addresses separated by commas, got "${bad}"`);
  return hosts;
};
const imageRef = (raw: string): string => {
  if (raw === '') return raw;
  try {
    parseImageRef(raw);
  } catch (e) {
    if (e instanceof ImageRefError) throw new SettingError(e.message);
    throw e;
  }
  return raw;
};
const optionalPath = (raw: string): string => raw;

/** Every controller setting has an environment variable (the manifests set them). */
export const SCHEMA: readonly (Schema<ControllerConfig>[number] & { env: string })[] = [
  {
    key: 'port',
    flag: 'port',
    env: 'SOCAT_RELAY_PORT',
    default: '8443',
    meaning: 'HTTPS port of the webhooks and probes',
    parse: port,
  },
  {
    key: 'shutdownDrainSeconds',
    flag: 'shutdown-drain-seconds',
    env: 'SOCAT_RELAY_SHUTDOWN_DRAIN_SECONDS',
    default: '5',
    meaning:
      'on SIGTERM: /readyz fails at once, requests are still answered this long, then the servers close (keep it below terminationGracePeriodSeconds)',
    parse: seconds,
  },
  {
    key: 'metricsPort',
    flag: 'metrics-port',
    env: 'SOCAT_RELAY_METRICS_PORT',
    default: '9464',
    meaning: 'HTTPS port of /metrics, for bearer tokens RBAC allows to get /metrics (local mode: 127.0.0.1, no token)',
    parse: port,
  },
  {
    key: 'host',
    flag: 'host',
    env: 'SOCAT_RELAY_HOST',
    default: '',
    meaning: 'address to listen on (empty: all)',
    parse: text,
  },
  {
    key: 'tlsCert',
    flag: 'tls-cert',
    env: 'SOCAT_RELAY_TLS_CERT',
    default: '/tls/tls.crt',
    meaning: 'serving certificate (PEM), reloaded when it changes',
    parse: nonEmpty,
  },
  {
    key: 'tlsKey',
    flag: 'tls-key',
    env: 'SOCAT_RELAY_TLS_KEY',
    default: '/tls/tls.key',
    meaning: 'its private key (PEM)',
    parse: nonEmpty,
  },
  {
    key: 'certificates',
    flag: 'certificates',
    env: 'SOCAT_RELAY_CERTIFICATES',
    default: 'files',
    meaning:
      "files: serve --tls-cert/--tls-key (cert-manager, your own); self-managed: the serving controllers make the CA and serving certificate in Secrets socat-relay-webhook-ca and -serving, rotate them and keep the webhooks' caBundle",
    parse: oneOf(['files', 'self-managed'] as const),
  },
  {
    key: 'caLifetimeMs',
    flag: 'ca-lifetime',
    env: 'SOCAT_RELAY_CA_LIFETIME',
    default: DEFAULT_CA_LIFETIME,
    meaning: "self-managed: the CA's lifetime (a next CA is trusted when a third is left, signs when a sixth is left)",
    parse: lifetime,
  },
  {
    key: 'servingLifetimeMs',
    flag: 'cert-lifetime',
    env: 'SOCAT_RELAY_CERT_LIFETIME',
    default: DEFAULT_SERVING_LIFETIME,
    meaning: "self-managed: the serving certificate's lifetime (renewed when a third is left)",
    parse: lifetime,
  },
  {
    key: 'certCheckSeconds',
    flag: 'cert-check',
    env: 'SOCAT_RELAY_CERT_CHECK_SECONDS',
    default: '30',
    meaning:
      'self-managed: how often the Secrets and caBundles are checked (a new serving certificate is served within this)',
    parse: positiveSeconds,
  },
  {
    key: 'certHosts',
    flag: 'cert-hosts',
    env: 'SOCAT_RELAY_CERT_HOSTS',
    default: '',
    meaning:
      "self-managed: more DNS names or IPs for the serving certificate, comma-separated (the Service's names are always in it)",
    parse: hostList,
  },
  {
    key: 'nodeName',
    flag: 'node-name',
    env: 'NODE_NAME',
    default: '',
    meaning: 'this node (downward API spec.nodeName); required for the reconcile',
    parse: text,
  },
  {
    key: 'namespace',
    flag: 'namespace',
    env: 'POD_NAMESPACE',
    default: 'socat-relay-system',
    meaning: "the controller's namespace (downward API metadata.namespace): holds every controller's Lease",
    parse: nonEmpty,
  },
  {
    key: 'leaseDurationSeconds',
    flag: 'lease-duration',
    env: 'SOCAT_RELAY_LEASE_DURATION_SECONDS',
    default: String(LEASE_DURATION_SECONDS),
    meaning: "the controller Lease's stated duration (leaseDurationSeconds, whole seconds)",
    parse: positiveSeconds,
  },
  {
    key: 'leaseRenewSeconds',
    flag: 'lease-renew',
    env: 'SOCAT_RELAY_LEASE_RENEW_SECONDS',
    default: String(LEASE_RENEW_SECONDS),
    meaning: 'how often each controller renews its Lease (less than the duration)',
    parse: positiveSeconds,
  },
  {
    key: 'leaseGraceSeconds',
    flag: 'lease-grace',
    env: 'SOCAT_RELAY_LEASE_GRACE_SECONDS',
    default: String(LEASE_GRACE_SECONDS),
    meaning:
      "a node counts as stale in the Relays' summaries once its controller Lease was not renewed for duration + this (default 2 min)",
    parse: seconds,
  },
  {
    key: 'configDir',
    flag: 'config-dir',
    env: 'SOCAT_RELAY_CONFIG_DIR',
    default: DEFAULT_CONFIG_DIR,
    meaning: "the node agent's relay config folder",
    parse: absPath,
  },
  {
    key: 'socketDir',
    flag: 'socket-dir',
    env: 'SOCAT_RELAY_SOCKET_DIR',
    default: DEFAULT_SOCKET_DIR,
    meaning: "the node's socket root; also the hostPath mounted into consumers",
    parse: absPath,
  },
  {
    key: 'image',
    flag: 'image',
    env: 'SOCAT_RELAY_IMAGE',
    default: DEFAULT_IMAGE,
    meaning: "the controller's and agent's image <repository>:<tag> (set from the pod's own image by the manifests)",
    parse: (raw) => imageRef(nonEmpty(raw)),
  },
  {
    key: 'sidecarImage',
    flag: 'sidecar-image',
    env: 'SOCAT_RELAY_SIDECAR_IMAGE',
    default: '',
    meaning: 'image of the injected socat sidecar (empty: <repository>-sidecar:<tag> of --image)',
    parse: imageRef,
  },
  {
    key: 'volumeSource',
    flag: 'volume-source',
    env: 'SOCAT_RELAY_VOLUME_SOURCE',
    default: 'hostPath',
    meaning:
      'how consumers mount their relay folder: hostPath (needs a privileged namespace) or csi (csi.socat.io; namespaces stay restricted)',
    parse: oneOf(VOLUME_SOURCES),
  },
  {
    key: 'sidecarMode',
    flag: 'sidecar-mode',
    env: 'SOCAT_RELAY_SIDECAR_MODE',
    default: 'auto',
    meaning: 'auto (native on API servers >= 1.29), native or regular',
    parse: oneOf(['auto', 'native', 'regular'] as const),
  },
  {
    key: 'reconcile',
    flag: 'reconcile',
    env: 'SOCAT_RELAY_RECONCILE',
    default: 'true',
    meaning: "write this node's relay configs and report status",
    parse: bool,
  },
  {
    key: 'serveAdmission',
    flag: 'serve-admission',
    env: 'SOCAT_RELAY_SERVE_ADMISSION',
    default: 'true',
    meaning:
      "serve the admission webhooks (needs the serving key) and stand for election as the one controller that writes the Relays' summaries; false: reconcile this node only, no key, no webhook port (metrics and probes on the metrics port)",
    parse: bool,
  },
  {
    key: 'leaderLeaseSeconds',
    flag: 'leader-lease',
    env: 'SOCAT_RELAY_LEADER_LEASE_SECONDS',
    default: String(LEADER_LEASE_SECONDS),
    meaning: 'the leader Lease (socat-relay-leader) duration: a leader gone this long is replaced',
    parse: positiveSeconds,
  },
  { ...logLevelSetting<ControllerConfig>(), env: 'LOG_LEVEL' },
  {
    key: 'kubeconfig',
    flag: 'kubeconfig',
    env: 'KUBECONFIG',
    default: '',
    meaning: 'kubeconfig file (empty: in-cluster service account)',
    parse: optionalPath,
  },
  {
    key: 'relaysFile',
    flag: 'relays',
    env: 'SOCAT_RELAY_RELAYS_FILE',
    default: '',
    meaning: 'local mode: serve the relays of this file, no cluster, no reconcile',
    parse: optionalPath,
  },
  {
    key: 'selfSignedDir',
    flag: 'self-signed',
    env: 'SOCAT_RELAY_SELF_SIGNED_DIR',
    default: '',
    meaning: 'make a CA + certificate in this folder and serve it (local mode)',
    parse: optionalPath,
  },
];

export function configUsage(): string {
  return settingsUsage('usage: socat-relay controller [options]', SCHEMA);
}

/** Flags > environment > defaults; throws ConfigError listing every problem, or HelpRequested for --help. */
export function loadConfig(args: string[], env: Record<string, string | undefined>): ControllerConfig {
  const read = readSettings<ControllerConfig>(SCHEMA, args, env);
  if (read === 'help') throw new HelpRequested();
  const { problems } = read;
  const c = read.settings;
  if (problems.length === 0 && c.sidecarImage === '') {
    try {
      c.sidecarImage = sidecarImageOf(c.image);
    } catch (e) {
      if (!(e instanceof ImageRefError)) throw e;
      problems.push(`SOCAT_RELAY_SIDECAR_IMAGE (--sidecar-image): ${e.message}`);
    }
  }
  if (problems.length === 0 && c.leaseRenewSeconds >= c.leaseDurationSeconds) {
    problems.push(
      `SOCAT_RELAY_LEASE_RENEW_SECONDS (--lease-renew) ${c.leaseRenewSeconds} must be less than SOCAT_RELAY_LEASE_DURATION_SECONDS (--lease-duration) ${c.leaseDurationSeconds}: the Lease would expire between renewals`,
    );
  }
  if (problems.length === 0) problems.push(...certificateProblems(c));
  if (problems.length === 0 && !c.serveAdmission && !c.reconcile) {
    problems.push(
      'SOCAT_RELAY_SERVE_ADMISSION=false and SOCAT_RELAY_RECONCILE=false: nothing to do (a reconcile-only controller needs the reconcile)',
    );
  }
  if (problems.length === 0 && !c.serveAdmission && c.relaysFile)
    problems.push('--relays (local mode) serves admission: it cannot be combined with --serve-admission false');
  if (problems.length === 0 && c.selfSignedDir && !c.relaysFile)
    problems.push('--self-signed is for local mode: also give --relays FILE');
  if (problems.length === 0 && !c.relaysFile && c.reconcile && c.nodeName === '') {
    problems.push(
      'NODE_NAME (--node-name) is required for the node reconcile; set SOCAT_RELAY_RECONCILE=false (--reconcile false) to run the webhook only, or --relays FILE for local mode',
    );
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return c;
}

/** The self-managed certificates' lifetimes agree with each other. */
function certificateProblems(c: ControllerConfig): string[] {
  if (c.certificates !== 'self-managed' || c.servingLifetimeMs * 3 <= c.caLifetimeMs) return [];
  return [
    'SOCAT_RELAY_CERT_LIFETIME (--cert-lifetime) must be at most a third of SOCAT_RELAY_CA_LIFETIME (--ca-lifetime): a serving certificate is renewed before its CA stops signing',
  ];
}

export class HelpRequested extends Error {
  constructor() {
    super('help requested');
    this.name = 'HelpRequested';
  }
}
