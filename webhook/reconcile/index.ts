// The node reconcile, one per node inside the controller process. It turns the Relay catalog and this
// node's labels into the node's config folder (files the agent reads) and reports the agent's status
// file back on each Relay.
//
// Status scheme (several nodes write one Relay):
// - each node applies ONLY its own `status.nodes[]` entry (server-side apply, field manager
//   `socat-relay/<node>`; the CRD declares status.nodes a list-map keyed by name), so nodes never
//   overwrite each other's entries, and applying `status: {}` removes this node's entry;
// - readyNodes and the Ready condition are derived from the whole list that the apply returned, and
//   applied under the shared manager `socat-relay` only when they differ from what is stored, with the
//   Relay's resourceVersion as a precondition. A node that computed from an outdated list gets a 409
//   and recomputes, so the last summary written is always computed from the latest list: it converges.
import { watch, type FSWatcher } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import type { KubeConfig } from '@kubernetes/client-node';
import type { Registry } from 'prom-client';
import type { Logger } from '../../lib/log.js';
import { agentStatusPath, readStatusFile } from '../../node-contract/index.js';
import { matchesNodeSelector, type NodeRelayState, type Relay } from '../../relay/index.js';
import type { RelayCatalog } from '../catalog/catalog.js';
import { ConflictError, NotFoundError, type NamespaceSource, type NodeSource, type ReconcileApi } from './api.js';
import { desiredFiles, diffFiles } from './desired.js';
import { applyFileDiff, readConfigFiles, removeStaleTempFiles } from './files.js';
import { ReconcileMetrics } from './metrics.js';
import { agentView, nodeEntry, sameEntry, sameSummary, summarize, transitionEvent, type AgentView } from './node-status.js';
import { KeyedQueue, type ScheduleFn } from './queue.js';


export interface ReconcileOptions {
  kc: KubeConfig;
  catalog: RelayCatalog;
  nodeName: string;
  configDir: string;
  socketDir: string;
  registry: Registry;
  log: Logger;
  /** Full reconcile of every relay this often. Default 60. */
  resyncSeconds?: number;
  /** Seams (tests): default to client-node implementations built from `kc`. */
  api?: ReconcileApi;
  nodeSource?: NodeSource;
  now?: () => Date;
  schedule?: ScheduleFn;
  /** How often the agent's status file is re-read and compared (ms). Default 2000. */
  statusPollMs?: number;
  /** The cluster's namespaces: each node file carries the names a namespaceSelector resolves to. */
  namespaces?: NamespaceSource;
}

export interface ReconcileHandle {
  stop(): Promise<void>;
  /** Resolves when no reconcile is queued or running (tests). */
  idle(): Promise<void>;
  metrics: ReconcileMetrics;
}

const FILES = 'files';
const STATUS = 'status/';

/** A relay that cannot be resolved still has a raw nodeSelector: report Invalid only where it matches. */
function rawSelects(relay: Relay, labels: Record<string, string>): boolean {
  const sel = (relay.spec as { nodeSelector?: unknown } | undefined)?.nodeSelector;
  if (sel === undefined || sel === null) return true;
  if (typeof sel !== 'object' || Array.isArray(sel)) return false;
  return Object.values(sel).every((v) => typeof v === 'string') && matchesNodeSelector(sel as Record<string, string>, labels);
}

