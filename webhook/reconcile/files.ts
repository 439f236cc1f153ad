// The file half's edge: read the config folder's .json files, write atomically, remove managed files.
// How each file is read and written is the node contract's (node-contract/).
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { readdirOrEmpty } from '../../lib/fs.js';
import { forEachLimit } from '../../lib/limit.js';
import {
  isControllerFileName,
  isManagedContent,
  readRelayFile,
  removeStaleConfigTempFiles,
  writeFileAtomic,
} from '../../node-contract/index.js';
import type { CurrentFile, FileDiff } from './desired.js';

/** The folder's visible .json files (the only names the controller writes). A missing folder reads as empty. */
export async function readConfigFiles(dir: string): Promise<Map<string, CurrentFile>> {
  const out = new Map<string, CurrentFile>();
  const names = await readdirOrEmpty(dir);
  for (const name of names) {
    if (!isControllerFileName(name)) continue;
    try {
      // Non-blocking and size-capped, like the agent: a FIFO named x.json must not stall the reconcile.
      const content = await readRelayFile(path.join(dir, name));
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

/** Temp files of interrupted writes (the controller killed between write and rename), older than minAgeMs. */
export const removeStaleTempFiles = removeStaleConfigTempFiles;
