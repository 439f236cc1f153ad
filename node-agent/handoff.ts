// The socket handoff: how a socat (and the CSI plugin's gRPC servers) takes over a socket path without a
// moment where nothing listens there. A listener binds a temporary name beside the path
// (`<dir>/.<file>.<8 hex>`), and once it accepts connections the temporary name is renamed over the path
// — atomic on Linux, and a renamed Unix socket keeps accepting connections. The listener it replaced
// (an older agent's during a rollout, the same agent's before a restart) keeps its open connections and
// receives no new ones; on exit it unlinks only the temporary name it bound, which is gone. Whoever
// removes the path checks first that its inode is still the one it renamed there (ownedPath), so an
// agent that stops never removes its successor's socket.
import { randomBytes } from 'node:crypto';
import { lstatSync, readFileSync } from 'node:fs';
import { lstat, rename, rm } from 'node:fs/promises';
import path from 'node:path';

/** The temporary name a listener binds before it is renamed over `socket`. */
export function bindName(socket: string, nonce = randomBytes(4).toString('hex')): string {
  return path.posix.join(path.posix.dirname(socket), `.${path.posix.basename(socket)}.${nonce}`);
}

/** Whether `candidate` is one of the temporary names of `socket` (bindName). */
export function isBindNameOf(candidate: string, socket: string): boolean {
  const prefix = bindName(socket, '');
  return candidate.startsWith(prefix) && /^[0-9a-f]{8}$/.test(candidate.slice(prefix.length));
}

const LISTENING = /^(UNIX-LISTEN|UNIX-RECV):([^,]*)(,.*)?$/;

/** The socket path socat listens on (`UNIX-LISTEN:<path>,…` or `UNIX-RECV:<path>,…`), if argv has one. */
export function listenPath(argv: readonly string[]): string | undefined {
  for (const a of argv) {
    const m = LISTENING.exec(a);
    if (m) return m[2];
  }
  return undefined;
}

/** `argv` with its listening Unix address bound at `bindPath` instead of its own path. */
export function withBindPath(argv: readonly string[], bindPath: string): string[] {
  let done = false;
  return argv.map((a) => {
    const m = LISTENING.exec(a);
    if (!m || done) return a;
    done = true;
    return `${m[1]}:${bindPath}${m[3] ?? ''}`;
  });
}

/** The mode and group socat gives the socket (its `mode=` and `group=` options), checked before the rename. */
export function expectedOwnership(argv: readonly string[]): { mode?: number; gid?: number } {
  const opts = argv.map((a) => LISTENING.exec(a)?.[3]).find((o) => o !== undefined) ?? '';
  const mode = /,mode=([0-7]+)(,|$)/.exec(opts)?.[1];
  const gid = /,group=(\d+)(,|$)/.exec(opts)?.[1];
  return { ...(mode ? { mode: parseInt(mode, 8) } : {}), ...(gid ? { gid: Number(gid) } : {}) };
}

/**
 * Whether the Unix socket bound at `file` is ready for clients, from the kernel's table
 * (`/proc/net/unix` of this network namespace: flags 00010000 = listening, type 0002 = datagram, which
 * receives once bound).
 */
function socketReady(file: string, table = '/proc/net/unix'): boolean {
  let text: string;
  try {
    text = readFileSync(table, 'utf8');
  } catch {
    return false;
  }
  return unixTableReady(text, file);
}

/** The pure part of socketReady: one line of the table names `file` and is listening (or a datagram socket). */
export function unixTableReady(table: string, file: string): boolean {
  for (const line of table.split('\n')) {
    const f = line.trim().split(/\s+/);
    // Num RefCount Protocol Flags Type St Inode Path
    if (f.length < 8 || f.slice(7).join(' ') !== file) continue;
    if ((parseInt(f[3]!, 16) & 0x10000) !== 0 || f[4] === '0002') return true;
  }
  return false;
}

/** Renames the bound temporary name over `socket`; returns the inode now at `socket` (ours). */
export async function handOver(bindPath: string, socket: string): Promise<number> {
  await rename(bindPath, socket);
  return (await lstat(socket)).ino;
}

/** The inode at `file`, or undefined when nothing is there. */
export async function inodeAt(file: string): Promise<number | undefined> {
  try {
    return (await lstat(file)).ino;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
}

/**
 * inodeAt without a promise, for the agent's socket check (each socket, at every change in its folder
 * and periodically): an lstat of a local path takes microseconds, while the promise version sends each
 * one through libuv's thread pool.
 */
export function inodeAtSync(file: string): number | undefined {
  return lstatSync(file, { throwIfNoEntry: false })?.ino;
}

/** Removes `file` only if its inode is still `ino` (ours): a successor's socket stays. True when it removed it. */
export async function removeIfOwned(file: string, ino: number | undefined): Promise<boolean> {
  if (ino === undefined || (await inodeAt(file)) !== ino) return false;
  await rm(file, { force: true });
  return true;
}

/** Whether the listener bound at `bindPath` may be renamed over its path: listening, its mode and group applied. */
export async function bindReady(bindPath: string, argv: readonly string[]): Promise<boolean> {
  if (!socketReady(bindPath)) return false;
  const want = expectedOwnership(argv);
  try {
    const st = await lstat(bindPath);
    return (
      (want.mode === undefined || (st.mode & 0o7777) === want.mode) && (want.gid === undefined || st.gid === want.gid)
    );
  } catch {
    return false;
  }
}
