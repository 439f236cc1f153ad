// The real parts of the scrape benchmark and of the kubeadm-example test, and the pure builders of
// their command lines and configuration: kube-scheduler (built by scripts/build-testbin.sh, the API
// server's Kubernetes version), Prometheus and HAProxy (Debian's packages, installed by scripts/setup.sh).
import { isExecutable as executable } from '../../lib/fs.js';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

export interface ScrapeParts {
  kubeScheduler: string;
  prometheus: string;
  haproxy: string;
}

function onPath(name: string, env: NodeJS.ProcessEnv): string | undefined {
  for (const dir of [...(env.PATH ?? '').split(':'), '/usr/sbin', '/usr/bin']) {
    if (dir && executable(path.join(dir, name))) return path.join(dir, name);
  }
  return undefined;
}

/** The parts, or the sentence that says which are missing and how to install them. */
export function findScrapeParts(
  env: NodeJS.ProcessEnv = process.env,
): { parts: ScrapeParts; missing?: undefined } | { parts?: undefined; missing: string } {
  const testbin = env.TESTBIN_DIR || path.join(ROOT, '.testbin');
  const kubeScheduler = path.join(testbin, 'kube-scheduler');
  const prometheus = onPath('prometheus', env);
  const haproxy = onPath('haproxy', env);
  const missing: string[] = [];
  if (!executable(kubeScheduler)) missing.push(`kube-scheduler (not in ${testbin}: npm run build:testbin)`);
  if (!prometheus) missing.push('prometheus (apt-get install prometheus, or bash scripts/setup.sh)');
  if (!haproxy) missing.push('haproxy (apt-get install haproxy, or bash scripts/setup.sh)');
  if (missing.length) return { missing: `missing: ${missing.join('; ')}` };
  return { parts: { kubeScheduler, prometheus: prometheus!, haproxy: haproxy! } };
}

/**
 * kube-scheduler serving its secure port on 127.0.0.1 only. A scraper gets in with a bearer token:
 * the scheduler authenticates it with a TokenReview (--authentication-kubeconfig) and authorizes `get`
 * on the non-resource URL /metrics with a SubjectAccessReview (--authorization-kubeconfig) — the RBAC of
 * manifests/examples/kubeadm-control-plane/rbac.yaml, as on a kubeadm node.
 */
export function schedulerArgv(o: { kubeconfig: string; port: number; certDir: string }): string[] {
  return [
    `--kubeconfig=${o.kubeconfig}`,
    `--authentication-kubeconfig=${o.kubeconfig}`,
    `--authorization-kubeconfig=${o.kubeconfig}`,
    '--bind-address=127.0.0.1',
    `--secure-port=${o.port}`,
    `--cert-dir=${o.certDir}`,
    '--leader-elect=false',
    '--v=0',
  ];
}

export interface ScrapeJob {
  name: string;
  /** host:port as Prometheus sees it. */
  target: string;
  /** The bearer token file (the ServiceAccount token the example mounts). */
  tokenFile: string;
}

/** A Prometheus configuration scraping the scheduler's /metrics over HTTPS, the example's job per path. */
export function prometheusConfig(jobs: readonly ScrapeJob[], intervalSeconds: number): string {
  return stringify({
    global: { scrape_interval: `${intervalSeconds}s`, scrape_timeout: `${intervalSeconds}s` },
    scrape_configs: jobs.map((j) => ({
      job_name: j.name,
      scheme: 'https',
      // The scheduler serves a certificate it made itself at start: nothing to check it against.
      tls_config: { insecure_skip_verify: true },
      authorization: { credentials_file: j.tokenFile },
      static_configs: [{ targets: [j.target] }],
    })),
  });
}

export function prometheusArgv(o: { configFile: string; dataDir: string; listen: string }): string[] {
  return [
    `--config.file=${o.configFile}`,
    `--storage.tsdb.path=${o.dataDir}`,
    `--web.listen-address=${o.listen}`,
    '--log.level=warn',
  ];
}

/**
 * HAProxy as a host-network reverse proxy in front of the loopback port, in TCP mode (TLS passes
 * through, as through socat): listening on every address, as it must to be reachable from pods.
 */
export function haproxyConfig(o: { listenPort: number; targetPort: number }): string {
  return [
    'global',
    '  maxconn 4096',
    'defaults',
    '  mode tcp',
    '  timeout connect 5s',
    '  timeout client 60s',
    '  timeout server 60s',
    'frontend scheduler',
    `  bind 0.0.0.0:${o.listenPort}`,
    '  default_backend scheduler',
    'backend scheduler',
    `  server local 127.0.0.1:${o.targetPort}`,
    '',
  ].join('\n');
}

/** The socat DaemonSet hack as users write it: a host-network socat per component, on every address. */
export function hackArgv(o: { listenPort: number; targetPort: number }): string[] {
  return [`TCP-LISTEN:${o.listenPort},fork,reuseaddr`, `TCP:127.0.0.1:${o.targetPort}`];
}

/** First line of `--version`-style output with the version in it, for the record. */
export function versionLine(output: string): string {
  return (
    output
      .split('\n')
      .map((l) => l.trim())
      .find((l) => /\d+\.\d+/.test(l)) ?? 'unknown'
  );
}
