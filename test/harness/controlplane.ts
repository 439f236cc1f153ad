// A control plane as a kubeadm cluster runs it, minus the nodes: etcd, kube-apiserver and
// kube-controller-manager from .testbin/ on free loopback ports — a serving certificate for IP 127.0.0.1,
// an admin client certificate in system:masters, service-account keys, RBAC, the API server's default
// admission plugins (ServiceAccount included: pods get their token volume and mount, as on every
// cluster) plus kubeadm's NodeRestriction, webhooks and policies on. The controller-manager runs the
// controllers pods depend on (default ServiceAccounts, the kube-root-ca.crt ConfigMap their token
// volume projects), or more for suites that need them (`controllers`).
// Everything lives in one temp dir; stop() — or, failing that, process exit or a signal — kills both
// processes and removes the dir.
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { stringify } from 'yaml';
import { makeCA, makeLeaf } from '../../certs/selfsigned.js';
import { findBinaries, missingBinariesMessage, type Binaries } from './binaries.js';
import { registerCleanup } from './cleanup.js';
import { KubeClient } from './client.js';
import { freePort } from './ports.js';
import { ProcessExitedError, spawnManaged, type ManagedProcess } from './processes.js';
import { waitFor } from './wait.js';

export class MissingBinariesError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MissingBinariesError';
  }
}

export interface ControlPlaneOptions {
  /** Folder holding kube-apiserver and etcd (default .testbin/). */
  testbin?: string;
  binaries?: Binaries;
  /** How long to wait for /readyz (default 90 s: the first start on a busy 2-core machine is slow). */
  startTimeoutMs?: number;
  /** Extra kube-apiserver flags (`--name=value`). */
  extraApiserverArgs?: string[];
  /** Namespaces to create once the server is ready (each waited for until its default ServiceAccount exists). */
  namespaces?: string[];
  /** kube-controller-manager's --controllers (default: the ServiceAccount and root-CA publisher controllers). */
  controllers?: string[];
}

/** What every pod needs from the controller-manager: its namespace's default ServiceAccount and kube-root-ca.crt. */
export const POD_CONTROLLERS = ['serviceaccount-controller', 'root-ca-certificate-publisher-controller'];

export interface ControlPlane {
  /** https://127.0.0.1:<port> */
  url: string;
  kubeconfigPath: string;
  kc: KubeConfig;
  client: KubeClient;
  /** The temp dir holding certificates, etcd data, logs and the kubeconfig (removed by stop()). */
  dir: string;
  /** Process ids of etcd, kube-apiserver and kube-controller-manager. */
  pids: number[];
  /** The last lines of both logs, for failure messages. */
  logs(lines?: number): string;
  /**
   * Stops kube-apiserver (SIGTERM), waits `downMs`, starts it again on the same port with the same
   * etcd, and resolves once /readyz is 200: an API-server restart under running clients.
   */
  restartApiserver(downMs?: number): Promise<{ downMs: number; readyAfterMs: number }>;
  stop(): Promise<void>;
}

function kubeconfigYaml(url: string, caPem: string, client: { cert: string; key: string }): string {
  const b64 = (s: string) => Buffer.from(s).toString('base64');
  return stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'envtest', cluster: { server: url, 'certificate-authority-data': b64(caPem) } }],
    users: [
      { name: 'admin', user: { 'client-certificate-data': b64(client.cert), 'client-key-data': b64(client.key) } },
    ],
    contexts: [{ name: 'envtest', context: { cluster: 'envtest', user: 'admin' } }],
    'current-context': 'envtest',
  });
}

