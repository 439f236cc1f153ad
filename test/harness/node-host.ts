// The host-side state a test node creates, read and removed synchronously (so the exit and signal
// handlers can use it too): mounts under a folder, the pod network namespaces and links of its bridge,
// processes found by their command line. Linux only, as root.
import { execFileSync, spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';

/** mountinfo fields escape space, tab, newline and backslash as octal. */
function unescapeMountPath(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
}

export interface MountEntry {
  mountPoint: string;
  /** The optional fields, e.g. `shared:12`. */
  optional: string;
  fsType: string;
  source: string;
  superOptions: string;
}

function mounts(): MountEntry[] {
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .trim()
    .split('\n')
    .map((line) => {
      const [left, right = ''] = line.split(' - ');
      const f = left!.split(' ');
      const r = right.split(' ');
      return {
        mountPoint: unescapeMountPath(f[4]!),
        optional: f.slice(6).join(' '),
        fsType: r[0] ?? '',
        source: r[1] ?? '',
        superOptions: r[2] ?? '',
      };
    });
}

/** Mounts at or below `dir`, or whose options name a path below it (overlay lowerdir/upperdir), deepest first. */
export function mountsUnder(dir: string): MountEntry[] {
  const prefix = dir.endsWith('/') ? dir : `${dir}/`;
  return mounts()
    .filter((m) => m.mountPoint === dir || m.mountPoint.startsWith(prefix) || m.superOptions.includes(prefix))
    .sort((a, b) => b.mountPoint.length - a.mountPoint.length);
}

/** Unmounts everything under `dir` (deepest first; lazily when busy). Returns what could not be unmounted. */
export function unmountUnder(dir: string): string[] {
  for (let pass = 0; pass < 3; pass++) {
    const left = mountsUnder(dir);
    if (left.length === 0) return [];
    for (const m of left) {
      if (spawnSync('umount', [m.mountPoint], { stdio: 'ignore' }).status !== 0)
        spawnSync('umount', ['-l', m.mountPoint], { stdio: 'ignore' });
    }
  }
  return mountsUnder(dir).map((m) => m.mountPoint);
}

/**
 * `mount --bind DIR DIR; mount --make-rshared DIR`: Bidirectional mount propagation needs a shared mount, and `/` may
 * be private.
 */
export function makeSharedMount(dir: string): void {
  execFileSync('mount', ['--bind', dir, dir], { stdio: 'pipe' });
  execFileSync('mount', ['--make-rshared', dir], { stdio: 'pipe' });
}

/** Names of the network namespaces in /run/netns. */
export function netnsNames(): string[] {
  try {
    return readdirSync('/run/netns');
  } catch {
    return [];
  }
}

export interface Link {
  ifname: string;
  master?: string;
  kind?: string;
}

export function links(netns?: string): Link[] {
  const args = [...(netns ? ['-n', netns] : []), '-j', '-d', 'link', 'show'];
  const res = spawnSync('ip', args, { encoding: 'utf8' });
  if (res.status !== 0) return [];
  const parsed = JSON.parse(res.stdout || '[]') as {
    ifname: string;
    master?: string;
    linkinfo?: { info_kind?: string };
  }[];
  return parsed.map((l) => ({ ifname: l.ifname, master: l.master, kind: l.linkinfo?.info_kind }));
}

/** IPv4 addresses (CIDR-less) in a network namespace. */
export function addressesIn(netns: string): string[] {
  const res = spawnSync('ip', ['-n', netns, '-j', '-4', 'addr', 'show'], { encoding: 'utf8' });
  if (res.status !== 0) return [];
  return (JSON.parse(res.stdout || '[]') as { addr_info?: { local: string }[] }[]).flatMap((l) =>
    (l.addr_info ?? []).map((a) => a.local),
  );
}

export interface HostProcess {
  pid: number;
  cmdline: string[];
}

function processes(): HostProcess[] {
  const out: HostProcess[] = [];
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const raw = readFileSync(`/proc/${e}/cmdline`, 'utf8');
      if (raw) out.push({ pid: Number(e), cmdline: raw.replace(/\0$/, '').split('\0') });
    } catch {
      // gone
    }
  }
  return out;
}

/** Processes whose command line or working folder mentions `text`. */
export function processesMentioning(text: string): HostProcess[] {
  return processes().filter((p) => {
    if (p.pid === process.pid) return false;
    if (p.cmdline.some((a) => a.includes(text))) return true;
    try {
      return readlinkSync(`/proc/${p.pid}/cwd`).startsWith(text);
    } catch {
      return false;
    }
  });
}

/** The pids of `pid`'s descendants (by /proc/PID/stat's ppid). */
export function descendants(pid: number): number[] {
  const children = new Map<number, number[]>();
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const stat = readFileSync(`/proc/${e}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      children.set(ppid, [...(children.get(ppid) ?? []), Number(e)]);
    } catch {
      // gone
    }
  }
  const out: number[] = [];
  const walk = (p: number) => {
    for (const c of children.get(p) ?? []) {
      out.push(c);
      walk(c);
    }
  };
  walk(pid);
  return out;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

export function killPids(pids: number[], signal: NodeJS.Signals = 'SIGKILL'): void {
  for (const p of pids) {
    try {
      process.kill(p, signal);
    } catch {
      // gone
    }
  }
}

/** Blocks up to `ms` until every pid is gone (exit handlers cannot await). */
export function waitGoneSync(pids: number[], ms: number): boolean {
  const pause = new Int32Array(new SharedArrayBuffer(4));
  const deadline = Date.now() + ms;
  while (pids.some(alive)) {
    if (Date.now() > deadline) return false;
    Atomics.wait(pause, 0, 0, 50);
  }
  return true;
}
