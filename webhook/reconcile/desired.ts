// The pure core of the node reconcile's file half: which relay files this node's config folder should
// hold, and what to write and remove to get there. Files the controller writes carry an ownership
// annotation; any other file (an admin's hand-dropped relay) is never rewritten or removed.
import {
  API_VERSION, configFileName, KIND, matchesNodeSelector, validateRelay, type Relay,
} from '../../relay/index.js';

/** Marks a config file as written by the controller (and so removable by it). */
export const MANAGED_BY_ANNOTATION = 'socat.io/managed-by';
export const MANAGED_BY_VALUE = 'socat-relay-controller';

/** JSON with object keys sorted at every level: equal objects give equal bytes. */
export function stableJson(value: unknown): string {
  const sort = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(sort);
    if (v !== null && typeof v === 'object') {
      return Object.fromEntries(Object.keys(v as object).sort().filter((k) => (v as Record<string, unknown>)[k] !== undefined).map((k) => [k, sort((v as Record<string, unknown>)[k])]));
    }
    return v;
  };
  return `${JSON.stringify(sort(value), null, 2)}\n`;
}

/** True when the relay is valid and its nodeSelector matches the node's labels. */
export function selectsNode(relay: Relay, nodeLabels: Record<string, string>): boolean {
  const v = validateRelay(relay);
  return v.resolved !== undefined && matchesNodeSelector(v.resolved.nodeSelector, nodeLabels);
}

/** The file content for a relay: the Relay object itself, reduced to what the agent needs. */
export function relayFileContent(relay: Relay): string {
  const gen = relay.metadata.generation;
  return stableJson({
    apiVersion: API_VERSION,
    kind: KIND,
    metadata: {
      name: relay.metadata.name,
      ...(typeof gen === 'number' ? { generation: gen } : {}),
      annotations: { [MANAGED_BY_ANNOTATION]: MANAGED_BY_VALUE },
    },
    spec: relay.spec,
  });
}

/** File name → content for every valid relay that selects this node. */
export function desiredFiles(relays: readonly Relay[], nodeLabels: Record<string, string>): Map<string, string> {
  const out = new Map<string, string>();
  for (const r of [...relays].sort((a, b) => (a.metadata.name < b.metadata.name ? -1 : 1))) {
    if (selectsNode(r, nodeLabels)) out.set(configFileName(r.metadata.name), relayFileContent(r));
  }
  return out;
}

/** True when a file's text is a relay file written by the controller. */
export function isManagedContent(text: string): boolean {
  try {
    const v = JSON.parse(text) as { metadata?: { annotations?: Record<string, unknown> } };
    return v?.metadata?.annotations?.[MANAGED_BY_ANNOTATION] === MANAGED_BY_VALUE;
  } catch {
    return false;
  }
}

export interface CurrentFile {
  content: string;
  managed: boolean;
}

export interface FileDiff {
  write: { file: string; content: string }[];
  remove: string[];
  /** Desired files that an admin's own file of the same name blocks. */
  blocked: string[];
}

/**
 * What to write and remove. `current` holds the folder's files (name → content, managed or not):
 * unchanged files are not written, unmanaged files are neither overwritten nor removed.
 */
export function diffFiles(desired: ReadonlyMap<string, string>, current: ReadonlyMap<string, CurrentFile>): FileDiff {
  const diff: FileDiff = { write: [], remove: [], blocked: [] };
  for (const [file, content] of desired) {
    const cur = current.get(file);
    if (!cur) diff.write.push({ file, content });
    else if (!cur.managed) diff.blocked.push(file);
    else if (cur.content !== content) diff.write.push({ file, content });
  }
  for (const [file, cur] of current) {
    if (cur.managed && !desired.has(file)) diff.remove.push(file);
  }
  diff.remove.sort();
  return diff;
}
