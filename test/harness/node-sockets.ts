// Which TCP and UDP sockets processes hold, and where they are bound: read from /proc (the processes'
// fd links `socket:[inode]`, and /proc/<pid>/net/{tcp,tcp6,udp,udp6} of their own network namespace),
// so it needs no ss and no netlink. Used to hold the promise "nothing of ours is bound to a
// non-loopback address of the node": test/host/security/node-addresses.test.ts runs each kind of relay with
// real socat and checks the agent's socat processes; a real-node suite calls nodeSocatOffLoopback()
// with the node's network namespace.
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';

type SocketProto = 'tcp' | 'tcp6' | 'udp' | 'udp6';

export interface BoundSocket {
  pid: number;
  /** The process's command name (/proc/<pid>/comm). */
  comm: string;
  proto: SocketProto;
  local: { ip: string; port: number };
  remote: { ip: string; port: number };
  /** TCP state (LISTEN, ESTABLISHED, …); UDP: ESTABLISHED when connected, else CLOSE (ss's UNCONN). */
  state: string;
  inode: number;
}

const TCP_STATES = [
  '',
  'ESTABLISHED',
  'SYN_SENT',
  'SYN_RECV',
  'FIN_WAIT1',
  'FIN_WAIT2',
  'TIME_WAIT',
  'CLOSE',
  'CLOSE_WAIT',
  'LAST_ACK',
  'LISTEN',
  'CLOSING',
  'NEW_SYN_RECV',
];
const PROTOS: SocketProto[] = ['tcp', 'tcp6', 'udp', 'udp6'];

/** One /proc/net address `HEX:PORT` (each 32-bit word of the address in host byte order, little-endian here). */
function parseProcAddress(text: string): { ip: string; port: number } {
  const [hex = '', port = '0'] = text.split(':');
  const words = hex.match(/.{8}/g) ?? [];
  const bytes = words.flatMap((w) =>
    [w.slice(6, 8), w.slice(4, 6), w.slice(2, 4), w.slice(0, 2)].map((b) => parseInt(b, 16)),
  );
  let ip: string;
  if (bytes.length === 4) ip = bytes.join('.');
  else {
    const groups = Array.from({ length: 8 }, (_, i) => ((bytes[2 * i]! << 8) | bytes[2 * i + 1]!).toString(16));
    // Canonical enough to compare: ::1, ::, ::ffff:a.b.c.d; anything else in full.
    if (groups.slice(0, 7).every((g) => g === '0')) ip = `::${groups[7] === '0' ? '' : groups[7]}`;
    else if (groups.slice(0, 5).every((g) => g === '0') && groups[5] === 'ffff')
      ip = `::ffff:${bytes.slice(12).join('.')}`;
    else ip = groups.join(':');
  }
  return { ip, port: parseInt(port, 16) };
}

/** The rows of one /proc/net/{tcp,tcp6,udp,udp6} file, keyed by socket inode. */
function parseProcNet(proto: SocketProto, text: string): Map<number, Omit<BoundSocket, 'pid' | 'comm'>> {
  const out = new Map<number, Omit<BoundSocket, 'pid' | 'comm'>>();
  for (const line of text.split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length < 10) continue;
    const st = parseInt(f[3]!, 16);
    const inode = Number(f[9]);
    out.set(inode, {
      proto,
      local: parseProcAddress(f[1]!),
      remote: parseProcAddress(f[2]!),
      state: TCP_STATES[st] ?? `state ${st}`,
      inode,
    });
  }
  return out;
}

/** True for 127.0.0.0/8, ::1 and ::ffff:127.x.y.z: the only addresses a socket of ours may be bound to. */
function isLoopbackAddress(ip: string): boolean {
  return ip.startsWith('127.') || ip === '::1' || ip.startsWith('::ffff:127.');
}

function socketInodes(pid: number): number[] {
  let fds: string[];
  try {
    fds = readdirSync(`/proc/${pid}/fd`);
  } catch {
    return [];
  }
  const inodes: number[] = [];
  for (const fd of fds) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (m) inodes.push(Number(m[1]));
    } catch {
      /* closed meanwhile */
    }
  }
  return inodes;
}

function read(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}

