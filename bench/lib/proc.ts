// Child processes for the benchmarks: each runs in its own process group (so socat's forked children
// go with it), is remembered by a Cleanup, and is always stopped by its id — never by name.
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { once } from 'node:events';
import { readFile, readdir } from 'node:fs/promises';

class ProcessFailed extends Error {
  constructor(
    readonly command: string,
    readonly code: number | null,
    readonly stderr: string,
  ) {
    super(`${command} exited with ${code}: ${stderr.trim().slice(-800)}`);
    this.name = 'ProcessFailed';
  }
}

export class Timeout extends Error {
  constructor(what: string, ms: number) {
    super(`${what}: no answer after ${ms} ms`);
    this.name = 'Timeout';
  }
}

/** Things to undo at the end, last first; run even when a benchmark throws or is interrupted. */
export class Cleanup {
  /** Every Cleanup not yet run: what a signal handler must undo before exiting. */
  static readonly active = new Set<Cleanup>();
  private readonly steps: { what: string; fn: () => Promise<void> | void }[] = [];
  constructor() {
    Cleanup.active.add(this);
  }
  /** Runs every pending Cleanup (on SIGINT/SIGTERM). */
  static async runAll(): Promise<void> {
    await Promise.all([...Cleanup.active].map((c) => c.run()));
  }
  add(what: string, fn: () => Promise<void> | void): void {
    this.steps.push({ what, fn });
  }
  async run(): Promise<void> {
    Cleanup.active.delete(this);
    while (this.steps.length) {
      const s = this.steps.pop();
      if (!s) break;
      try {
        await s.fn();
      } catch (err) {
        process.stderr.write(`[bench] cleanup "${s.what}" failed: ${String(err)}\n`);
      }
    }
  }
}

export interface Managed {
  child: ChildProcess;
  pid: number;
  stderr(): string;
  stdout(): string;
  /** SIGTERM to the process group, SIGKILL after graceMs; resolves when the leader has exited. */
  stop(graceMs?: number): Promise<void>;
  exited: Promise<number | null>;
}

