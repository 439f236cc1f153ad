// Network namespaces for the "pod" side: created with a unique name, loopback up, always deleted.
import { runCommand } from './proc.js';

export class NetnsUnavailable extends Error {
  constructor(reason: string) {
    super(`network namespaces unavailable: ${reason}`);
    this.name = 'NetnsUnavailable';
  }
}

/** A name unique to this process: prefix + pid + counter. */
let counter = 0;
export function netnsName(prefix: string): string {
  return `${prefix}-${process.pid}-${counter++}`;
}

/** Creates a network namespace with its loopback up; the caller must delete it (deleteNetns). */
export async function createNetns(name: string): Promise<void> {
  if (process.getuid?.() !== 0) throw new NetnsUnavailable('not root');
  try {
    await runCommand('ip', ['netns', 'add', name], { timeoutMs: 10_000 });
  } catch (err) {
    throw new NetnsUnavailable(String(err));
  }
  await runCommand('ip', ['netns', 'exec', name, 'ip', 'link', 'set', 'lo', 'up'], { timeoutMs: 10_000 });
}

/** Kills what still runs inside (only this benchmark's processes live there), then deletes it. */
export async function deleteNetns(name: string): Promise<void> {
  const pids = await runCommand('ip', ['netns', 'pids', name], { timeoutMs: 10_000, allowFail: true });
  for (const p of pids.stdout.split(/\s+/).filter(Boolean)) {
    try {
      process.kill(Number(p), 'SIGKILL');
    } catch {
      /* gone */
    }
  }
  await runCommand('ip', ['netns', 'del', name], { timeoutMs: 10_000, allowFail: true });
}

/** True when something listens on the port inside the namespace (ss; no connection is made). */
export async function listeningInNetns(ns: string, proto: 'tcp' | 'udp', port: number): Promise<boolean> {
  const flag = proto === 'tcp' ? '-Hltn' : '-Hlun';
  const r = await runCommand('ip', ['netns', 'exec', ns, 'ss', flag, `sport = :${port}`], {
    timeoutMs: 5000,
    allowFail: true,
  });
  return r.code === 0 && r.stdout.trim() !== '';
}
