// The relay a volume names, read from the node's config folder: `<config-dir>/<relay>.json` (or
// .yaml, .yml — the first that exists, as the agent takes them in name order), holding the Relay
// object, plus the namespaces the controller resolved its namespaceSelector to (annotation
// socat.io/consumer-namespaces). Read per call, so a changed file takes effect at the next mount.
import path from 'node:path';
import { formatProblems, parseDocuments, validateRelay, type ResolvedRelay } from '../../relay/index.js';
import { BoundedReadError, consumerNamespacesOf, readRelayFile } from '../../node-contract/index.js';

export type NodeRelay =
  | { state: 'missing'; tried: string[] }
  | { state: 'invalid'; file: string; error: string }
  | { state: 'ok'; file: string; relay: ResolvedRelay; resolvedNames: string[] | undefined };

const EXTENSIONS = ['.json', '.yaml', '.yml'];

/** Interprets a node file's text for relay `name`: exactly one Relay, named `name`, valid. */
export function interpretNodeFile(name: string, file: string, text: string): NodeRelay {
  let docs: unknown[];
  try {
    docs = parseDocuments(text, file);
  } catch (e) {
    return { state: 'invalid', file, error: (e as Error).message };
  }
  if (docs.length !== 1) return { state: 'invalid', file, error: `${file}: holds ${docs.length} documents, expected one Relay` };
  const v = validateRelay(docs[0]);
  if (!v.resolved) return { state: 'invalid', file, error: formatProblems(v.problems) };
  if (v.resolved.name !== name) return { state: 'invalid', file, error: `${file}: holds relay "${v.resolved.name}", not "${name}"` };
  // A malformed annotation counts as absent: then only consumers.namespaces admits anyone.
  return { state: 'ok', file, relay: v.resolved, resolvedNames: consumerNamespacesOf(docs[0]) };
}

/** Reads relay `name` (a valid relay name: it becomes a file name) from the config folder. */
export async function readNodeRelay(configDir: string, name: string): Promise<NodeRelay> {
  const tried: string[] = [];
  for (const ext of EXTENSIONS) {
    const file = `${name}${ext}`;
    tried.push(file);
    let text: string;
    try {
      text = await readRelayFile(path.join(configDir, file));
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') continue;
      return { state: 'invalid', file, error: e instanceof BoundedReadError ? e.message : `cannot read: ${(e as Error).message}` };
    }
    return interpretNodeFile(name, file, text);
  }
  return { state: 'missing', tried };
}