/** Starts a long-running process in its own group and registers its stop with the cleanup. */
export function startProcess(cmd: string, args: readonly string[], cleanup: Cleanup, opts: SpawnOptions = {}): Managed {
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], detached: true, ...opts });
  if (child.pid === undefined) throw new ProcessFailed(cmd, null, 'spawn failed');
  const pid = child.pid;
  let out = '';
  let err = '';
  child.stdout?.setEncoding('utf8').on('data', (d: string) => {
    out = (out + d).slice(-65536);
  });
  child.stderr?.setEncoding('utf8').on('data', (d: string) => {
    err = (err + d).slice(-65536);
  });
  let alive = true;
  const exited = new Promise<number | null>((resolve) => {
    child.on('exit', (code, signal) => {
      alive = false;
      resolve(code ?? (signal ? 128 : null));
    });
    child.on('error', () => {
      alive = false;
      resolve(null);
    });
  });
  const stop = async (graceMs = 2000): Promise<void> => {
    const signalGroup = (sig: NodeJS.Signals) => {
      try {
        process.kill(-pid, sig);
      } catch {
        /* group already gone */
      }
    };
    if (alive) {
      signalGroup('SIGTERM');
      const timer = setTimeout(() => signalGroup('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
    }
    // Forked children (socat's per-connection processes) may outlive the leader.
    signalGroup('SIGKILL');
  };
  cleanup.add(`stop ${cmd} (pid ${pid})`, () => stop());
  return { child, pid, stop, exited, stderr: () => err, stdout: () => out };
}

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a command to completion (bounded by timeoutMs) and returns its output; throws on non-zero exit. */
export async function runCommand(
  cmd: string,
  args: readonly string[],
  opts: { timeoutMs?: number; input?: string; allowFail?: boolean; env?: NodeJS.ProcessEnv; cwd?: string } = {},
): Promise<RunResult> {
  const child = spawn(cmd, args, {
    stdio: [opts.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    detached: true,
    ...(opts.env ? { env: opts.env } : {}),
    ...(opts.cwd ? { cwd: opts.cwd } : {}),
  });
  let stdout = '';
  let stderr = '';
  child.stdout?.setEncoding('utf8').on('data', (d: string) => {
    stdout += d;
  });
  child.stderr?.setEncoding('utf8').on('data', (d: string) => {
    stderr = (stderr + d).slice(-65536);
  });
  if (child.stdin) {
    child.stdin.on('error', () => {
      /* the command did not read its input: its exit code tells */
    });
    child.stdin.end(opts.input);
  }
  const timeoutMs = opts.timeoutMs ?? 120_000;
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    try {
      if (child.pid) process.kill(-child.pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  }, timeoutMs);
  const [code] = (await once(child, 'close')) as [number | null];
  clearTimeout(timer);
  const label = [cmd, ...args].join(' ').slice(0, 200);
  if (timedOut) throw new Timeout(label, timeoutMs);
  if (code !== 0 && !opts.allowFail) throw new ProcessFailed(label, code, stderr);
  return { code, stdout, stderr };
}

/** Resident set size of one process in bytes (VmRSS), or 0 when it is gone. */
export async function rssOf(pid: number): Promise<number> {
  try {
    const status = await readFile(`/proc/${pid}/status`, 'utf8');
    const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

/**
 * A process's resident memory split as /proc/<pid>/status does (bytes; zeros when it is gone): `anon`
 * (RssAnon: its own heap and stacks) and `file` (RssFile: mapped files, chiefly the node binary's pages,
 * which every process running that same binary shares in the page cache).
 */
export async function residentOf(pid: number): Promise<{ rss: number; anon: number; file: number }> {
  try {
    const status = await readFile(`/proc/${pid}/status`, 'utf8');
    const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+)\\s+kB`, 'm').exec(status)?.[1] ?? 0) * 1024;
    return { rss: kb('VmRSS'), anon: kb('RssAnon'), file: kb('RssFile') };
  } catch {
    return { rss: 0, anon: 0, file: 0 };
  }
}

/** All live processes as pid → {ppid, comm}: a snapshot of /proc. */
export async function processTable(): Promise<Map<number, { ppid: number; comm: string }>> {
  const table = new Map<number, { ppid: number; comm: string }>();
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = await readFile(`/proc/${entry}/stat`, 'utf8');
      // comm is in parentheses and may hold spaces; fields after the last ')' are fixed.
      const close = stat.lastIndexOf(')');
      const comm = stat.slice(stat.indexOf('(') + 1, close);
      const ppid = Number(stat.slice(close + 2).split(' ')[1]);
      table.set(Number(entry), { ppid, comm });
    } catch {
      /* exited meanwhile */
    }
  }
  return table;
}

/** The pids of every descendant of `root` (not root itself). */
export function descendants(table: Map<number, { ppid: number }>, root: number): number[] {
  const children = new Map<number, number[]>();
  for (const [pid, { ppid }] of table) {
    const list = children.get(ppid) ?? [];
    list.push(pid);
    children.set(ppid, list);
  }
  const out: number[] = [];
  const stack = [...(children.get(root) ?? [])];
  while (stack.length) {
    const p = stack.pop() as number;
    out.push(p);
    stack.push(...(children.get(p) ?? []));
  }
  return out;
}

/** Sums the RSS of the given pids. */
export async function totalRss(pids: readonly number[]): Promise<number> {
  let sum = 0;
  for (const p of pids) sum += await rssOf(p);
  return sum;
}

/** Proportional set size (shared pages split among their users) in bytes, or 0 when gone/unreadable. */
async function pssOf(pid: number): Promise<number> {
  try {
    const rollup = await readFile(`/proc/${pid}/smaps_rollup`, 'utf8');
    const m = /^Pss:\s+(\d+)\s+kB/m.exec(rollup);
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

export async function totalPss(pids: readonly number[]): Promise<number> {
  let sum = 0;
  for (const p of pids) sum += await pssOf(p);
  return sum;
}

/** CPU time (user + system) a process has used so far, in ms; 0 when it is gone. */
export async function cpuMsOf(pid: number): Promise<number> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // After ')': state(0) ppid(1) … utime(11) stime(12), in clock ticks (USER_HZ = 100 on Linux).
    return (Number(f[11]) + Number(f[12])) * 10;
  } catch {
    return 0;
  }
}

/**
 * CPU time (ms) of a process tree: each live thread's run time from /proc/<pid>/task/<tid>/schedstat
 * (nanoseconds, so a scrape's fraction of a millisecond is not lost in 10 ms clock ticks), plus the time
 * of the children each process has already waited for (cutime/cstime, in ticks: socat's per-connection
 * children land there once they exit). Nothing is counted twice: a reaped child is no longer live.
 */
export async function treeCpuMs(root: number, table?: Map<number, { ppid: number; comm: string }>): Promise<number> {
  const t = table ?? (await processTable());
  let sum = 0;
  for (const pid of [root, ...descendants(t, root)]) {
    try {
      const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      // cutime(13) cstime(14), in clock ticks (USER_HZ = 100).
      sum += (Number(f[13]) + Number(f[14])) * 10;
      for (const tid of await readdir(`/proc/${pid}/task`)) {
        const ss = await readFile(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').catch(() => '0');
        sum += Number(ss.split(' ')[0]) / 1e6;
      }
    } catch {
      /* exited meanwhile */
    }
  }
  return sum;
}
