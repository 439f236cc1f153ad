// A control plane whose kube-apiserver can be stopped and started again on the same port while etcd
// (and so every object) stays: what the harness's startControlPlane does, plus restartApiserver().
// Built from the harness's parts (binaries, certificates, managed processes), not a copy of its flags'
// meaning: the same envtest-like set-up.
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { stringify } from 'yaml';
import { makeCA, makeLeaf } from '../../../certs/selfsigned.js';
import { findBinaries, missingBinariesMessage } from '../../harness/binaries.js';
import { registerCleanup } from '../../harness/cleanup.js';
import { KubeClient } from '../../harness/client.js';
import { freePort } from '../../harness/ports.js';
import { spawnManaged, type ManagedProcess } from '../../harness/processes.js';
import { waitFor } from '../../harness/wait.js';

export interface RestartableControlPlane {
  url: string;
  kubeconfigPath: string;
  kc: KubeConfig;
  client: KubeClient;
  dir: string;
  /** SIGTERM the API server, wait `downMs`, start it again on the same port; resolves when /readyz is 200. */
  restartApiserver(downMs?: number): Promise<{ downMs: number; readyAfterMs: number }>;
  logs(): string;
  stop(): Promise<void>;
}

export async function startRestartableControlPlane(): Promise<RestartableControlPlane> {
  const bins = findBinaries();
  if (!bins) throw new Error(missingBinariesMessage());
  const dir = mkdtempSync(path.join(os.tmpdir(), 'socat-relay-restartcp-'));
  const unregister = registerCleanup(() => rmSync(dir, { recursive: true, force: true }));
  const f = (n: string) => path.join(dir, n);
  const ca = await makeCA('restart-ca');
  const serving = await makeLeaf(ca, { commonName: 'kube-apiserver', hosts: ['127.0.0.1', 'localhost'], usage: 'server' });
  const admin = await makeLeaf(ca, { commonName: 'admin', organization: 'system:masters', usage: 'client' });
  const sa = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  writeFileSync(f('ca.crt'), ca.cert);
  writeFileSync(f('apiserver.crt'), serving.cert);
  writeFileSync(f('apiserver.key'), serving.key, { mode: 0o600 });
  writeFileSync(f('sa.key'), sa.privateKey.export({ type: 'sec1', format: 'pem' }), { mode: 0o600 });
  writeFileSync(f('sa.pub'), sa.publicKey.export({ type: 'spki', format: 'pem' }));
  const [etcdClient, etcdPeer, securePort] = [await freePort(), await freePort(), await freePort()];
  const etcdUrl = `http://127.0.0.1:${etcdClient}`;
  const url = `https://127.0.0.1:${securePort}`;
  const procs: { etcd?: ManagedProcess; api?: ManagedProcess } = {};
  const stop = async () => {
    await procs.api?.stop();
    await procs.etcd?.stop();
    rmSync(dir, { recursive: true, force: true });
    unregister();
  };
  try {
    procs.etcd = spawnManaged('etcd', bins.etcd, [
      '--name=envtest', `--data-dir=${f('etcd')}`, `--listen-client-urls=${etcdUrl}`, `--advertise-client-urls=${etcdUrl}`,
      `--listen-peer-urls=http://127.0.0.1:${etcdPeer}`, `--initial-advertise-peer-urls=http://127.0.0.1:${etcdPeer}`,
      `--initial-cluster=envtest=http://127.0.0.1:${etcdPeer}`, '--unsafe-no-fsync=true', '--log-level=warn',
    ], { logFile: f('etcd.log') });
    await waitFor('etcd /health', async () => (await fetch(`${etcdUrl}/health`).catch(() => undefined))?.ok === true, { timeoutMs: 30_000, intervalMs: 200 });
    const kubeconfigPath = f('kubeconfig');
    const b64 = (s: string) => Buffer.from(s).toString('base64');
    writeFileSync(kubeconfigPath, stringify({
      apiVersion: 'v1', kind: 'Config',
      clusters: [{ name: 'envtest', cluster: { server: url, 'certificate-authority-data': b64(ca.cert) } }],
      users: [{ name: 'admin', user: { 'client-certificate-data': b64(admin.cert), 'client-key-data': b64(admin.key) } }],
      contexts: [{ name: 'envtest', context: { cluster: 'envtest', user: 'admin' } }],
      'current-context': 'envtest',
    }), { mode: 0o600 });
    const kc = new KubeConfig();
    kc.loadFromFile(kubeconfigPath);
    const client = new KubeClient(kc);
    let n = 0;
    const startApi = async () => {
      procs.api = spawnManaged('kube-apiserver', bins.kubeApiserver, [
        `--etcd-servers=${etcdUrl}`, `--cert-dir=${f('certs')}`, `--tls-cert-file=${f('apiserver.crt')}`, `--tls-private-key-file=${f('apiserver.key')}`,
        `--client-ca-file=${f('ca.crt')}`, `--secure-port=${securePort}`, '--bind-address=127.0.0.1', '--advertise-address=127.0.0.1',
        '--service-cluster-ip-range=10.0.0.0/24', '--allow-privileged=true', '--authorization-mode=RBAC', '--disable-admission-plugins=ServiceAccount',
        `--service-account-issuer=${url}/`, `--service-account-key-file=${f('sa.pub')}`, `--service-account-signing-key-file=${f('sa.key')}`,
        '--enable-priority-and-fairness=false', '--v=1',
      ], { logFile: f(`kube-apiserver-${n++}.log`) });
      await waitFor('kube-apiserver /readyz', async () => (await client.raw('GET', '/readyz').catch(() => undefined))?.status === 200, { timeoutMs: 120_000, intervalMs: 200 });
    };
    await startApi();
    return {
      url, kubeconfigPath, kc, client, dir,
      async restartApiserver(downMs = 2000) {
        await procs.api?.stop();
        await new Promise((r) => setTimeout(r, downMs));
        const t0 = Date.now();
        await startApi();
        return { downMs, readyAfterMs: Date.now() - t0 };
      },
      logs: () => `--- etcd ---\n${procs.etcd?.logTail(20)}\n--- kube-apiserver ---\n${procs.api?.logTail(20)}`,
      stop,
    };
  } catch (e) {
    await stop();
    throw e;
  }
}
