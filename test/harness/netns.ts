// Network namespaces for tests: a namespace with only its own loopback (up), commands run inside it with
// `ip netns exec`, and a delete that also kills what was started inside. Needs root and iproute2;
// netnsUnavailable() says why not, for `{ skip: required(netnsUnavailable()) }` (test/harness/required.ts).
import { execFileSync, spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';

let counter = 0;

/** null when network namespaces can be created here, else the reason to skip. */
export function netnsUnavailable(): string | null {
  if (process.platform !== 'linux') return 'network namespaces need Linux';
  if (process.getuid?.() !== 0) return 'network namespaces need root (run the suite as root, as .ci/run does)';
  try {
    execFileSync('ip', ['-V'], { stdio: 'ignore' });
  } catch {
    return "'ip' (iproute2) is not installed: apt-get install iproute2";
  }
  return null;
}

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export class NetNs {
  private readonly children = new Set<ChildProcess>();
  private deleted = false;

  private constructor(readonly name: string) {}

  /** Creates `<prefix>-<pid>-<n>` with its loopback up. The prefix should be unique per test file. */
  static create(prefix: string): NetNs {
    const name = `${prefix}-${process.pid}-${++counter}`;
    execFileSync('ip', ['netns', 'add', name], { stdio: 'pipe' });
    const ns = new NetNs(name);
    try {
      execFileSync('ip', ['-n', name, 'link', 'set', 'lo', 'up'], { stdio: 'pipe' });
    } catch (e) {
      ns.delete();
      throw e;
    }
    return ns;
  }

  /** Starts `cmd args` inside the namespace (killed by delete()). */
  spawn(cmd: string, args: readonly string[], opts: SpawnOptions = {}): ChildProcess {
    const child = spawn('ip', ['netns', 'exec', this.name, cmd, ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
      ...opts,
    });
    this.children.add(child);
    child.once('exit', () => this.children.delete(child));
    return child;
  }

  /** Runs `cmd args` inside the namespace to completion (killed after timeoutMs). */
  run(cmd: string, args: readonly string[], opts: { timeoutMs?: number; input?: string } = {}): Promise<RunResult> {
    const child = this.spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (d: Buffer) => {
      stdout += d.toString();
    });
    child.stderr?.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    // A command that exits without reading its input (ss, a refused client) makes this write fail with
    // EPIPE after the fact; its exit code is what counts, so the error is not left uncaught.
    child.stdin?.on('error', () => undefined);
    child.stdin?.end(opts.input ?? '');
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 10_000);
    return new Promise((resolve, reject) => {
      child.once('error', (e) => {
        clearTimeout(timer);
        reject(e);
      });
      child.once('close', (code, signal) => {
        clearTimeout(timer);
        resolve({ code, signal, stdout, stderr });
      });
    });
  }

  /** Kills everything started inside and deletes the namespace; safe to call twice. */
  delete(): void {
    if (this.deleted) return;
    this.deleted = true;
    for (const c of this.children) c.kill('SIGKILL');
    try {
      const pids = execFileSync('ip', ['netns', 'pids', this.name], { encoding: 'utf8' }).split(/\s+/).filter(Boolean);
      for (const p of pids) {
        try {
          process.kill(Number(p), 'SIGKILL');
        } catch {
          /* gone */
        }
      }
    } catch {
      /* namespace already gone */
    }
    try {
      execFileSync('ip', ['netns', 'delete', this.name], { stdio: 'pipe' });
    } catch {
      /* already gone */
    }
  }
}