/** Every TCP/UDP socket (IPv4 and IPv6) the processes hold; Unix sockets and processes gone meanwhile are left out. */
export function socketsOf(pids: Iterable<number>): BoundSocket[] {
  const out: BoundSocket[] = [];
  for (const pid of new Set(pids)) {
    const inodes = socketInodes(pid);
    if (inodes.length === 0) continue;
    const comm = read(`/proc/${pid}/comm`)?.trim() ?? '?';
    // The tables of the process's own network namespace.
    const tables = PROTOS.map((p) => parseProcNet(p, read(`/proc/${pid}/net/${p}`) ?? ''));
    for (const inode of inodes) {
      for (const t of tables) {
        const s = t.get(inode);
        if (s) out.push({ pid, comm, ...s });
      }
    }
  }
  return out;
}

/** The sockets bound to anything but loopback (0.0.0.0 and :: included): what must be empty for ours. */
export function offLoopback(sockets: readonly BoundSocket[]): BoundSocket[] {
  return sockets.filter((s) => !isLoopbackAddress(s.local.ip));
}

/** One line per socket, as `ss -tuanp` would show it. */
export function describeSockets(sockets: readonly BoundSocket[]): string {
  const addr = (a: { ip: string; port: number }) => `${a.ip.includes(':') ? `[${a.ip}]` : a.ip}:${a.port}`;
  return sockets
    .map((s) => `${s.proto} ${s.state} ${addr(s.local)} → ${addr(s.remote)} ${s.comm}(${s.pid})`)
    .join('\n');
}

function allPids(): number[] {
  return readdirSync('/proc')
    .filter((n) => /^\d+$/.test(n))
    .map(Number);
}

function parentOf(pid: number): number | undefined {
  const stat = read(`/proc/${pid}/stat`);
  // The command name may hold spaces and parentheses: the fields after it follow the last ')'.
  const after = stat?.slice(stat.lastIndexOf(')') + 2).split(' ');
  return after ? Number(after[1]) : undefined;
}

/** The processes and all their descendants (socat forks one child per connection). */
export function withDescendants(pids: Iterable<number>): number[] {
  const children = new Map<number, number[]>();
  for (const pid of allPids()) {
    const ppid = parentOf(pid);
    if (ppid !== undefined) children.set(ppid, [...(children.get(ppid) ?? []), pid]);
  }
  const out = new Set<number>();
  const todo = [...pids];
  while (todo.length > 0) {
    const p = todo.pop()!;
    if (out.has(p)) continue;
    out.add(p);
    todo.push(...(children.get(p) ?? []));
  }
  return [...out];
}

/** A namespace of a process, as its /proc/<pid>/ns/<kind> link names it (`net:[4026531840]`). */
function namespaceOf(pid: number | 'self', kind: 'net' | 'mnt' = 'net'): string | undefined {
  try {
    return readlinkSync(`/proc/${pid}/ns/${kind}`);
  } catch {
    return undefined;
  }
}

export interface NodeSocatOptions {
  /** Whose network namespace counts as the node's (default: this process's). */
  netnsPid?: number | 'self';
  /**
   * Only socat running in a container (a mount namespace other than this process's): on a test node,
   * the agent's hostNetwork socat, and not the socat other suites run on the same machine meanwhile.
   */
  inContainer?: boolean;
  /** Narrows the processes further (e.g. to the descendants of one agent container). */
  filter?: (pid: number) => boolean;
}

/**
 * For a real-node suite: the sockets off loopback of every socat process in the node's network
 * namespace (the agent's hostNetwork socat; the sidecars' socat live in the pods' namespaces and are
 * left out). Expected: []. E.g. `assert.deepEqual(nodeSocatOffLoopback({ inContainer: true }), [])`
 * after traffic went through each kind of relay, with describeSockets() in the message.
 */
export function nodeSocatOffLoopback(opts: NodeSocatOptions = {}): BoundSocket[] {
  return offLoopback(socketsOf(nodeSocatPids(opts)));
}

/** The socat processes nodeSocatOffLoopback() looks at (to assert that there are some). */
export function nodeSocatPids(opts: NodeSocatOptions = {}): number[] {
  const net = namespaceOf(opts.netnsPid ?? 'self', 'net');
  const mnt = namespaceOf('self', 'mnt');
  return allPids().filter(
    (pid) =>
      read(`/proc/${pid}/comm`)?.trim() === 'socat' &&
      namespaceOf(pid, 'net') === net &&
      (!opts.inContainer || namespaceOf(pid, 'mnt') !== mnt) &&
      (opts.filter?.(pid) ?? true),
  );
}
