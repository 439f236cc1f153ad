// testcontainers against podman's Docker-compatible API: `podman system service` on a socket of our
// own (the process is ours, stopped at the end), DOCKER_HOST pointing at it, Ryuk off (its image
// cannot be pulled here; the suite removes its containers itself), and a containers.conf whose
// default ulimits stay below what a VM without CAP_SYS_RESOURCE allows (else every start fails with
// "error setting rlimit … operation not permitted").
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { required } from './required.js';
import { waitFor } from './wait.js';

/** null when podman answers, else why not. */
export function podmanMissing(): string | null {
  const r = spawnSync('podman', ['version', '--format', '{{.Client.Version}}'], { encoding: 'utf8' });
  if (r.status === 0) return null;
  return `podman is not installed (${(r.error?.message ?? r.stderr).trim().split('\n')[0]}): scripts/setup.sh installs it`;
}

/** For `{ skip }`: false when podman is there, else why the suite skips (in CI: fails, see required()). */
export function skipWithoutPodman(): string | false {
  return required(podmanMissing());
}

function ping(socket: string): Promise<boolean> {
  return new Promise((resolve) => {
    const req = http.get({ socketPath: socket, path: '/_ping', timeout: 2000 }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => {
        body += c.toString();
      });
      res.on('end', () => resolve(res.statusCode === 200 && body.trim() === 'OK'));
    });
    req.on('error', () => resolve(false));
    req.on('timeout', () => {
      req.destroy();
      resolve(false);
    });
  });
}

/** containers.conf's default ulimits lowered below what a VM without CAP_SYS_RESOURCE allows. */
export const PODMAN_ULIMITS_CONF = '[containers]\ndefault_ulimits = ["nofile=20000:20000", "nproc=4096:4096"]\n';

export interface PodmanService {
  socket: string;
  stop(): Promise<void>;
}

export async function startPodmanService(): Promise<PodmanService> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'socat-relay-podman-'));
  const conf = path.join(dir, 'containers.conf');
  writeFileSync(conf, PODMAN_ULIMITS_CONF);
  const socket = path.join(dir, 'podman.sock');
  const env = { ...process.env, CONTAINERS_CONF: conf };
  const child: ChildProcess = spawn('podman', ['system', 'service', '--time=0', `unix://${socket}`], {
    env,
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (c: Buffer) => {
    stderr += c.toString();
  });
  try {
    await waitFor(
      'the podman API socket',
      async () => {
        if (child.exitCode !== null) throw new Error(`podman system service exited ${child.exitCode}: ${stderr}`);
        return ping(socket);
      },
      { timeoutMs: 30_000, intervalMs: 200 },
    );
  } catch (e) {
    child.kill('SIGKILL');
    throw e;
  }
  process.env.DOCKER_HOST = `unix://${socket}`;
  process.env.TESTCONTAINERS_RYUK_DISABLED = 'true';
  return {
    socket,
    async stop() {
      if (child.exitCode === null) {
        child.kill('SIGTERM');
        await new Promise((r) => child.once('exit', r));
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
