// Child processes that cannot outlive the test: output to a log file (readable when start fails),
// SIGKILL on parent death where util-linux `setpriv --pdeathsig` exists, its own process group killed
// after it exits, SIGTERM then SIGKILL on interrupted runs, and stop() = SIGTERM, then SIGKILL after a
// grace period.
import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, closeSync, constants, openSync, readFileSync } from 'node:fs';
import { registerCleanup } from './cleanup.js';

export class ProcessExitedError extends Error {
  constructor(
    readonly processName: string,
    readonly code: number | null,
    readonly signal: string | null,
    readonly logTail: string,
  ) {
    super(`${processName} exited early (code ${code}, signal ${signal}); last log lines:\n${logTail}`);
    this.name = 'ProcessExitedError';
  }
}

export interface ManagedProcess {
  readonly name: string;
  readonly child: ChildProcess;
  /** Resolves when the process has exited. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** True until the process exits. */
  running(): boolean;
  /** The last `lines` lines of its output. */
  logTail(lines?: number): string;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves once it is gone. */
  stop(graceMs?: number): Promise<void>;
}

const SETPRIV = '/usr/bin/setpriv';
let hasSetpriv: boolean | undefined;
function pdeathsigPrefix(): string[] {
  if (hasSetpriv === undefined) {
    try {
      accessSync(SETPRIV, constants.X_OK);
      hasSetpriv = true;
    } catch {
      hasSetpriv = false;
    }
  }
  return hasSetpriv ? [SETPRIV, '--pdeathsig', 'KILL', '--'] : [];
}

// Interrupted runs: SIGTERM every live process at once (the agent then stops its socats, which run in
// their own sessions), wait up to INTERRUPT_GRACE_MS for them to exit, then SIGKILL their groups.
const INTERRUPT_GRACE_MS = 3000;
const live = new Set<{ pid: number | undefined; killGroup: () => void }>();
let interruptCleanupRegistered = false;

/** True while process `pid` exists (signal 0). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function interruptCleanup(): void {
  const procs = [...live];
  live.clear();
  interruptCleanupRegistered = false;
  for (const p of procs) {
    try {
      if (p.pid) process.kill(p.pid, 'SIGTERM');
    } catch {
      // gone
    }
  }
  const pause = new Int32Array(new SharedArrayBuffer(4));
  const deadline = Date.now() + INTERRUPT_GRACE_MS;
  // Exit handlers must be synchronous: poll with Atomics.wait (a blocking sleep).
  while (Date.now() < deadline && procs.some((p) => p.pid !== undefined && isAlive(p.pid)))
    Atomics.wait(pause, 0, 0, 50);
  for (const p of procs) p.killGroup();
}

function ensureInterruptCleanup(): void {
  if (interruptCleanupRegistered) return;
  interruptCleanupRegistered = true;
  const unregister = registerCleanup(
    () => {
      unregister();
      interruptCleanup();
    },
    { phase: 'processes' },
  );
}

function tailOf(file: string, lines = 40): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

export function spawnManaged(
  name: string,
  command: string,
  args: string[],
  opts: { logFile: string; env?: NodeJS.ProcessEnv; cwd?: string },
): ManagedProcess {
  const fd = openSync(opts.logFile, 'a');
  const [cmd, ...prefixArgs] = [...pdeathsigPrefix(), command];
  const child = spawn(cmd, [...prefixArgs, ...args], {
    stdio: ['ignore', fd, fd],
    env: opts.env ?? process.env,
    cwd: opts.cwd,
    // Its own process group, so that what it starts (the agent's socat children) goes with it.
    detached: true,
  });
  closeSync(fd);
  let alive = true;
  const killGroup = () => {
    try {
      if (child.pid) process.kill(-child.pid, 'SIGKILL');
    } catch {
      // group already gone
    }
  };
  const entry = { pid: child.pid, killGroup };
  live.add(entry);
  ensureInterruptCleanup();
  const unregister = () => live.delete(entry);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => {
      alive = false;
      killGroup(); // stragglers it left behind
      unregister();
      resolve({ code, signal });
    });
    child.once('error', () => {
      alive = false;
      unregister();
      resolve({ code: null, signal: null });
    });
  });
  return {
    name,
    child,
    exited,
    running: () => alive,
    logTail: (lines = 40) => tailOf(opts.logFile, lines),
    async stop(graceMs = 5000) {
      if (!alive) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
    },
  };
}

export interface Collected {
  /** The exit code (null when a signal or the timeout ended it). */
  code: number | null;
  stdout: string;
  stderr: string;
  /** stdout and stderr as they arrived, interleaved. */
  output: string;
}

/** Runs a short command to its end and collects what it printed; rejects only when it cannot start. */
export function collect(
  command: string,
  args: string[],
  opts: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {},
): Promise<Collected> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      cwd: opts.cwd,
      env: opts.env,
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: opts.timeoutMs,
    });
    const r: Collected = { code: null, stdout: '', stderr: '', output: '' };
    child.stdout.on('data', (c: Buffer) => {
      r.stdout += c.toString();
      r.output += c.toString();
    });
    child.stderr.on('data', (c: Buffer) => {
      r.stderr += c.toString();
      r.output += c.toString();
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ ...r, code }));
  });
}
