// Which file of the node's config folder defines each relay: the one reading of the folder that the
// agent (which socat to run) and the CSI plugin (whether a pod may mount a relay's folder) share, so
// the two can never act on different files for one relay name. Pure interpretation of the files'
// bytes (interpretConfig), the edge that lists and reads them (readConfigDir), and the look-up of one
// name (lookupRelay, readNodeRelay). Every file is validated with the shared validateRelay; a bad file
// is reported and skipped, and never stops the others. Files are taken in name order and the first
// valid definition of a relay wins — whoever wrote it: the controller's `<relay>.json` and an admin's
// `<relay>.yaml` or `any-name.yaml` are weighed the same way. A ConfigMemo keeps each file's reading
// while its text stays the same: a pass (every change in the folder, every resync, every CSI publish)
// parses and validates only what changed, so one huge or hostile file costs its parse once.
import { lstat } from 'node:fs/promises';
import path from 'node:path';
import { readdirOrEmpty } from '../lib/fs.js';
import { BoundedReadError, fileStem, isConfigFileName, readRelayFile } from './layout.js';
import { consumerNamespacesOf } from './relay-file.js';
import type { FileWarning } from './status.js';
import {
  formatProblems,
  parseDocuments,
  validateRelay,
  type ResolvedRelay,
  type ValidationResult,
} from '../relay/index.js';

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
  /**
   * The namespaces the controller resolved the Relay's namespaceSelector to (annotation
   * socat.io/consumer-namespaces of the same document); undefined when absent or malformed — then
   * only consumers.namespaces admits anyone on the node.
   */
  resolvedNames?: string[];
}

export interface FileError {
  file: string;
  /** The relay the file names, when it could be read. */
  relay?: string;
  error: string;
}

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

/** What one file's text holds: a parse error, or its documents each with its validation. */
interface FileReading {
  error?: string;
  docs: { doc: unknown; v: ValidationResult }[];
}

function readText(f: ConfigFile): FileReading {
  let docs: unknown[];
  try {
    docs = parseDocuments(f.text, f.name);
  } catch (e) {
    return { error: (e as Error).message, docs: [] };
  }
  return { docs: docs.map((doc) => ({ doc, v: validateRelay(doc) })) };
}

/** Each file's reading while its text stays the same (by file name); files gone from a pass are forgotten. */
export class ConfigMemo {
  private byName = new Map<string, { text: string; reading: FileReading }>();

  reading(f: ConfigFile): FileReading {
    const known = this.byName.get(f.name);
    if (known && known.text === f.text) return known.reading;
    const reading = readText(f);
    this.byName.set(f.name, { text: f.text, reading });
    return reading;
  }

  /** Drops the files not in `names` (removed from the folder). */
  keepOnly(names: ReadonlySet<string>): void {
    for (const n of [...this.byName.keys()]) if (!names.has(n)) this.byName.delete(n);
  }

  get size(): number {
    return this.byName.size;
  }
}

/**
 * Turns the folder's files into the relays the node serves. Files are taken in name order (by UTF-16
 * code unit, as JavaScript compares strings), so when two files validly define one relay the first
 * wins and the second is an error; an invalid definition is an error and does not hide a later valid
 * one; a file whose only relay is not named like the file gets a warning (it still counts). With a
 * memo, unchanged files are not parsed again.
 */
export function interpretConfig(files: readonly ConfigFile[], memo?: ConfigMemo): ConfigState {
  const state: ConfigState = { wanted: new Map(), errors: [], warnings: [] };
  const sorted = [...files]
    .filter((f) => isConfigFileName(f.name))
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  memo?.keepOnly(new Set(sorted.map((f) => f.name)));
  for (const f of sorted) {
    const reading = memo ? memo.reading(f) : readText(f);
    if (reading.error !== undefined) {
      state.errors.push({ file: f.name, error: reading.error });
      continue;
    }
    if (reading.docs.length === 0) {
      state.errors.push({ file: f.name, error: `${f.name}: holds no relay` });
      continue;
    }
    for (const { doc, v } of reading.docs) {
      const relay = nameOf(doc);
      if (!v.resolved) {
        state.errors.push({ file: f.name, ...(relay ? { relay } : {}), error: formatProblems(v.problems) });
        continue;
      }
      const r = v.resolved;
      const first = state.wanted.get(r.name);
      if (first) {
        state.errors.push({
          file: f.name,
          relay: r.name,
          error: `relay "${r.name}" is already defined in ${first.file}; this definition is ignored`,
        });
        continue;
      }
      if (reading.docs.length === 1 && fileStem(f.name) !== r.name) {
        state.warnings.push({
          file: f.name,
          message: `file ${f.name} holds relay "${r.name}": name the file ${r.name}.yaml or ${r.name}.json`,
        });
      }
      for (const w of v.warnings) state.warnings.push({ file: f.name, message: `${r.name}: ${w}` });
      const generation = generationOf(doc);
      const resolvedNames = consumerNamespacesOf(doc);
      state.wanted.set(r.name, {
        name: r.name,
        file: f.name,
        resolved: r,
        ...(generation !== undefined ? { generation } : {}),
        ...(resolvedNames !== undefined ? { resolvedNames } : {}),
      });
    }
  }
  return state;
}

/** Reads every relay file of the folder. A missing folder reads as empty; unreadable files become errors. */
export async function readConfigDir(dir: string): Promise<{ files: ConfigFile[]; errors: FileError[] }> {
  const names = await readdirOrEmpty(dir);
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
        const link = await lstat(path.join(dir, name)).then(
          (st) => st.isSymbolicLink(),
          () => false,
        );
        if (link) errors.push({ file: name, error: 'cannot read: dangling symlink (its target does not exist)' });
        continue;
      }
      errors.push({ file: name, error: `cannot read: ${(e as Error).message}` });
    }
  }
  return { files, errors };
}

/** What the node has for one relay name: the definition both the agent and the CSI plugin act on. */
export type NodeRelay =
  | { state: 'missing' }
  | { state: 'invalid'; file: string; error: string }
  | { state: 'ok'; file: string; relay: ResolvedRelay; resolvedNames: string[] | undefined };

/**
 * Relay `name` in an interpreted folder: its winning definition; else the first error of a definition
 * of it, or of a file named after it that could not be read (`readErrors`); else missing.
 */
export function lookupRelay(state: ConfigState, name: string, readErrors: readonly FileError[] = []): NodeRelay {
  const w = state.wanted.get(name);
  if (w) return { state: 'ok', file: w.file, relay: w.resolved, resolvedNames: w.resolvedNames };
  const e = state.errors.find((x) => x.relay === name) ?? readErrors.find((x) => fileStem(x.file) === name);
  return e ? { state: 'invalid', file: e.file, error: e.error } : { state: 'missing' };
}

/** Reads the config folder and looks up one relay, exactly as the agent reads it (see interpretConfig). */
export async function readNodeRelay(configDir: string, name: string, memo?: ConfigMemo): Promise<NodeRelay> {
  const { files, errors } = await readConfigDir(configDir);
  return lookupRelay(interpretConfig(files, memo), name, errors);
}
