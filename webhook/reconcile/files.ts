// The file half's edge: read the config folder's .json files, write atomically, remove managed files.
import { readdir, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { writeFileAtomic } from '../../node-agent/files.js';
import { readConfigFile } from '../../node-agent/config.js';
import { forEachLimit } from '../../lib/limit.js';
import { isManagedContent, type CurrentFile, type FileDiff } from './desired.js';

/** The folder's visible .json files (the only names the controller writes). A missing folder reads as empty. */
export async function readConfigFiles(dir: string): Promise<Map<string, CurrentFile>> {
  const out = new Map<string, CurrentFile>();
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return out;
    throw e;
  }
  for (const name of names) {
    if (name.startsWith('.') || !name.endsWith('.json')) continue;
    try {
      // Non-blocking and size-capped, like the agent: a FIFO named x.json must not stall the reconcile.
      const content = await readConfigFile(path.join(dir, name));
      out.set(name, { content, managed: isManagedContent(content) });
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') continue;
      // Unreadable (a directory, a FIFO, a huge file named x.json): not ours, leave it.
      out.set(name, { content: '', managed: false });
    }
  }
  return out;
}

/** Parallel file writes: each is fsync'd, so one at a time made 1000 relays take 4.8 s (16: 1.2 s). */
const WRITE_CONCURRENCY = 16;

/** Applies a diff: atomic writes (temp file + rename, 16 at a time), then removals. */
export async function applyFileDiff(dir: string, diff: FileDiff): Promise<void> {
  await forEachLimit(diff.write, WRITE_CONCURRENCY, (w) => writeFileAtomic(path.join(dir, w.file), w.content, 0o644));
  await forEachLimit(diff.remove, WRITE_CONCURRENCY, (f) => rm(path.join(dir, f), { force: true }));
}

/** The temp files of writeFileAtomic (`.<file>.<8 hex>.tmp`). */
const TEMP_FILE = /^\..+\.json\.[0-9a-f]{8}\.tmp$/;

/**
 * Removes temp files left by a writer killed between its write and its rename (they are hidden, so the
 * agent never reads them, but they would pile up). Only those older than `minAgeMs`, so a write in
 * flight is never touched. Returns the names removed.
 */
export async function removeStaleTempFiles(dir: string, minAgeMs = 60_000, now = Date.now()): Promise<string[]> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return [];
  }
  const removed: string[] = [];
  for (const name of names.filter((n) => TEMP_FILE.test(n))) {
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
