// Counting what a process holds, from /proc: open file descriptors, children, processes whose command
// line mentions a test's unique temp dir (to find orphans and to clean them up by pid).
import { readdirSync, readFileSync } from 'node:fs';

export function fdCount(pid: number): number {
  return readdirSync(`/proc/${pid}/fd`).length;
}

function cmdline(pid: number): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
  } catch {
    return undefined;
  }
}

function ppidOf(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // pid (comm) state ppid …; comm may contain spaces or parentheses: split after the last ')'.
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(rest[1]);
  } catch {
    return undefined;
  }
}

function isZombie(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z');
  } catch {
    return true;
  }
}

function allPids(): number[] {
  return readdirSync('/proc')
    .filter((d) => /^\d+$/.test(d))
    .map(Number);
}

/** Live (non-zombie) processes whose command line contains `needle`. */
export function pidsMentioning(needle: string): number[] {
  return allPids().filter((p) => p !== process.pid && (cmdline(p) ?? '').includes(needle) && !isZombie(p));
}

/** Live descendants of `pid` (children, grandchildren…). */
export function descendants(pid: number): number[] {
  const byParent = new Map<number, number[]>();
  for (const p of allPids()) {
    const pp = ppidOf(p);
    if (pp === undefined) continue;
    (byParent.get(pp) ?? byParent.set(pp, []).get(pp)!).push(p);
  }
  const out: number[] = [];
  const stack = [pid];
  while (stack.length > 0) {
    for (const c of byParent.get(stack.pop()!) ?? []) {
      if (!isZombie(c)) out.push(c);
      stack.push(c);
    }
  }
  return out;
}

/** SIGKILLs the given pids (ours, found by their unique temp dir), ignoring those already gone. */
export function killPids(pids: readonly number[]): void {
  for (const p of pids) {
    try {
      process.kill(p, 'SIGKILL');
    } catch {
      // gone already
    }
  }
}

/** Resident set size of a process in bytes. */
export function rssBytes(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : 0;
}

/** `pid: command line` of each pid (for failure messages). */
export function describePids(pids: readonly number[]): string[] {
  return pids.map((p) => `${p}: ${(cmdline(p) ?? '(gone)').slice(0, 160)}`);
}

/** Descendants that are per-connection forks: same command line as a sibling listener (socat fork). */
export function forkedChildren(pid: number): number[] {
  const direct = new Set(childrenOf(pid));
  return descendants(pid).filter((p) => !direct.has(p));
}

/** Live direct children of `pid`. */
export function childrenOf(pid: number): number[] {
  return allPids().filter((p) => ppidOf(p) === pid && !isZombie(p));
}
