// The outside tools the kind suite drives (docker, kind, kubectl) and why it must skip without them.
// Everything here runs commands with explicit argv (no shell) and a timeout.
import { execFile, execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { DEFAULT_IMAGE } from '../../lib/image.js';
import { REPO_ROOT } from '../harness/binaries.js';

export const IMAGE = DEFAULT_IMAGE;
/** cert-manager release installed into the cluster (its static manifest, as the docs say). */
export const CERT_MANAGER_VERSION = 'v1.19.1';
export const CERT_MANAGER_URL = `https://github.com/cert-manager/cert-manager/releases/download/${CERT_MANAGER_VERSION}/cert-manager.yaml`;

export class CommandError extends Error {
  constructor(readonly argv: string[], readonly code: number | string | null, readonly stdout: string, readonly stderr: string) {
    super(`${argv.join(' ')} failed (${code}): ${stderr.trim().split('\n').slice(-15).join('\n') || stdout.trim().split('\n').slice(-15).join('\n')}`);
    this.name = 'CommandError';
  }
}

export function run(cmd: string, args: string[], opts: { timeoutMs?: number; env?: NodeJS.ProcessEnv; input?: string } = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile(cmd, args, { timeout: opts.timeoutMs ?? 120_000, env: opts.env ?? process.env, maxBuffer: 64 * 1024 * 1024, cwd: REPO_ROOT }, (err, stdout, stderr) => {
      if (err) reject(new CommandError([cmd, ...args], (err as NodeJS.ErrnoException).code ?? null, stdout, stderr));
      else resolve(stdout);
    });
    if (opts.input !== undefined) child.stdin?.end(opts.input);
  });
}

function works(cmd: string, args: string[]): string | undefined {
  try {
    execFileSync(cmd, args, { stdio: 'pipe', timeout: 15_000 });
    return undefined;
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { stderr?: Buffer };
    if (e.code === 'ENOENT') return `${cmd} is not installed`;
    return (e.stderr?.toString().trim().split('\n')[0] ?? e.message).slice(0, 200);
  }
}

/** false when the suite can run here, else the reason (for `{ skip }`). */
export function kindUnavailable(): string | false {
  const docker = works('docker', ['info', '--format', '{{.ServerVersion}}']);
  if (docker) return `no Docker engine (docker info: ${docker}); the kind suite needs Docker, the kind CLI (go install sigs.k8s.io/kind@v0.30.0) and kubectl`;
  const kind = works('kind', ['version']);
  if (kind) return `the kind CLI is missing (${kind}): go install sigs.k8s.io/kind@v0.30.0`;
  const kubectl = works('kubectl', ['version', '--client']);
  if (kubectl) return `kubectl is missing (${kubectl})`;
  if (works('docker', ['image', 'inspect', IMAGE]) && !existsSync(path.join(REPO_ROOT, 'Dockerfile'))) {
    return `image ${IMAGE} is not built and there is no Dockerfile to build it`;
  }
  return false;
}
