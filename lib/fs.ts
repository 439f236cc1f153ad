// Three filesystem primitives with one home each, used by the node contract (relay files, the agent's
// status file) and by the certificate writer:
// - writeFileAtomic: temp file in the same folder, fsync, rename — a reader sees the old or the new
//   bytes, never half of them, and a crash never leaves a half-written target;
// - removeStaleTempFiles: the temp files of writers killed between write and rename (their names are
//   hidden, so no reader takes them, but they would pile up);
// - readFileBounded: a non-blocking, size-capped read that refuses what is not a regular file (a FIFO
//   named like a config file must not stall the reader, a huge file must not exhaust its memory).
import { randomBytes } from 'node:crypto';
import { accessSync, constants as fsConstants } from 'node:fs';
import { open, readdir, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';

/** `.<name>.<8 hex>.tmp`: the temp file writeFileAtomic writes next to `<name>`. */
export function tempFileName(name: string): string {
  return `.${name}.${randomBytes(4).toString('hex')}.tmp`;
}

const TEMP_FILE = /^\..+\.[0-9a-f]{8}\.tmp$/;

/** True for a name tempFileName made, whose target name passes `target` (default: any). */
export function isTempFileName(name: string, target: (name: string) => boolean = () => true): boolean {
  return TEMP_FILE.test(name) && target(name.slice(1, -13));
}

/** Writes `data` to `file` atomically: a temp file next to it, fsync, rename over the target. */
export async function writeFileAtomic(file: string, data: string | Buffer, mode = 0o644): Promise<void> {
  const tmp = path.join(path.dirname(file), tempFileName(path.basename(file)));
  const fh = await open(tmp, 'w', mode);
  try {
    await fh.writeFile(data);
    await fh.sync();
  } catch (e) {
    await fh.close().catch(() => undefined);
    await rm(tmp, { force: true });
    throw e;
  }
  await fh.close();
  try {
    await rename(tmp, file);
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  }
}

/** The names in folder `dir`; a missing folder reads as empty (any other error is thrown). */
export async function readdirOrEmpty(dir: string): Promise<string[]> {
  try {
    return await readdir(dir);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw e;
  }
}

/**
 * Removes the temp files of interrupted writeFileAtomic calls in `dir` whose target passes `target`,
 * only those older than `minAgeMs`, so a write in flight is never touched. Returns the names removed.
 */
export async function removeStaleTempFiles(
  dir: string,
  o: { minAgeMs?: number; now?: number; target?: (name: string) => boolean } = {},
): Promise<string[]> {
  const minAgeMs = o.minAgeMs ?? 60_000;
  const now = o.now ?? Date.now();
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return [];
  }
  const removed: string[] = [];
  for (const name of names.filter((n) => isTempFileName(n, o.target))) {
    const file = path.join(dir, name);
    try {
      if (now - (await stat(file)).mtimeMs < minAgeMs) continue;
      await rm(file, { force: true });
      removed.push(name);
    } catch {
      // gone already
    }
  }
  return removed;
}

/** A file refused by readFileBounded: not a regular file, or larger than allowed. */
export class BoundedReadError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BoundedReadError';
  }
}

/**
 * Reads a file of at most `maxBytes` as UTF-8. Opened non-blocking and checked on the open handle, so a
 * FIFO, a device or a folder is refused (BoundedReadError) instead of blocking, and so is a file over
 * the limit (`what` names it in the message: "a relay file"). Other errors (ENOENT, EACCES) pass through.
 */
export async function readFileBounded(file: string, maxBytes: number, what = 'this file'): Promise<string> {
  const fh = await open(file, fsConstants.O_RDONLY | fsConstants.O_NONBLOCK);
  try {
    const st = await fh.stat();
    if (!st.isFile())
      throw new BoundedReadError(
        `cannot read: not a regular file (${st.isDirectory() ? 'a folder' : st.isFIFO() ? 'a FIFO' : 'a special file'})`,
      );
    if (st.size > maxBytes)
      throw new BoundedReadError(`cannot read: ${st.size} bytes is larger than the ${maxBytes} bytes ${what} may have`);
    const buf = Buffer.alloc(Math.min(st.size, maxBytes) + 1);
    const { bytesRead } = await fh.read(buf, 0, buf.length, 0);
    if (bytesRead > maxBytes)
      throw new BoundedReadError(`cannot read: larger than the ${maxBytes} bytes ${what} may have`);
    return buf.subarray(0, bytesRead).toString('utf8');
  } finally {
    await fh.close();
  }
}

/** Is `file` there and executable by this process? */
export function isExecutable(file: string): boolean {
  try {
    accessSync(file, fsConstants.X_OK);
    return true;
  } catch {
    return false;
  }
}