export async function startControlPlane(opts: ControlPlaneOptions = {}): Promise<ControlPlane> {
  const bins = opts.binaries ?? findBinaries(opts.testbin);
  if (!bins) throw new MissingBinariesError(missingBinariesMessage(opts.testbin));
  const dir = mkdtempSync(path.join(os.tmpdir(), 'socat-relay-envtest-'));
  const procs: ManagedProcess[] = [];
  const unregisterDir = registerCleanup(() => rmSync(dir, { recursive: true, force: true, maxRetries: 3 }));
  const stop = async () => {
    for (const p of [...procs].reverse()) await p.stop();
    rmSync(dir, { recursive: true, force: true });
    unregisterDir();
  };
  try {
    const f = (name: string) => path.join(dir, name);
    // Certificates: one CA for the serving cert and for client certs (what envtest does).
    const ca = await makeCA('envtest-ca');
    const serving = await makeLeaf(ca, {
      commonName: 'kube-apiserver',
      hosts: ['127.0.0.1', 'localhost'],
      usage: 'server',
    });
    const admin = await makeLeaf(ca, { commonName: 'admin', organization: 'system:masters', usage: 'client' });
    const sa = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    writeFileSync(f('ca.crt'), ca.cert);
    writeFileSync(f('apiserver.crt'), serving.cert);
    writeFileSync(f('apiserver.key'), serving.key, { mode: 0o600 });
    writeFileSync(f('sa.key'), sa.privateKey.export({ type: 'sec1', format: 'pem' }), { mode: 0o600 });
    writeFileSync(f('sa.pub'), sa.publicKey.export({ type: 'spki', format: 'pem' }));

    const [etcdClient, etcdPeer, securePort] = [await freePort(), await freePort(), await freePort()];
    const etcdUrl = `http://127.0.0.1:${etcdClient}`;
    const etcd = spawnManaged(
      'etcd',
      bins.etcd,
      [
        '--name=envtest',
        `--data-dir=${f('etcd')}`,
        `--listen-client-urls=${etcdUrl}`,
        `--advertise-client-urls=${etcdUrl}`,
        `--listen-peer-urls=http://127.0.0.1:${etcdPeer}`,
        `--initial-advertise-peer-urls=http://127.0.0.1:${etcdPeer}`,
        `--initial-cluster=envtest=http://127.0.0.1:${etcdPeer}`,
        '--unsafe-no-fsync=true',
        '--log-level=warn',
      ],
      { logFile: f('etcd.log') },
    );
    procs.push(etcd);
    await waitForProcess(etcd, 'etcd /health', 30_000, async () => {
      const res = await fetch(`${etcdUrl}/health`).catch(() => undefined);
      return res?.ok ? ((await res.json()) as { health?: string }).health === 'true' : false;
    });

    const url = `https://127.0.0.1:${securePort}`;
    const apiserverArgs = [
      `--etcd-servers=${etcdUrl}`,
      `--cert-dir=${f('certs')}`,
      `--tls-cert-file=${f('apiserver.crt')}`,
      `--tls-private-key-file=${f('apiserver.key')}`,
      `--client-ca-file=${f('ca.crt')}`,
      `--secure-port=${securePort}`,
      '--bind-address=127.0.0.1',
      '--advertise-address=127.0.0.1',
      // 1.37 refuses a loopback advertise address for the endpoint reconciler (the `kubernetes` Service's
      // endpoints); nothing here reaches the API server through that Service.
      '--endpoint-reconciler-type=none',
      '--service-cluster-ip-range=10.0.0.0/24',
      '--allow-privileged=true',
      '--authorization-mode=RBAC',
      // kubeadm's setting; the default plugins (NamespaceLifecycle, LimitRanger, ServiceAccount, …) stay on.
      '--enable-admission-plugins=NodeRestriction',
      `--service-account-issuer=${url}/`,
      `--service-account-key-file=${f('sa.pub')}`,
      `--service-account-signing-key-file=${f('sa.key')}`,
      '--enable-priority-and-fairness=false',
      '--v=1',
      ...(opts.extraApiserverArgs ?? []),
    ];

    const kubeconfigPath = f('kubeconfig');
    writeFileSync(kubeconfigPath, kubeconfigYaml(url, ca.cert, admin), { mode: 0o600 });
    const kc = new KubeConfig();
    kc.loadFromFile(kubeconfigPath);
    const client = new KubeClient(kc);
    let starts = 0;
    let apiserver: ManagedProcess;
    const startApiserver = async (): Promise<void> => {
      apiserver = spawnManaged('kube-apiserver', bins.kubeApiserver, apiserverArgs, {
        logFile: f(starts === 0 ? 'kube-apiserver.log' : `kube-apiserver-${starts}.log`),
      });
      starts++;
      procs.push(apiserver);
      await waitForProcess(apiserver, 'kube-apiserver /readyz', opts.startTimeoutMs ?? 90_000, async () => {
        const res = await client.raw('GET', '/readyz').catch(() => undefined);
        return res?.status === 200;
      });
    };
    await startApiserver();
    const restartApiserver = async (downMs = 2000): Promise<{ downMs: number; readyAfterMs: number }> => {
      await apiserver.stop();
      procs.splice(procs.indexOf(apiserver), 1);
      await new Promise((r) => setTimeout(r, downMs));
      const t0 = Date.now();
      await startApiserver();
      return { downMs, readyAfterMs: Date.now() - t0 };
    };
    const kcm = spawnManaged(
      'kube-controller-manager',
      bins.kubeControllerManager,
      [
        `--kubeconfig=${kubeconfigPath}`,
        `--controllers=${(opts.controllers ?? POD_CONTROLLERS).join(',')}`,
        `--root-ca-file=${f('ca.crt')}`,
        `--service-account-private-key-file=${f('sa.key')}`,
        '--leader-elect=false',
        '--bind-address=127.0.0.1',
        `--secure-port=${await freePort()}`,
        '--v=1',
      ],
      { logFile: f('kube-controller-manager.log') },
    );
    procs.push(kcm);
    await waitForProcess(kcm, 'the default ServiceAccount of namespace default', 60_000, () =>
      hasDefaultServiceAccount(client, 'default'),
    );
    for (const ns of opts.namespaces ?? []) await createNamespace(client, ns);
    const logs = (lines = 30) => procs.map((p) => `--- ${p.name} ---\n${p.logTail(lines)}`).join('\n');
    return {
      url,
      kubeconfigPath,
      kc,
      client,
      dir,
      pids: procs.map((p) => p.child.pid!).filter(Boolean),
      logs,
      restartApiserver,
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

async function hasDefaultServiceAccount(client: KubeClient, namespace: string): Promise<boolean> {
  const res = await client.raw('GET', `/api/v1/namespaces/${namespace}/serviceaccounts/default`).catch(() => undefined);
  const cm = await client
    .raw('GET', `/api/v1/namespaces/${namespace}/configmaps/kube-root-ca.crt`)
    .catch(() => undefined);
  return res?.status === 200 && cm?.status === 200;
}

/**
 * Creates (applies) a namespace and waits until the controller-manager gave it what pods need: its
 * default ServiceAccount (the ServiceAccount plugin refuses a pod without one) and kube-root-ca.crt.
 */
export async function createNamespace(
  client: KubeClient,
  name: string,
  labels?: Record<string, string>,
): Promise<void> {
  await client.apply({ apiVersion: 'v1', kind: 'Namespace', metadata: { name, ...(labels ? { labels } : {}) } });
  await namespaceReady(client, name);
}

/** Waits until the controller-manager gave namespace `name` its default ServiceAccount and kube-root-ca.crt. */
export async function namespaceReady(client: KubeClient, name: string): Promise<void> {
  await waitFor(
    `namespace ${name}'s default ServiceAccount and kube-root-ca.crt`,
    () => hasDefaultServiceAccount(client, name),
    { timeoutMs: 60_000, intervalMs: 200 },
  );
}

/** waitFor that gives up at once, with the log tail, when the process dies. */
async function waitForProcess(
  p: ManagedProcess,
  what: string,
  timeoutMs: number,
  check: () => Promise<boolean>,
): Promise<void> {
  const ac = new AbortController();
  void p.exited.then(() => ac.abort());
  try {
    await waitFor(what, check, { timeoutMs, intervalMs: 200, signal: ac.signal });
  } catch (err) {
    if (!p.running()) {
      const { code, signal } = await p.exited;
      throw new ProcessExitedError(p.name, code, signal, p.logTail());
    }
    throw new Error(`${(err as Error).message}\n--- ${p.name} log ---\n${p.logTail()}`, { cause: err });
  }
}
