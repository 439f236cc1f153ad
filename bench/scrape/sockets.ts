// What a path opens on the node's network: the TCP/UDP sockets listening in the node's (host) network
// namespace that belong to the path's processes and are bound to something other than loopback.
import { runCommand } from '../lib/proc.js';

export interface Listener {
  proto: string;
  local: string;
  pids: number[];
}

/** Parses `ss -Hltunp` (one socket per line: Netid State Recv-Q Send-Q Local Peer users:((…,pid=N,…))). */
export function parseListeners(ssOutput: string): Listener[] {
  const out: Listener[] = [];
  for (const line of ssOutput.split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f.length < 5 || !f[4]) continue;
    const pids = [...line.matchAll(/pid=(\d+)/g)].map((m) => Number(m[1]));
    out.push({ proto: f[0] ?? '', local: f[4], pids });
  }
  return out;
}

/** True for 127.0.0.0/8 and ::1 (with or without brackets, an interface suffix or a v4-mapped form). */
export function isLoopback(local: string): boolean {
  const host = local
    .replace(/:(\d+|\*)$/, '')
    .replace(/^\[|\]$/g, '')
    .replace(/%[^%]*$/, '');
  return /^127\./.test(host) || host === '::1' || /^::ffff:127\./i.test(host);
}

/** The listeners of `pids` that are reachable from outside the node (not loopback). */
export function exposedListeners(all: readonly Listener[], pids: ReadonlySet<number>): Listener[] {
  return all.filter((l) => !isLoopback(l.local) && l.pids.some((p) => pids.has(p)));
}

/** Every listening TCP/UDP socket of the host network namespace (where this process runs). */
export async function hostListeners(): Promise<Listener[]> {
  const r = await runCommand('ss', ['-Hltunp'], { timeoutMs: 10_000 });
  return parseListeners(r.stdout);
}
