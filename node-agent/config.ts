// Reading the config folder: pure interpretation of the files' bytes (interpretConfig) and the edge that
// lists and reads them (readConfigDir). Every file is validated with the shared validateRelay; a bad
// file is reported and skipped, and never stops the others.
import { lstat, readdir } from 'node:fs/promises';
import path from 'node:path';
import { BoundedReadError, fileStem, isConfigFileName, readRelayFile, type FileWarning } from '../node-contract/index.js';
import { formatProblems, parseDocuments, validateRelay, type ResolvedRelay } from '../relay/index.js';

export interface ConfigFile {
  /** Base name inside the config folder. */
  name: string;
  text: string;
}

export interface WantedRelay {
  name: string;
  file: string;
  resolved: ResolvedRelay;
  /** metadata.generation in the file, when present (the reconcile reports it as observedGeneration). */
  generation?: number;
}

export interface FileError {
  file: string;
  /** The relay the file names, when it could be read. */
  relay?: string;
  error: string;
}

export type { FileWarning };

export interface ConfigState {
  wanted: Map<string, WantedRelay>;
  errors: FileError[];
  warnings: FileWarning[];
}

function nameOf(doc: unknown): string | undefined {
  const n = (doc as { metadata?: { name?: unknown } } | null)?.metadata?.name;
  return typeof n === 'string' && n !== '' ? n : undefined;
}

function generationOf(doc: unknown): number | undefined {
  const g = (doc as { metadata?: { generation?: unknown } } | null)?.metadata?.generation;
  return typeof g === 'number' && Number.isInteger(g) ? g : undefined;
}

/**
 * Turns the folder's files into the relays to run. Files are taken in name order, so when two files
 * name one relay the first wins and the second is an error; a file whose relay is not named like the
 * file gets a warning (it still runs).
 */
export function interpretConfig(files: readonly ConfigFile[]): ConfigState {
  const state: ConfigState = { wanted: new Map(), errors: [], warnings: [] };
  const sorted = [...files].filter((f) => isConfigFileName(f.name)).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const f of sorted) {
    let docs: unknown[];
    try {
      docs = parseDocuments(f.text, f.name);
    } catch (e) {
      state.errors.push({ file: f.name, error: (e as Error).message });
      continue;
    }
    if (docs.length === 0) {
      state.errors.push({ file: f.name, error: `${f.name}: holds no relay` });
      continue;
    }
    for (const doc of docs) {
      const relay = nameOf(doc);
      const v = validateRelay(doc);
      if (!v.resolved) {
        state.errors.push({ file: f.name, ...(relay ? { relay } : {}), error: formatProblems(v.problems) });
        continue;
      }
      const r = v.resolved;
      const first = state.wanted.get(r.name);
      if (first) {
        state.errors.push({ file: f.name, relay: r.name, error: `relay "${r.name}" is already defined in ${first.file}; this definition is ignored` });
        continue;
      }
      if (docs.length === 1 && fileStem(f.name) !== r.name) {
        state.warnings.push({ file: f.name, message: `file ${f.name} holds relay "${r.name}": name the file ${r.name}.yaml or ${r.name}.json` });
      }
      for (const w of v.warnings) state.warnings.push({ file: f.name, message: `${r.name}: ${w}` });
      const generation = generationOf(doc);
      state.wanted.set(r.name, { name: r.name, file: f.name, resolved: r, ...(generation !== undefined ? { generation } : {}) });
    }
  }
  return state;
}

/** Reads every relay file of the folder. A missing folder reads as empty; unreadable files become errors. */
export async function readConfigDir(dir: string): Promise<{ files: ConfigFile[]; errors: FileError[] }> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { files: [], errors: [] };
    throw e;
  }
  const files: ConfigFile[] = [];
  const errors: FileError[] = [];
  for (const name of names.filter(isConfigFileName)) {
    try {
      files.push({ name, text: await readRelayFile(path.join(dir, name)) });
    } catch (e) {
      if (e instanceof BoundedReadError) {
        errors.push({ file: name, error: e.message });
        continue;
      }
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') {
        // Removed between readdir and read — or a symlink whose target is gone, which must be reported.
        const link = await lstat(path.join(dir, name)).then((st) => st.isSymbolicLink(), () => false);
        if (link) errors.push({ file: name, error: 'cannot read: dangling symlink (its target does not exist)' });
        continue;
      }
      errors.push({ file: name, error: `cannot read: ${(e as Error).message}` });
    }
  }
  return { files, errors };
}
