// The pure core of the node reconcile's file half: which relay files this node's config folder should
// hold, and what to write and remove to get there. Files the controller writes carry an ownership
// annotation; any other file (an admin's hand-dropped relay) is never rewritten or removed.
import { relayFileContent } from '../../node-contract/index.js';
import {
  configFileName,
  matchesLabelSelector,
  matchesNodeSelector,
  validateRelay,
  type Relay,
  type ResolvedRelay,
} from '../../relay/index.js';
import type { NamespaceInfo } from './api.js';

/** The relay, resolved, when it is valid and its nodeSelector matches the node's labels. */
function selectingNode(relay: Relay, nodeLabels: Record<string, string>): ResolvedRelay | undefined {
  const r = validateRelay(relay).resolved;
  return r && matchesNodeSelector(r.nodeSelector, nodeLabels) ? r : undefined;
}

/**
 * The namespaces a relay's namespaceSelector resolves to, for the node file's consumer-namespaces
 * annotation; undefined when it has no selector or the namespaces are not known yet (then the node
 * admits only consumers.namespaces).
 */
function resolveConsumerNamespaces(
  r: ResolvedRelay,
  namespaces: readonly NamespaceInfo[] | undefined,
): string[] | undefined {
  const sel = r.consumers.namespaceSelector;
  if (!sel || !namespaces) return undefined;
  return namespaces.filter((ns) => matchesLabelSelector(sel, ns.labels)).map((ns) => ns.name);
}

/**
 * File name → content for every valid relay that selects this node, each with the namespaces its
 * namespaceSelector resolves to (when `namespaces` is known).
 */
export function desiredFiles(
  relays: readonly Relay[],
  nodeLabels: Record<string, string>,
  namespaces?: readonly NamespaceInfo[],
): Map<string, string> {
  const out = new Map<string, string>();
  for (const r of [...relays].sort((a, b) => (a.metadata.name < b.metadata.name ? -1 : 1))) {
    const resolved = selectingNode(r, nodeLabels);
    if (resolved)
      out.set(configFileName(r.metadata.name), relayFileContent(r, resolveConsumerNamespaces(resolved, namespaces)));
  }
  return out;
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
