// The relay folders under the socket root: `<socketDir>/<relay>/<uid>/` for a relay whose node file
// carries the Relay's uid (the controller's files), `<socketDir>/<relay>/` for one without (an admin's
// hand-written file) — the unit consumers mount. Created 0750 and given to the socket group before
// socat starts. When a relay goes away, `<socketDir>/<relay>` is emptied (the folder itself stays: a
// running consumer of a file without uid may have it mounted); when a Relay is re-created under the
// same name (another uid), the old uid folder is removed, so a pod mounted for the old Relay sees an
// empty folder whatever the new one serves.
import type { Dirent } from 'node:fs';
import { chmod, chown, mkdir, readdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { readdirOrEmpty } from '../lib/fs.js';
import type { Logger } from '../lib/log.js';
import { AGENT_DIR, isRelayName, relayDir } from '../relay/index.js';

/** Creates the relay's folder (and its uid folder), mode 0750, owned by the socket group. */
export async function prepareRelayDir(
  socketDir: string,
  name: string,
  uid: string | undefined,
  gid: number,
  log: Logger,
): Promise<void> {
  const dirs = uid ? [relayDir(socketDir, name), relayDir(socketDir, name, uid)] : [relayDir(socketDir, name)];
  for (const dir of dirs) {
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
      return;
    }
  }
}

/**
 * What `<socketDir>/<relay>` may hold besides the current relay's own folder: with a uid, only the
 * folder `<uid>`; without one, only the socket (no uid folders). Returns the entries to remove (the
 * folders of earlier Relays of the same name, a socket left from before the uid) — pure.
 */
export function staleRelayEntries(
  entries: readonly { name: string; dir: boolean }[],
  uid: string | undefined,
): string[] {
  return entries
    .filter((e) => (uid ? e.name !== uid : e.dir))
    .map((e) => e.name)
    .sort();
}

/** Removes what staleRelayEntries names in each wanted relay's folder; returns the removed paths. */
export async function pruneRelayDirs(
  socketDir: string,
  wanted: ReadonlyMap<string, string | undefined>,
): Promise<string[]> {
  const removed: string[] = [];
  for (const [name, uid] of wanted) {
    const dir = relayDir(socketDir, name);
    let entries: Dirent[];
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch {
      continue; // not created yet
    }
    for (const e of staleRelayEntries(
      entries.map((x) => ({ name: x.name, dir: x.isDirectory() })),
      uid,
    )) {
      const p = path.join(dir, e);
      await rm(p, { recursive: true, force: true });
      removed.push(p);
    }
  }
  return removed;
}

/** Removes everything inside the relay's folder (its socket, its uid folders, stale files); the folder stays. */
export async function emptyRelayDir(socketDir: string, name: string): Promise<void> {
  const dir = relayDir(socketDir, name);
  const entries = await readdirOrEmpty(dir);
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
