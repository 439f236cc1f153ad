// The relay folders under the socket root (`<socketDir>/<relay>/`): the unit consumers mount. Created
// 0750 and given to the socket group before socat starts; emptied (never removed: a running consumer
// may have it mounted) when the relay goes away.
import type { Dirent } from 'node:fs';
import { chmod, chown, mkdir, readdir, rm } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from '../lib/log.js';
import { AGENT_DIR, isRelayName, relayDir } from '../relay/index.js';

/** Creates the relay's folder, mode 0750, owned by the socket group. */
export async function prepareRelayDir(socketDir: string, name: string, gid: number, log: Logger): Promise<void> {
  const dir = relayDir(socketDir, name);
  await mkdir(dir, { recursive: true, mode: 0o750 });
  await chmod(dir, 0o750);
  try {
    await chown(dir, process.getuid?.() ?? 0, gid);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EPERM') throw e;
    log.warn(
      { relay: name, gid },
      'cannot give the relay folder to the socket group (not root?): consumers outside this user may be refused',
    );
  }
}

/** Removes everything inside the relay's folder (its socket, stale files); the folder stays. */
export async function emptyRelayDir(socketDir: string, name: string): Promise<void> {
  const dir = relayDir(socketDir, name);
  let entries: string[];
  try {
    entries = await readdir(dir);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw e;
  }
  await Promise.all(entries.map((e) => rm(path.join(dir, e), { recursive: true, force: true })));
}

/** Relay folders under the socket root whose relay is not wanted (left by a crash or a removal while down). */
export async function staleRelayDirs(socketDir: string, wanted: ReadonlySet<string>): Promise<string[]> {
  let entries: Dirent[];
  try {
    entries = await readdir(socketDir, { withFileTypes: true });
  } catch {
    return [];
  }
  return entries
    .filter((e) => e.isDirectory() && e.name !== AGENT_DIR && isRelayName(e.name) && !wanted.has(e.name))
    .map((e) => e.name)
    .sort();
}
