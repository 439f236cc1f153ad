// Small filesystem edges shared by the agent and the reconcile: atomic writes (temp file in the same
// folder + rename, so a reader sees the old or the new bytes, never half of them).
import { randomBytes } from 'node:crypto';
import { open, rename, rm } from 'node:fs/promises';
import path from 'node:path';

/** Writes `data` to `file` atomically: a temp file next to it, fsync, rename over the target. */
export async function writeFileAtomic(file: string, data: string | Buffer, mode = 0o644): Promise<void> {
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.${randomBytes(4).toString('hex')}.tmp`);
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

/** True for names the agent reads as relay files: *.json, *.yaml, *.yml, not hidden (temp files start with '.'). */
export function isConfigFileName(name: string): boolean {
  return !name.startsWith('.') && /\.(json|ya?ml)$/.test(name);
}

/** The file name without its extension. */
export function fileStem(name: string): string {
  return name.replace(/\.(json|ya?ml)$/, '');
}
