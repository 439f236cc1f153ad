// The file half's edge: read the config folder's .json files, write atomically, remove managed files.
import { readdir, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { writeFileAtomic } from '../../node-agent/files.js';
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
      const content = await readFile(path.join(dir, name), 'utf8');
      out.set(name, { content, managed: isManagedContent(content) });
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') continue;
      // Unreadable (e.g. a directory named x.json): not ours, leave it.
      out.set(name, { content: '', managed: false });
    }
  }
  return out;
}

/** Applies a diff: atomic writes (temp file + rename), then removals. */
export async function applyFileDiff(dir: string, diff: FileDiff): Promise<void> {
  for (const w of diff.write) await writeFileAtomic(path.join(dir, w.file), w.content, 0o644);
  for (const f of diff.remove) await rm(path.join(dir, f), { force: true });
}
