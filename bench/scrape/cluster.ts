// The cluster side of a scrape: a test control plane (etcd + kube-apiserver from .testbin/), the
// kubeadm example's namespace and RBAC applied to it, a ServiceAccount token for the scraper (what the
// example's pod mounts), and a real kube-scheduler on the node's loopback.
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import { startControlPlane, type ControlPlane, type KubeObject } from '../../test/harness/index.js';
import { canConnect, freePort, waitUntil } from '../lib/net.js';
import { Cleanup, runCommand, startProcess, type Managed } from '../lib/proc.js';
import { schedulerArgv, type ScrapeParts } from './parts.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const EXAMPLE_DIR = path.join(ROOT, 'manifests', 'examples', 'kubeadm-control-plane');
/** The example's scraper identity (rbac.yaml). */
export const EXAMPLE_NAMESPACE = 'control-plane-metrics';
const EXAMPLE_SERVICE_ACCOUNT = 'prometheus-agent';

export async function exampleObjects(file: string): Promise<KubeObject[]> {
  return parseAllDocuments(await readFile(path.join(EXAMPLE_DIR, file), 'utf8'))
    .map((d) => d.toJS() as KubeObject)
    .filter((o) => o?.kind);
}

/** Applies the example's namespace and RBAC, and writes a token of its ServiceAccount to `tokenFile`. */
export async function exampleScraperToken(cp: ControlPlane, tokenFile: string): Promise<void> {
  for (const o of [...(await exampleObjects('namespace.yaml')), ...(await exampleObjects('rbac.yaml'))])
    await cp.client.apply(o);
  const tr = await cp.client.request<{ status?: { token?: string } }>(
    'POST',
    `/api/v1/namespaces/${EXAMPLE_NAMESPACE}/serviceaccounts/${EXAMPLE_SERVICE_ACCOUNT}/token`,
    {
      body: { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest', spec: { expirationSeconds: 86400 } },
    },
  );
  if (!tr.status?.token) throw new Error('TokenRequest returned no token');
  await writeFile(tokenFile, tr.status.token, { mode: 0o644 });
}

export interface Scheduler {
  proc: Managed;
  port: number;
  version: string;
}

/** Starts kube-scheduler on 127.0.0.1:<free port> against the control plane; waits for /metrics to answer. */
export async function startScheduler(
  parts: ScrapeParts,
  cp: ControlPlane,
  dir: string,
  tokenFile: string,
  cleanup: Cleanup,
): Promise<Scheduler> {
  const certDir = path.join(dir, 'scheduler-certs');
  await mkdir(certDir, { recursive: true });
  const port = await freePort();
  const proc = startProcess(
    parts.kubeScheduler,
    schedulerArgv({ kubeconfig: cp.kubeconfigPath, port, certDir }),
    cleanup,
  );
  await waitUntil(
    `kube-scheduler on 127.0.0.1:${port}`,
    async () => {
      if (proc.child.exitCode !== null) throw new Error(`kube-scheduler exited: ${proc.stderr().slice(-800)}`);
      return canConnect({ port });
    },
    90_000,
    200,
  );
  // Authorized /metrics (TokenReview + SubjectAccessReview against the control plane) before any scrape.
  const token = (await readFile(tokenFile, 'utf8')).trim();
  await waitUntil(
    "kube-scheduler /metrics answering the scraper's token",
    async () => {
      const r = await runCommand(
        'curl',
        [
          '-sk',
          '-o',
          '/dev/null',
          '-w',
          '%{http_code}',
          '-H',
          `Authorization: Bearer ${token}`,
          `https://127.0.0.1:${port}/metrics`,
        ],
        { timeoutMs: 10_000, allowFail: true },
      );
      return r.stdout.trim() === '200';
    },
    60_000,
    500,
  );
  const v = await runCommand(parts.kubeScheduler, ['--version'], { timeoutMs: 10_000, allowFail: true });
  return { proc, port, version: v.stdout.trim() };
}

export { startControlPlane };
