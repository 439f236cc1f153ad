// The supervisor: the edge that runs one socat per relay. It applies plan() actions, restarts a socat
// that exits (capped exponential backoff, reset after a healthy run) and stops children with SIGTERM,
// then SIGKILL after a grace period. Process creation, time and timers are seams (options).
import { spawn as nodeSpawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import type { Logger } from '../lib/log.js';
import { Backoff, type BackoffPolicy } from '../lib/backoff.js';
import { realSchedule, type NowFn, type ScheduleFn } from '../lib/clock.js';
import type { Action, Command } from './plan.js';

export type SpawnFn = (file: string, args: readonly string[]) => ChildProcess;
/** Signals a child; by default the child's whole process group (socat forks one child per connection). */
export type KillFn = (pid: number, signal: NodeJS.Signals) => void;

export interface RelayProcess {
  name: string;
  argv: readonly string[];
  running: boolean;
  pid?: number;
  /** Starts after the first one (exits that were followed by a new start). */
  restarts: number;
  lastError?: string;
  /** When the current state (running or not) began, ISO 8601. */
  since: string;
  /** Connections accepted (counted from socat's `-d -d` log). */
  connections: number;
}

export interface SupervisorOptions {
  socatPath: string;
  log: Logger;
  /** Prepares the relay's socket folder before each start. */
  prepare: (name: string) => Promise<void>;
  /** Removes the relay's socket folder contents after it was stopped for good. */
  cleanup: (name: string) => Promise<void>;
  onChange?: () => void;
  onRestart?: (name: string) => void;
  onConnection?: (name: string) => void;
  spawn?: SpawnFn;
  kill?: KillFn;
  now?: NowFn;
  schedule?: ScheduleFn;
  backoff?: BackoffPolicy;
  /** Time between SIGTERM and SIGKILL when stopping (ms). */
  graceMs?: number;
}

interface Proc extends RelayProcess {
  child?: ChildProcess;
  startedAt?: number;
  /** Quick exits in a row; a process that ran resetAfterMs starts the count over. */
  backoff: Backoff;
  cancelTimer?: () => void;
  stopping: boolean;
  exited?: Promise<void>;
  /** The last error line socat printed for the current process. */
  stderrError?: string;
}

const defaultSpawn: SpawnFn = (file, args) =>
  nodeSpawn(file, args, { stdio: ['ignore', 'ignore', 'pipe'], detached: true });

/**
 * A spawn that makes each socat die with the agent: `setpriv --pdeathsig TERM -- socat …` (util-linux;
 * setpriv execs socat, so the pid is socat's). socat runs in its own process group (detached) so the
 * agent can stop it with its forks; without a parent-death signal a SIGKILLed agent outside a
 * container would leave every socat running. Falls back to a plain spawn without setpriv.
 */
export function parentDeathSpawn(setprivPath: string | undefined): SpawnFn {
  if (!setprivPath) return defaultSpawn;
  return (file, args) => defaultSpawn(setprivPath, ['--pdeathsig', 'TERM', '--', file, ...args]);
}
/** Restart delays of a socat that exits: 200 ms doubling to 30 s, from 200 ms again after 10 s of running. */
export const RESTART_BACKOFF: BackoffPolicy = { initialMs: 200, maxMs: 30_000, resetAfterMs: 10_000 };

/** The real KillFn: the signal goes to the child's process group. */
export const killGroup: KillFn = (pid, signal) => process.kill(-pid, signal);

/** socat log line: `2026/11/25 16:32:25 socat[16656] E connect(…): Connection refused`. */
const LOG_LINE = /^\S+ \S+ socat\[\d+\] ([EFWNID]) (.*)$/;

export class Supervisor {
  private readonly procs = new Map<string, Proc>();
  private readonly spawnFn: SpawnFn;
  private readonly killFn: KillFn;
  private readonly now: NowFn;
  private readonly schedule: ScheduleFn;
  private readonly backoff: BackoffPolicy;
  private readonly graceMs: number;
  private closed = false;

  constructor(private readonly opts: SupervisorOptions) {
    this.spawnFn = opts.spawn ?? defaultSpawn;
    this.killFn = opts.kill ?? killGroup;
    this.now = opts.now ?? Date.now;
    this.schedule = opts.schedule ?? realSchedule;
    this.backoff = opts.backoff ?? RESTART_BACKOFF;
    this.graceMs = opts.graceMs ?? 3000;
  }

  /** The relays under supervision (running or waiting to restart) with their command lines. */
  commands(): Map<string, Command> {
    return new Map([...this.procs].map(([n, p]) => [n, { argv: p.argv }]));
  }

  snapshot(): RelayProcess[] {
    return [...this.procs.values()]
      .sort((a, b) => (a.name < b.name ? -1 : 1))
      .map((p) => ({
        name: p.name,
        argv: p.argv,
        running: p.running,
        restarts: p.restarts,
        since: p.since,
        connections: p.connections,
        ...(p.pid !== undefined && p.running ? { pid: p.pid } : {}),
        ...(p.lastError !== undefined ? { lastError: p.lastError } : {}),
      }));
  }

  async apply(actions: readonly Action[]): Promise<void> {
    for (const a of actions) {
      if (a.type === 'stop') await this.stop(a.name, true);
      else if (a.type === 'restart') {
        await this.stop(a.name, false);
        this.start(a.name, a.argv);
      } else this.start(a.name, a.argv);
    }
  }

  start(name: string, argv: readonly string[]): void {
    if (this.closed) return;
    const p: Proc = {
      name,
      argv,
      running: false,
      restarts: 0,
      since: this.iso(),
      connections: 0,
      backoff: new Backoff(this.backoff),
      stopping: false,
    };
    this.procs.set(name, p);
    void this.launch(p);
  }

  /** Stops a relay's socat (SIGTERM, SIGKILL after the grace) and forgets it; `cleanup` empties its folder. */
  async stop(name: string, cleanup: boolean, forget = true): Promise<void> {
    const p = this.procs.get(name);
    if (!p) return;
    p.stopping = true;
    p.cancelTimer?.();
    await this.terminate(p);
    if (forget) this.procs.delete(name);
    if (cleanup) {
      try {
        await this.opts.cleanup(name);
      } catch (e) {
        this.opts.log.warn({ relay: name, err: (e as Error).message }, 'could not clean the relay folder');
      }
    }
    this.opts.onChange?.();
  }

  /** Stops every socat; the records stay (not running) so a last status can say so. */
  async stopAll(): Promise<void> {
    this.closed = true;
    await Promise.all([...this.procs.keys()].map((n) => this.stop(n, false, false)));
  }

  private iso(): string {
    return new Date(this.now()).toISOString();
  }

  private async terminate(p: Proc): Promise<void> {
    const child = p.child;
    if (!child || !p.running || child.pid === undefined) return;
    const pid = child.pid;
    const signal = (s: NodeJS.Signals): void => {
      try {
        this.killFn(pid, s);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ESRCH') throw e;
      }
    };
    signal('SIGTERM');
    let cancel: (() => void) | undefined;
    const killed = new Promise<void>((resolve) => {
      cancel = this.schedule(() => {
        if (p.running) {
          this.opts.log.warn({ relay: p.name, pid }, 'socat did not stop in time: SIGKILL');
          signal('SIGKILL');
        }
        resolve();
      }, this.graceMs);
    });
    await Promise.race([p.exited, killed]);
    cancel?.();
    await p.exited;
  }

  private async launch(p: Proc): Promise<void> {
    p.cancelTimer = undefined;
    if (p.stopping || this.closed) return;
    try {
      await this.opts.prepare(p.name);
    } catch (e) {
      this.failed(p, `cannot prepare the socket folder: ${(e as Error).message}`, p.backoff.fail());
      return;
    }
    if (p.stopping || this.closed) return;
    let child: ChildProcess;
    try {
      child = this.spawnFn(this.opts.socatPath, p.argv);
    } catch (e) {
      this.failed(p, `cannot start socat: ${(e as Error).message}`, p.backoff.fail());
      return;
    }
    p.child = child;
    p.stderrError = undefined;
    p.startedAt = this.now();
    p.running = true;
    p.pid = child.pid;
    p.since = this.iso();
    let done!: () => void;
    p.exited = new Promise<void>((r) => {
      done = r;
    });
    if (child.stderr) {
      createInterface({ input: child.stderr }).on('line', (line) => this.onLog(p, child, line));
    }
    let ended = false;
    const end = (why: string): void => {
      if (ended) return;
      ended = true;
      if (p.child === child) {
        p.running = false;
        p.since = this.iso();
      }
      done();
      if (p.stopping || this.closed || p.child !== child) return;
      const ran = this.now() - (p.startedAt ?? this.now());
      this.failed(p, p.stderrError ? `${why}: ${p.stderrError}` : why, p.backoff.failAfterRun(ran));
    };
    child.once('error', (e) => end(`cannot run socat: ${e.message}`));
    child.once('exit', (code, sig) => end(sig ? `socat killed by ${sig}` : `socat exited with code ${code}`));
    this.opts.log.info({ relay: p.name, pid: child.pid, argv: p.argv }, 'socat started');
    this.opts.onChange?.();
  }

  /** Records an error and schedules the next start after `ms` (the process's backoff). */
  private failed(p: Proc, error: string, ms: number): void {
    p.running = false;
    p.lastError = error;
    this.opts.log.warn(
      { relay: p.name, error, retryInMs: ms, failures: p.backoff.failures },
      'socat is not running: restarting after a delay',
    );
    p.cancelTimer = this.schedule(() => {
      if (p.stopping || this.closed) return;
      p.restarts++;
      this.opts.onRestart?.(p.name);
      void this.launch(p);
    }, ms);
    this.opts.onChange?.();
  }

  private onLog(p: Proc, child: ChildProcess, line: string): void {
    const m = LOG_LINE.exec(line);
    if (!m) return;
    const [, level, text] = m;
    if (level === 'N' && text!.startsWith('accepting connection')) {
      p.connections++;
      this.opts.onConnection?.(p.name);
    } else if (level === 'E' || level === 'F') {
      if (p.child === child) p.stderrError = text;
      p.lastError = text;
      this.opts.log.debug({ relay: p.name, socat: text }, 'socat error');
      this.opts.onChange?.();
    }
  }
}
