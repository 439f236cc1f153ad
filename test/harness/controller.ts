// Our controller as a real process (`socat-relay controller`, run from source with tsx) against the
// test API server: the webhook serves on 127.0.0.1:<port> with certificates made by certs/, configured
// only through its documented environment (webhook/config.ts), exactly as the DaemonSet does.
import { mkdirSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import path from 'node:path';
import { makeWebhookCerts, type WebhookCerts } from '../../certs/selfsigned.js';
import { writeCerts } from '../../certs/write.js';
import { agentStatusPath, formatAgentStatus, STATUS_VERSION } from '../../node-contract/index.js';
import { REPO_ROOT } from './binaries.js';
import { freePort } from './ports.js';
import { spawnManaged, type ManagedProcess } from './processes.js';
import { waitFor } from './wait.js';

export interface ControllerOptions {
  kubeconfigPath: string;
  /** Folder for certificates and the log (e.g. the control plane's dir). */
  dir: string;
  nodeName?: string;
  /** Run the node reconcile too (default false: webhook only). */
  reconcile?: boolean;
  /**
   * false: reconcile only (SOCAT_RELAY_SERVE_ADMISSION=false) — no webhook port, never elected; then
   * readiness is awaited on the metrics port's /readyz (its certificate is the process's own).
   */
  serveAdmission?: boolean;
  configDir?: string;
  socketDir?: string;
  /** Extra environment (SOCAT_RELAY_SIDECAR_MODE, LOG_LEVEL, …). */
  env?: Record<string, string>;
  /** Reuse certificates (and so the caBundle) across restarts. */
  certs?: WebhookCerts;
  /**
   * SOCAT_RELAY_CERTIFICATES=self-managed: the controller makes its certificates in the cluster (the
   * files are then not used); readiness and get() trust any certificate it serves.
   */
  selfManagedCerts?: boolean;
  port?: number;
  metricsPort?: number;
}

export interface RunningController {
  /** https://127.0.0.1:<port> — the base of the webhook URLs. */
  baseUrl: string;
  port: number;
  /** The controller's own metrics port (https, TokenReview + SubjectAccessReview). */
  metricsPort: number;
  certs: WebhookCerts;
  process: ManagedProcess;
  /** GET a path on the webhook server (health, metrics) trusting our CA. */
  get(p: string): Promise<{ status: number; body: string }>;
  stop(): Promise<void>;
}

export function httpsGet(url: string, ca: string | undefined): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = https.get(url, { ...(ca ? { ca } : { rejectUnauthorized: false }), timeout: 5000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${url}: timeout`)));
    req.on('error', reject);
  });
}

export async function startController(opts: ControllerOptions): Promise<RunningController> {
  const certs = opts.certs ?? (await makeWebhookCerts({ extraHosts: ['127.0.0.1', 'localhost'] }));
  const tlsDir = path.join(opts.dir, 'webhook-tls');
  mkdirSync(tlsDir, { recursive: true });
  const files = await writeCerts(tlsDir, certs);
  const port = opts.port ?? (await freePort());
  const metricsPort = opts.metricsPort ?? (await freePort());
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    KUBECONFIG: opts.kubeconfigPath,
    SOCAT_RELAY_PORT: String(port),
    SOCAT_RELAY_METRICS_PORT: String(metricsPort),
    SOCAT_RELAY_HOST: '127.0.0.1',
    SOCAT_RELAY_TLS_CERT: files.cert,
    SOCAT_RELAY_TLS_KEY: files.key,
    NODE_NAME: opts.nodeName ?? 'envtest-node',
    // The controllers' Leases: a namespace every API server has (the test control plane has no socat-relay-system).
    POD_NAMESPACE: 'default',
    SOCAT_RELAY_RECONCILE: opts.reconcile ? 'true' : 'false',
    ...(opts.serveAdmission === false ? { SOCAT_RELAY_SERVE_ADMISSION: 'false' } : {}),
    ...(opts.selfManagedCerts
      ? { SOCAT_RELAY_CERTIFICATES: 'self-managed', SOCAT_RELAY_CERT_HOSTS: '127.0.0.1,localhost' }
      : {}),
    SOCAT_RELAY_CONFIG_DIR: opts.configDir ?? path.join(opts.dir, 'relays.d'),
    SOCAT_RELAY_SOCKET_DIR: opts.socketDir ?? path.join(opts.dir, 'run'),
    LOG_LEVEL: 'debug',
    // Tests stop controllers often: no drain period unless a test asks for one.
    SOCAT_RELAY_SHUTDOWN_DRAIN_SECONDS: '0',
    ...opts.env,
  };
  const proc = spawnManaged(
    'controller',
    process.execPath,
    ['--import', 'tsx', path.join(REPO_ROOT, 'cli', 'main.ts'), 'controller'],
    {
      logFile: path.join(opts.dir, `controller-${port}.log`),
      env,
      cwd: REPO_ROOT,
    },
  );
  const baseUrl = `https://127.0.0.1:${port}`;
  const get = (p: string) => httpsGet(baseUrl + p, opts.selfManagedCerts ? undefined : certs.ca.cert);
  const ac = new AbortController();
  void proc.exited.then(() => ac.abort());
  try {
    const ready =
      opts.serveAdmission === false
        ? () => httpsGet(`https://127.0.0.1:${metricsPort}/readyz`, undefined)
        : () => get('/readyz');
    await waitFor('controller /readyz', async () => (await ready().catch(() => undefined))?.status === 200, {
      timeoutMs: 60_000,
      intervalMs: 200,
      signal: ac.signal,
    });
  } catch (err) {
    await proc.stop();
    throw new Error(
      `the controller did not become ready: ${(err as Error).message}\n--- controller log ---\n${proc.logTail()}`,
      { cause: err },
    );
  }
  return { baseUrl, port, metricsPort, certs, process: proc, get, stop: () => proc.stop() };
}

/**
 * A node's controller with its reconcile, in `dir` (relays.d/, run/), beside a stand-in for the node's
 * agent: its status file says every relay of `generations` runs at that generation (no heartbeat field:
 * never taken for a dead agent's last report).
 */
export function startNodeController(
  o: Omit<ControllerOptions, 'reconcile' | 'configDir' | 'socketDir'> & {
    nodeName: string;
    generations: Record<string, number>;
  },
): Promise<RunningController> {
  const configDir = path.join(o.dir, 'relays.d');
  const socketDir = path.join(o.dir, 'run');
  mkdirSync(path.dirname(agentStatusPath(socketDir)), { recursive: true });
  const now = new Date().toISOString();
  writeFileSync(
    agentStatusPath(socketDir),
    formatAgentStatus({
      version: STATUS_VERSION,
      agent: { pid: 1, startedAt: now, updatedAt: now, configDir, socketDir },
      relays: Object.fromEntries(
        Object.entries(o.generations).map(([r, g]) => [r, { running: true, restarts: 0, since: now, generation: g }]),
      ),
      files: {},
      warnings: [],
    }),
  );
  const { generations: _generations, ...rest } = o;
  return startController({ ...rest, reconcile: true, configDir, socketDir });
}
