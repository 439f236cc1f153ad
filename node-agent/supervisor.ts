// The supervisor: the edge that runs one socat per relay. It applies plan() actions, restarts a socat
// that exits (capped exponential backoff, reset after a healthy run) and stops children with SIGTERM,
// then SIGKILL after a grace period. With `handoff` (the agent), each socat takes over its socket path
// without a gap (handoff.ts), a socket removed by someone else is bound again, and stopping everything
// drains: each socat stops listening, its open connections finish within the grace. The socket folders
// are watched (inotify), so a removed socket is bound again at once; the agent's periodic checkSockets is
// the backstop. Process creation, time and timers are seams (options).
import { spawn as nodeSpawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { FolderWatch } from '../lib/folder-watch.js';
import type { Logger } from '../lib/log.js';
import { Backoff, type BackoffPolicy } from '../lib/backoff.js';
import { realSchedule, sleep, type NowFn, type ScheduleFn } from '../lib/clock.js';
import {
  bindName,
  bindReady,
  handOver,
  inodeAt,
  inodeAtSync,
  listenPath,
  removeIfOwned,
  withBindPath,
} from './handoff.js';
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
  /**
   * Bind each socat's listening socket at a temporary name and rename it over the path once it listens
   * (handoff.ts); bind again when the path is removed (checkSockets); stopAll drains. Default false.
   */
  handoff?: boolean;
  /** How long a socat may take to listen at its temporary name (ms). Default 5000. */
  readyTimeoutMs?: number;
  /** Signals one process, not its group (the drain stops only the listener). Default process.kill. */
  signalPid?: KillFn;
  /** Whether a process group still has a live (not zombie) member. Default: /proc. */
  groupAlive?: (pgid: number) => boolean;
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
  /** With handoff: the socket path, and the inode this process renamed there (undefined until then). */
  socket?: string;
  ino?: number;
  /** Another listener replaced ours at the path (a newer agent): logged once, never taken back. */
  superseded?: boolean;
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
/** How often a watched socket folder's own inode is checked (a replaced folder is watched anew). */
const SOCKET_FOLDER_TICK_MS = 60_000;

/** Restart delays of a socat that exits: 200 ms doubling to 30 s, from 200 ms again after 10 s of running. */
export const RESTART_BACKOFF: BackoffPolicy = { initialMs: 200, maxMs: 30_000, resetAfterMs: 10_000 };

/** The real KillFn: the signal goes to the child's process group. */
export const killGroup: KillFn = (pid, signal) => process.kill(-pid, signal);

/** Whether any process of group `pgid` is alive (zombies, which nobody may reap in a container, do not count). */
function procGroupAlive(pgid: number): boolean {
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${d}/stat`, 'utf8');
    } catch {
      continue;
    }
    // pid (comm) state ppid pgrp …: comm may hold spaces and parentheses, so read after the last ')'.
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (Number(f[2]) === pgid && f[0] !== 'Z' && f[0] !== 'X') return true;
  }
  return false;
}

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
  /** Handovers under way (handOver): settled() waits for them. */
  private readonly handing = new Set<Promise<void>>();
  /** With handoff: the watched folder of each served socket (syncSocketWatches). */
  private readonly socketWatches = new Map<string, FolderWatch>();

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
    this.syncSocketWatches();
    if (cleanup) {
      try {
        await this.opts.cleanup(name);
      } catch (e) {
        this.opts.log.warn({ relay: name, err: (e as Error).message }, 'could not clean the relay folder');
      }
    }
    this.opts.onChange?.();
  }

  /**
   * Stops every socat; the records stay (not running) so a last status can say so. With handoff it
   * drains: each listener stops (its socket path is removed only while it is still ours), and the
   * connections it forked finish within the grace before their group is killed.
   */
  async stopAll(): Promise<{ handedOver: number }> {
    this.closed = true;
    this.syncSocketWatches();
    if (!this.opts.handoff) {
      await Promise.all([...this.procs.keys()].map((n) => this.stop(n, false, false)));
      return { handedOver: 0 };
    }
    const left = await Promise.all([...this.procs.values()].map((p) => this.drain(p)));
    return { handedOver: left.filter((x) => x).length };
  }

  /** Resolves once every handover under way has ended (its socket renamed into place, or given up). */
  async settled(): Promise<void> {
    while (this.handing.size > 0) await Promise.all([...this.handing]);
  }

  /**
   * With handoff: binds again the socket of every running socat whose path was removed by someone else
   * (an agent from before the handoff unlinks the path when it stops). A path another listener took
   * over is left to it.
   */
  async checkSockets(): Promise<void> {
    if (!this.opts.handoff || this.closed) return;
    for (const p of this.procs.values()) {
      if (!p.running || p.stopping || !p.socket || p.ino === undefined) continue;
      let ino: number | undefined;
      try {
        ino = inodeAtSync(p.socket);
      } catch {
        ino = p.ino; // unreadable for now (EACCES, EIO): nothing to conclude
      }
      if (ino === p.ino) continue;
      if (ino !== undefined) {
        if (!p.superseded)
          this.opts.log.info({ relay: p.name, socket: p.socket }, 'another listener took over the socket');
        p.superseded = true;
        continue;
      }
      this.opts.log.warn({ relay: p.name, socket: p.socket }, 'the socket was removed: binding it again');
      this.rebind(p);
    }
  }

  /**
   * Watches the folder of every socket in place, so checkSockets runs as soon as one is removed; stops
   * watching the folders no served socket is in (or all of them once closed).
   */
  private syncSocketWatches(): void {
    const dirs = new Set<string>();
    if (!this.closed)
      for (const p of this.procs.values()) if (p.socket && !p.stopping) dirs.add(path.dirname(p.socket));
    for (const [dir, w] of this.socketWatches)
      if (!dirs.has(dir)) {
        w.close();
        this.socketWatches.delete(dir);
      }
    for (const dir of dirs)
      if (!this.socketWatches.has(dir))
        this.socketWatches.set(
          dir,
          new FolderWatch({
            dir,
            onChange: () => void this.checkSockets(),
            debounceMs: 0,
            tickMs: SOCKET_FOLDER_TICK_MS,
            schedule: this.schedule,
          }).start(),
        );
  }

  /** A new socat for `p` takes over the path; the old one stops listening and its connections finish. */
  private rebind(p: Proc): void {
    const old = p.child;
    p.child = undefined;
    p.ino = undefined;
    p.superseded = false;
    if (old?.pid !== undefined) this.signalOne(old.pid, 'SIGTERM');
    void this.launch(p);
  }

  private signalOne(pid: number, s: NodeJS.Signals): void {
    try {
      (this.opts.signalPid ?? ((x, y) => process.kill(x, y)))(pid, s);
    } catch {
      // already gone
    }
  }

  /** Stops one socat for good, letting its connections finish; true when another listener holds its socket now. */
  private async drain(p: Proc): Promise<boolean> {
    p.stopping = true;
    p.cancelTimer?.();
    const pid = p.child?.pid;
    if (pid === undefined || !p.running) return false;
    const deadline = this.now() + this.graceMs;
    this.signalOne(pid, 'SIGTERM');
    await Promise.race([p.exited, sleep(this.graceMs, this.schedule)]);
    let handedOver = false;
    if (p.socket) {
      const removed = await removeIfOwned(p.socket, p.ino).catch(() => false);
      handedOver = !removed && (await inodeAt(p.socket).catch(() => undefined)) !== undefined;
      this.opts.log.info(
        { relay: p.name, socket: p.socket },
        handedOver ? 'another listener serves the socket: left in place' : 'removed the socket',
      );
    }
    const alive = this.opts.groupAlive ?? procGroupAlive;
    while (alive(pid) && this.now() < deadline) await sleep(50, this.schedule);
    try {
      this.killFn(pid, 'SIGKILL');
    } catch {
      // the group is gone
    }
    await p.exited;
    this.opts.onChange?.();
    return handedOver;
  }

  /**
   * With handoff: waits until the socat listens at its temporary name with its mode and group, then
   * renames it over the socket path. A socat that exits first is left to the restart logic; one that
   * does not listen in time is killed (and restarted).
   */
  private async handOver(p: Proc, child: ChildProcess, socket: string, bindPath: string): Promise<void> {
    const deadline = this.now() + (this.opts.readyTimeoutMs ?? 5000);
    const current = (): boolean => p.child === child && p.running && !p.stopping && !this.closed;
    while (current() && !(await bindReady(bindPath, p.argv))) {
      if (this.now() > deadline) {
        this.opts.log.warn({ relay: p.name, socket: bindPath }, 'socat did not listen in time: restarting it');
        if (child.pid !== undefined) this.signalOne(-child.pid, 'SIGKILL');
        return;
      }
      await sleep(10, this.schedule);
    }
    if (!current()) {
      await removeIfOwned(bindPath, await inodeAt(bindPath).catch(() => undefined)).catch(() => false);
      return;
    }
    try {
      p.ino = await handOver(bindPath, socket);
      p.socket = socket;
      this.syncSocketWatches();
      this.opts.log.info({ relay: p.name, socket, pid: child.pid }, 'socket handed over');
    } catch (e) {
      this.opts.log.warn({ relay: p.name, socket, err: (e as Error).message }, 'cannot rename the socket into place');
      if (child.pid !== undefined) this.signalOne(-child.pid, 'SIGKILL');
    }
    this.opts.onChange?.();
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
    const socket = this.opts.handoff ? listenPath(p.argv) : undefined;
    const bindPath = socket ? bindName(socket) : undefined;
    let child: ChildProcess;
    try {
      child = this.spawnFn(this.opts.socatPath, bindPath ? withBindPath(p.argv, bindPath) : p.argv);
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
    if (socket && bindPath) {
      const h = this.handOver(p, child, socket, bindPath).finally(() => this.handing.delete(h));
      this.handing.add(h);
    }
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
