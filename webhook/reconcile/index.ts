// The node reconcile, one per node inside the controller process. It turns the Relay catalog, this
// node's labels and the cluster's namespaces into the node's config folder (files the agent reads), and
// reports the agent's status file in this node's RelayNode. docs/architecture.md describes the whole flow.
//
// Units: sources enqueue typed keys (keys.ts) — the catalog (files + status), node labels and the agent
// status file (status; labels also files), namespace labels (files); one KeyedQueue runs them one at a
// time with backoff; reconcileFiles (reconcile-files.ts) and reconcileNodeStatus (reconcile-status.ts)
// do the work, the status file read once per change (agent-status.ts).
//
// Status scheme: each node writes ONE object, its RelayNode (named after the node, owned by its Node),
// with server-side apply under its own field manager `socat-relay/<node>`, and never a Relay. What a
// node costs the cluster is then constant: it watches the Relays, its own Node and the Namespaces, and
// writes one object when a state changes. The Relays' summaries (readyNodes, the Ready condition) are
// written by the one elected controller from every RelayNode (webhook/cluster/).
import path from 'node:path';
import type { KubeConfig } from '@kubernetes/client-node';
import type { Registry } from 'prom-client';
import { every, type ScheduleFn } from '../../lib/clock.js';
import { FolderWatch } from '../../lib/folder-watch.js';
import type { Logger } from '../../lib/log.js';
import { agentStatusPath, removeStaleConfigTempFiles } from '../../node-contract/index.js';
import type { NodeRelayState } from '../../relay/index.js';
import type { RelayCatalog } from '../catalog/catalog.js';
import { AgentStatusFile } from './agent-status.js';
import { ConflictError, NotFoundError, type NamespaceSource, type NodeSource, type ReconcileApi } from './api.js';
import { FILES_KEY, STATUS_KEY, keyId, type ReconcileKey } from './keys.js';
import { ReconcileMetrics } from './metrics.js';
import { KeyedQueue } from './queue.js';
import { reconcileFiles } from './reconcile-files.js';
import { reconcileNodeStatus, type StatusDeps } from './reconcile-status.js';

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
  /**
   * How often the agent's status file is re-read and compared while its folder is watched (ms): the
   * backstop of the watch, which reports a new file at once. Default 10000; every 2 s while not watched.
   */
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

/** The one queue: runs each key when the labels and the catalog are known, counts runs and failed writes. */
function reconcileQueue(o: {
  run: (key: ReconcileKey) => Promise<void>;
  ready: () => boolean;
  metrics: ReconcileMetrics;
  log: Logger;
  schedule?: ScheduleFn;
}): KeyedQueue<ReconcileKey> {
  const { metrics } = o;
  return new KeyedQueue<ReconcileKey>({
    id: keyId,
    ...(o.schedule ? { schedule: o.schedule } : {}),
    handle: async (key) => {
      if (!o.ready()) return; // everything is queued again once labels and catalog are known
      try {
        await o.run(key);
        metrics.runs.inc({ kind: key.kind, result: 'success' });
      } catch (e) {
        if (e instanceof NotFoundError) {
          metrics.runs.inc({ kind: key.kind, result: 'success' });
          return; // deleted meanwhile: its delete event follows
        }
        metrics.runs.inc({ kind: key.kind, result: 'error' });
        if (e instanceof ConflictError) metrics.statusWrites.inc({ result: 'conflict' });
        else if (key.kind === 'status') metrics.statusWrites.inc({ result: 'error' });
        throw e;
      }
    },
    onError: (key, err, retryInMs) => {
      o.log[err instanceof ConflictError ? 'debug' : 'warn'](
        { key: keyId(key), err: (err as Error).message, retryInMs },
        'reconcile failed: retrying',
      );
    },
  });
}

/**
 * The sources that enqueue: catalog events (the files and that relay's status), namespace changes (the
 * files: resolved consumers), the agent status file (every status, when its bytes changed), the resync,
 * and the catalog's first sync. Node labels are pushed by the NodeSource (see startReconcile).
 */
function startSources(
  o: ReconcileOptions,
  queue: KeyedQueue<ReconcileKey>,
  agent: AgentStatusFile,
  all: () => void,
  allStatus: () => void,
  onResync: () => void,
): () => void {
  const unsubscribe = o.catalog.subscribe(() => {
    queue.add(FILES_KEY);
    queue.add(STATUS_KEY);
  });
  const unsubscribeNamespaces = o.namespaces?.subscribe(() => queue.add(FILES_KEY));
  // The agent's status file: its folder watched (the file is replaced by rename) and polled by bytes.
  const pollMs = o.statusPollMs ?? 10_000;
  const statusWatch = new FolderWatch({
    dir: path.dirname(agent.file),
    debounceMs: 100,
    tickMs: pollMs,
    unwatchedTickMs: Math.min(pollMs, 2000),
    poll: true,
    onChange: () =>
      void agent.refresh().then((changed) => {
        if (changed) allStatus();
      }),
  }).start();
  const stopResync = every(
    () => {
      if (!o.catalog.synced()) return;
      onResync();
      all();
    },
    (o.resyncSeconds ?? 60) * 1000,
    o.schedule,
  );
  // The catalog may still be loading: queue everything once it is synced.
  void o.catalog.whenSynced().then(all);
  return () => {
    unsubscribe();
    unsubscribeNamespaces?.();
    stopResync();
    statusWatch.close();
  };
}

