// A real kube-scheduler (.testbin/, built by scripts/build-testbin.sh) for the test control plane: the
// admin kubeconfig, no leader election, its HTTPS port on a free loopback port. Pods without
// spec.nodeName — those the DaemonSet, Deployment and ReplicaSet controllers make — get placed by
// the scheduler's default profile, taints, node affinity and resources included, as on a cluster.
import https from 'node:https';
import path from 'node:path';
import { DEFAULT_TESTBIN } from './binaries.js';
import type { ControlPlane } from './controlplane.js';
import { freePort } from './ports.js';
import { ProcessExitedError, spawnManaged, type ManagedProcess } from './processes.js';
import { waitFor } from './wait.js';

export interface Scheduler {
  process: ManagedProcess;
  port: number;
  stop(): Promise<void>;
}

/** GET https://127.0.0.1:PORT/healthz — the scheduler serves a certificate it made itself. */
function healthz(port: number): Promise<number | undefined> {
  return new Promise((resolve) => {
    const req = https.get(
      { host: '127.0.0.1', port, path: '/healthz', rejectUnauthorized: false, timeout: 2000 },
      (res) => {
        res.resume();
        resolve(res.statusCode);
      },
    );
    req.on('error', () => resolve(undefined));
    req.on('timeout', () => req.destroy());
  });
}

/** Starts kube-scheduler against the control plane; resolves once its /healthz answers 200. Logs into `logDir`. */
export async function startScheduler(
  cp: ControlPlane,
  o: { logDir: string; testbin?: string; timeoutMs?: number },
): Promise<Scheduler> {
  const port = await freePort();
  const p = spawnManaged(
    'kube-scheduler',
    path.join(o.testbin ?? DEFAULT_TESTBIN, 'kube-scheduler'),
    [
      `--kubeconfig=${cp.kubeconfigPath}`,
      '--leader-elect=false',
      '--bind-address=127.0.0.1',
      `--secure-port=${port}`,
      '--v=1',
    ],
    { logFile: path.join(o.logDir, 'kube-scheduler.log') },
  );
  // Gives up at once, with the log tail, when the scheduler exits.
  const ac = new AbortController();
  void p.exited.then(() => ac.abort());
  try {
    await waitFor('kube-scheduler /healthz', async () => (await healthz(port)) === 200, {
      timeoutMs: o.timeoutMs ?? 60_000,
      intervalMs: 300,
      signal: ac.signal,
    });
  } catch (err) {
    const died = ac.signal.aborted;
    await p.stop();
    if (died) {
      const { code, signal } = await p.exited;
      throw new ProcessExitedError(p.name, code, signal, p.logTail());
    }
    throw new Error(`${(err as Error).message}\n--- kube-scheduler log ---\n${p.logTail()}`, { cause: err });
  }
  return { process: p, port, stop: () => p.stop() };
}
