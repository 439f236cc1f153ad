// The file half of the reconcile: from a snapshot (relays, this node's labels, the cluster's namespaces)
// to the node's config folder. The decision is desired.ts (pure); the folder I/O is files.ts.
import { mkdir } from 'node:fs/promises';
import type { Logger } from '../../lib/log.js';
import type { Relay } from '../../relay/index.js';
import type { NamespaceInfo } from './api.js';
import { desiredFiles, diffFiles } from './desired.js';
import { applyFileDiff, readConfigFiles } from './files.js';
import type { ReconcileMetrics } from './metrics.js';

export interface FilesSnapshot {
  relays: readonly Relay[];
  nodeLabels: Record<string, string>;
  /** Undefined while unknown: then no node file carries resolved consumer namespaces. */
  namespaces: readonly NamespaceInfo[] | undefined;
}

export interface FilesDeps {
  configDir: string;
  log: Logger;
  metrics: ReconcileMetrics;
  /** Admin files already warned about (one warning each, not one per run). */
  blockedLogged: Set<string>;
}

export async function reconcileFiles(s: FilesSnapshot, d: FilesDeps): Promise<void> {
  const desired = desiredFiles(s.relays, s.nodeLabels, s.namespaces);
  const diff = diffFiles(desired, await readConfigFiles(d.configDir));
  for (const f of diff.blocked) {
    if (d.blockedLogged.has(f)) continue;
    d.blockedLogged.add(f);
    d.log.warn(
      { file: f, configDir: d.configDir },
      'a relay file not written by the controller has this name: leaving it alone',
    );
  }
  if (diff.write.length === 0 && diff.remove.length === 0) return;
  await mkdir(d.configDir, { recursive: true });
  await applyFileDiff(d.configDir, diff);
  d.metrics.filesWritten.inc(diff.write.length);
  d.metrics.filesRemoved.inc(diff.remove.length);
  d.log.info({ written: diff.write.map((w) => w.file), removed: diff.remove }, 'node config updated');
}