/** The status writer's dependencies and the Node watch: the seams of `o`, else client-node's (loaded only then). */
async function statusSeams(
  o: ReconcileOptions,
  log: Logger,
  metrics: ReconcileMetrics,
  now: () => Date,
): Promise<{ status: StatusDeps; nodeSource: NodeSource }> {
  const kube = o.api && o.nodeSource ? undefined : await import('./kube.js');
  const api = o.api ?? kube!.kubeReconcileApi(o.kc, o.nodeName);
  const nodeSource =
    o.nodeSource ??
    kube!.kubeNodeSource(o.kc, o.nodeName, { log, onRestart: () => metrics.watchRestarts.inc({ resource: 'node' }) });
  return {
    status: { api, nodeName: o.nodeName, now, metrics, log, lastStates: new Map<string, NodeRelayState>() },
    nodeSource,
  };
}

/** Temp files left by writes a crash interrupted are removed before the first reconcile. */
async function removeStaleTempFiles(configDir: string, log: Logger): Promise<void> {
  const stale = await removeStaleConfigTempFiles(configDir);
  if (stale.length > 0) log.info({ configDir, files: stale }, 'removed temp files of interrupted writes');
}

/** The Node's labels or uid differ from the last ones seen (none seen yet counts as a change). */
function nodeChanged(
  labels: Record<string, string> | undefined,
  uid: string | undefined,
  l: Record<string, string>,
  u: string | undefined,
): boolean {
  return (
    labels === undefined ||
    u !== uid ||
    JSON.stringify(Object.entries(l).sort()) !== JSON.stringify(Object.entries(labels).sort())
  );
}

export async function startReconcile(o: ReconcileOptions): Promise<ReconcileHandle> {
  const log = o.log.child({ node: o.nodeName });
  const metrics = new ReconcileMetrics(o.registry);
  const now = o.now ?? (() => new Date());
  const { status, nodeSource } = await statusSeams(o, log, metrics, now);
  const agent = new AgentStatusFile(agentStatusPath(o.socketDir));
  let labels: Record<string, string> | undefined;
  let nodeUid: string | undefined;
  const files = { configDir: o.configDir, log, metrics, blockedLogged: new Set<string>() };
  await removeStaleTempFiles(o.configDir, log);

  const queue = reconcileQueue({
    metrics,
    log,
    ...(o.schedule ? { schedule: o.schedule } : {}),
    ready: () => labels !== undefined && o.catalog.synced(),
    run: async (key) => {
      if (key.kind === 'files')
        return reconcileFiles(
          { relays: o.catalog.list(), nodeLabels: labels!, namespaces: o.namespaces?.all() },
          files,
        );
      // The RelayNode is owned by the Node: without its uid (a Node watch that reported none) it waits.
      if (nodeUid) return reconcileNodeStatus(o.catalog.list(), labels!, nodeUid, agent.view(now().getTime()), status);
    },
  });
  const allStatus = (): void => queue.add(STATUS_KEY);
  const all = (): void => {
    queue.add(FILES_KEY);
    allStatus();
  };
  await agent.refresh();
  // At each resync the RelayNode is read again (one GET): one deleted by hand is written back.
  const stopSources = startSources(o, queue, agent, all, allStatus, () => {
    delete status.written;
  });
  await nodeSource.start((l, uid) => {
    const changed = nodeChanged(labels, nodeUid, l, uid);
    labels = l;
    nodeUid = uid;
    if (changed) {
      log.info({ labels: l }, 'node labels');
      all();
    }
  });
  if (o.catalog.synced()) all();

  return {
    metrics,
    idle: () => queue.idle(),
    async stop() {
      stopSources();
      await nodeSource.stop();
      await queue.close();
    },
  };
}

export {
  ConflictError,
  NotFoundError,
  type NamespaceInfo,
  type NamespaceSource,
  type NodeSource,
  type ReconcileApi,
} from './api.js';
export { desiredFiles, diffFiles } from './desired.js';
export { MANAGED_BY_ANNOTATION } from '../../node-contract/index.js';
export { nodeEntry } from './node-status.js';
export { relayNodeBody, relayNodeEntries } from './relay-node.js';