export async function startReconcile(o: ReconcileOptions): Promise<ReconcileHandle> {
  const log = o.log.child({ node: o.nodeName });
  const metrics = new ReconcileMetrics(o.registry);
  const kube = o.api && o.nodeSource ? undefined : await import('./kube.js');
  const api = o.api ?? kube!.kubeReconcileApi(o.kc, o.nodeName);
  const nodeSource = o.nodeSource ?? kube!.kubeNodeSource(o.kc, o.nodeName, { log, onRestart: () => metrics.watchRestarts.inc({ resource: 'node' }) });
  const now = o.now ?? (() => new Date());
  const statusFile = agentStatusPath(o.socketDir);
  let labels: Record<string, string> | undefined;
  let lastStatusText: string | undefined;
  const lastStates = new Map<string, NodeRelayState>();
  const blockedLogged = new Set<string>();

  const readAgent = async (): Promise<AgentView> => {
    let text: string;
    try {
      text = await readStatusFile(statusFile);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { kind: 'missing', message: `no agent status at ${statusFile}: is the node agent (static pod) running?` };
      return { kind: 'unreadable', message: `cannot read ${statusFile}: ${(e as Error).message}` };
    }
    return agentView(text, statusFile, now().getTime());
  };

  const stale = await removeStaleTempFiles(o.configDir);
  if (stale.length > 0) log.info({ configDir: o.configDir, files: stale }, 'removed temp files of interrupted writes');

  const reconcileFiles = async (): Promise<void> => {
    const desired = desiredFiles(o.catalog.list(), labels!, o.namespaces?.all());
    const current = await readConfigFiles(o.configDir);
    const diff = diffFiles(desired, current);
    for (const f of diff.blocked) {
      if (blockedLogged.has(f)) continue;
      blockedLogged.add(f);
      log.warn({ file: f, configDir: o.configDir }, 'a relay file not written by the controller has this name: leaving it alone');
    }
    if (diff.write.length > 0 || diff.remove.length > 0) {
      await mkdir(o.configDir, { recursive: true });
      await applyFileDiff(o.configDir, diff);
      metrics.filesWritten.inc(diff.write.length);
      metrics.filesRemoved.inc(diff.remove.length);
      log.info({ written: diff.write.map((w) => w.file), removed: diff.remove }, 'node config updated');
    }
  };

  const reconcileStatus = async (name: string): Promise<void> => {
    const relay = o.catalog.get(name);
    if (!relay) {
      lastStates.delete(name);
      return;
    }
    const previous = relay.status?.nodes?.find((n) => n.name === o.nodeName);
    let stored: Relay = relay;
    if (!rawSelects(relay, labels!)) {
      lastStates.delete(name);
      if (!previous) return;
      stored = await api.applyNodeEntry(name, null);
      metrics.statusWrites.inc({ result: 'success' });
      log.info({ relay: name }, 'relay no longer selects this node: status entry removed');
    } else {
      const entry = nodeEntry({ relay, nodeName: o.nodeName, agent: await readAgent(), now: now().toISOString(), ...(previous ? { previous } : {}) });
      if (!sameEntry(previous, entry)) {
        stored = await api.applyNodeEntry(name, entry);
        metrics.statusWrites.inc({ result: 'success' });
      }
      const ev = transitionEvent(lastStates.get(name) ?? previous?.state, entry, o.nodeName);
      lastStates.set(name, entry.state);
      if (ev) {
        try {
          await api.recordEvent(relay, ev);
          metrics.events.inc({ reason: ev.reason });
        } catch (e) {
          log.warn({ relay: name, reason: ev.reason, err: (e as Error).message }, 'cannot record an event');
        }
      }
    }
    const nodes = stored.status?.nodes ?? [];
    const cond = stored.status?.conditions?.find((c) => c.type === 'Ready');
    const s = summarize(nodes, stored.metadata.generation, now().toISOString(), cond);
    if (!sameSummary(s, stored.status?.readyNodes, cond)) {
      await api.applySummary(stored, s.readyNodes, s.ready);
      metrics.statusWrites.inc({ result: 'success' });
    }
  };

  const queue = new KeyedQueue({
    ...(o.schedule ? { schedule: o.schedule } : {}),
    handle: async (key) => {
      if (!labels || !o.catalog.synced()) return; // everything is queued again once both are known
      const kind = key === FILES ? 'files' : 'status';
      try {
        if (key === FILES) await reconcileFiles();
        else await reconcileStatus(key.slice(STATUS.length));
        metrics.runs.inc({ kind, result: 'success' });
      } catch (e) {
        if (e instanceof NotFoundError) {
          metrics.runs.inc({ kind, result: 'success' });
          return; // deleted meanwhile: its delete event follows
        }
        metrics.runs.inc({ kind, result: 'error' });
        if (e instanceof ConflictError) metrics.statusWrites.inc({ result: 'conflict' });
        else if (kind === 'status') metrics.statusWrites.inc({ result: 'error' });
        throw e;
      }
    },
    onError: (key, err, retryInMs) => {
      const conflict = err instanceof ConflictError;
      log[conflict ? 'debug' : 'warn']({ key, err: (err as Error).message, retryInMs }, 'reconcile failed: retrying');
    },
  });

  const all = (): void => {
    queue.add(FILES);
    for (const r of o.catalog.list()) queue.add(`${STATUS}${r.metadata.name}`);
  };
  const allStatus = (): void => {
    for (const r of o.catalog.list()) queue.add(`${STATUS}${r.metadata.name}`);
  };

  const unsubscribe = o.catalog.subscribe((e) => {
    queue.add(FILES);
    queue.add(`${STATUS}${e.relay.metadata.name}`);
  });
  const unsubscribeNamespaces = o.namespaces?.subscribe(() => queue.add(FILES));

  // The agent's status file: watched (its folder: the file is replaced by rename) and polled by bytes.
  const checkStatusFile = async (): Promise<void> => {
    let text: string | undefined;
    try {
      text = await readStatusFile(statusFile);
    } catch {
      text = undefined;
    }
    if (text !== lastStatusText) {
      lastStatusText = text;
      allStatus();
    }
  };
  let watcher: FSWatcher | undefined;
  let debounce: NodeJS.Timeout | undefined;
  const watchStatus = (): void => {
    if (watcher) return;
    try {
      const w = watch(path.dirname(statusFile), { persistent: false }, () => {
        clearTimeout(debounce);
        debounce = setTimeout(() => void checkStatusFile(), 100);
      });
      w.on('error', () => {
        w.close();
        if (watcher === w) watcher = undefined;
      });
      watcher = w;
    } catch {
      // folder not there yet: the poll covers it and the watch is retried
    }
  };
  watchStatus();
  const poll = setInterval(() => {
    watchStatus();
    void checkStatusFile();
  }, o.statusPollMs ?? 2000);
  poll.unref();
  const resync = setInterval(() => {
    if (!o.catalog.synced()) return;
    all();
  }, (o.resyncSeconds ?? 60) * 1000);
  resync.unref();
  // The catalog may still be loading: queue everything once it is synced.
  const waitSynced = setInterval(() => {
    if (!o.catalog.synced()) return;
    clearInterval(waitSynced);
    all();
  }, 200);
  waitSynced.unref();

  await nodeSource.start((l) => {
    const changed = labels === undefined || JSON.stringify(Object.entries(l).sort()) !== JSON.stringify(Object.entries(labels).sort());
    labels = l;
    if (changed) {
      log.info({ labels: l }, 'node labels');
      all();
    }
  });
  lastStatusText = await readStatusFile(statusFile).catch(() => undefined);
  if (o.catalog.synced()) all();

  return {
    metrics,
    idle: () => queue.idle(),
    async stop() {
      unsubscribe();
      unsubscribeNamespaces?.();
      clearInterval(poll);
      clearInterval(resync);
      clearInterval(waitSynced);
      clearTimeout(debounce);
      watcher?.close();
      await nodeSource.stop();
      await queue.close();
    },
  };
}

export { ConflictError, NotFoundError, type NamespaceInfo, type NamespaceSource, type NodeSource, type ReconcileApi } from './api.js';
export { desiredFiles, diffFiles } from './desired.js';
export { MANAGED_BY_ANNOTATION } from '../../node-contract/index.js';
export { nodeEntry, summarize } from './node-status.js';
