// The elected controller's work (webhook/cluster/election.ts decides who): the cluster-wide view no
// node's controller holds. It watches every RelayNode (one per node, written by that node), the
// controllers' Leases and the Nodes' Ready condition (staleness), and writes each Relay's summary —
// readyNodes, desiredNodes, `ready` ("3/5"), the Ready condition, observedGeneration, listenPort — with
// server-side apply under the field manager `socat-relay`; it also removes the deprecated
// status.nodes[] that earlier versions wrote. Its cost is linear in the number of nodes; every other
// controller's is constant. The decisions are summary.ts and stale.ts (pure).
import {
  CoreV1Api,
  CustomObjectsApi,
  PatchStrategy,
  setHeaderOptions,
  type KubeConfig,
  type KubernetesListObject,
  type V1Node,
} from '@kubernetes/client-node';
import { isNotFound } from '../../lib/api-error.js';
import { every, realSchedule, type NowFn, type ScheduleFn } from '../../lib/clock.js';
import type { Logger } from '../../lib/log.js';
import { API_VERSION, GROUP, KIND, PLURAL, RELAYNODE_PLURAL, VERSION, type RelayNode } from '../../relay/index.js';
import type { RelayCatalog } from '../catalog/catalog.js';
import { ResilientInformer } from '../catalog/resilient-informer.js';
import { SHARED_FIELD_MANAGER } from '../reconcile/api.js';
import { KeyedQueue } from '../reconcile/queue.js';
import { startLeaseWatch } from './leases.js';
import { SummaryPacer } from './pacer.js';
import { mergeStale, staleNodes as staleOf, type StaleNodes } from './stale.js';
import { relaySummary, reportsByRelay, summaryWrite, type NodeReport, type SummaryWrite } from './summary.js';

export interface ClusterStatusOptions {
  kc: KubeConfig;
  catalog: RelayCatalog;
  /** The install namespace: the controllers' Leases. */
  namespace: string;
  log: Logger;
  /** Every relay's summary is looked at again this often (staleness is a matter of time). Default 10 s. */
  sweepMs?: number;
  /** A node not Ready for longer than this is stale (default STALE_AFTER_SECONDS). */
  staleAfterMs?: number;
  leaseDurationSeconds?: number;
  leaseGraceSeconds?: number;
  onRestart?: (resource: string) => void;
  /** Counts the summary writes (success, error). */
  onWrite?: (result: 'success' | 'error') => void;
  /** The time seams (lib/clock.ts): the sweep and the paced summary writes, and their clock. */
  schedule?: ScheduleFn;
  now?: NowFn;
}

export interface ClusterStatus {
  stop(): Promise<void>;
  /** Resolves when no summary is queued or being written (tests). */
  idle(): Promise<void>;
}

type RelayNodeObject = RelayNode & { metadata: { name: string } };

/**
 * What the elected controller watches: every RelayNode, every Node, the controllers' Leases; the stale set from
 * them.
 */
async function watchFleet(o: ClusterStatusOptions, onRelayNodes: () => void) {
  const { kc, log } = o;
  const custom = kc.makeApiClient(CustomObjectsApi);
  const core = kc.makeApiClient(CoreV1Api);
  const restart = o.onRestart ? { onRestart: o.onRestart } : {};
  const relayNodes = new ResilientInformer<RelayNodeObject>(
    {
      kc,
      path: `/apis/${GROUP}/${VERSION}/${RELAYNODE_PLURAL}`,
      resource: 'relaynodes',
      log,
      ...restart,
      list: async () =>
        (await custom.listClusterCustomObject({
          group: GROUP,
          version: VERSION,
          plural: RELAYNODE_PLURAL,
        })) as KubernetesListObject<RelayNodeObject>,
    },
    { add: onRelayNodes, update: onRelayNodes, delete: onRelayNodes },
  );
  const nodes = new ResilientInformer<V1Node>({
    kc,
    path: '/api/v1/nodes',
    resource: 'nodes',
    log,
    ...restart,
    list: () => core.listNode(),
  });
  const leases = await startLeaseWatch({
    kc,
    namespace: o.namespace,
    log,
    ...restart,
    ...(o.leaseDurationSeconds !== undefined ? { durationSeconds: o.leaseDurationSeconds } : {}),
    ...(o.leaseGraceSeconds !== undefined ? { graceSeconds: o.leaseGraceSeconds } : {}),
  });
  // retried like failing watches
  await Promise.all([relayNodes.start().catch(() => undefined), nodes.start().catch(() => undefined)]);
  return {
    relayNodes,
    /** Nodes not Ready for long, and nodes with a RelayNode whose controller Lease expired or is missing. */
    stale: (): StaleNodes =>
      mergeStale(
        staleOf(nodes.list(), new Date(), o.staleAfterMs),
        leases.stale(relayNodes.list().map((rn) => rn.metadata.name)),
      ),
    stop: () => Promise.all([relayNodes.stop(), nodes.stop(), leases.stop()]).then(() => undefined),
  };
}

/** Writes one relay's summary (server-side apply under `socat-relay`) and removes an older version's status.nodes. */
function summaryWriter(kc: KubeConfig, log: ClusterStatusOptions['log']) {
  const custom = kc.makeApiClient(CustomObjectsApi);
  const apply = setHeaderOptions('Content-Type', PatchStrategy.ServerSideApply);
  const merge = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);
  const relays = { group: GROUP, version: VERSION, plural: PLURAL };
  return async (name: string, w: SummaryWrite): Promise<void> => {
    try {
      if (w.clearNodes) {
        await custom.patchClusterCustomObjectStatus(
          { ...relays, name, body: { status: { nodes: null } }, fieldManager: SHARED_FIELD_MANAGER },
          merge,
        );
        log.info({ relay: name }, 'removed the deprecated status.nodes (the nodes report in their RelayNodes)');
      }
      if (w.apply) {
        await custom.patchClusterCustomObjectStatus(
          {
            ...relays,
            name,
            body: { apiVersion: API_VERSION, kind: KIND, metadata: { name }, status: w.apply },
            fieldManager: SHARED_FIELD_MANAGER,
            force: true,
          },
          apply,
        );
        log.debug(
          { relay: name, ready: w.apply.ready, reason: w.apply.conditions[0]?.reason },
          'relay summary written',
        );
      }
    } catch (e) {
      if (isNotFound(e)) return; // deleted meanwhile
      throw e;
    }
  };
}

export async function startClusterStatus(o: ClusterStatusOptions): Promise<ClusterStatus> {
  const { catalog, log } = o;
  const write = summaryWriter(o.kc, log);
  let index: Map<string, NodeReport[]> | undefined; // rebuilt after any RelayNode change
  const pacer = new SummaryPacer({
    now: o.now ?? Date.now,
    schedule: o.schedule ?? realSchedule,
    requeue: (name) => queue.add(name),
  });
  // eslint-disable-next-line prefer-const -- read by the queue's handler before watchFleet resolves
  let fleet: Awaited<ReturnType<typeof watchFleet>> | undefined;
  const queue: KeyedQueue<string> = new KeyedQueue<string>({
    id: (k) => k,
    handle: async (name) => {
      const relay = catalog.get(name);
      if (!relay || !fleet || !catalog.synced() || !fleet.relayNodes.synced()) return; // the sweep queues it again
      index ??= reportsByRelay(fleet.relayNodes.list());
      const w = summaryWrite(
        relay,
        relaySummary(relay, index.get(name) ?? [], new Date().toISOString(), fleet.stale()),
      );
      if (!w.apply && !w.clearNodes) return;
      if (w.apply && !pacer.admit(name, relay.status, w.apply)) return; // queued again when its interval ends
      await write(name, w).catch((e: unknown) => {
        o.onWrite?.('error');
        throw e;
      });
      o.onWrite?.('success');
    },
    onError: (name, err, retryInMs) =>
      log.warn({ relay: name, err: (err as Error).message, retryInMs }, 'relay summary not written: retrying'),
  });
  const all = (): void => {
    for (const r of catalog.list()) queue.add(r.metadata.name);
  };
  fleet = await watchFleet(o, () => {
    index = undefined;
    all();
  });
  const unsubscribe = catalog.subscribe((e) => {
    const name = e.relay.metadata.name;
    if (e.type === 'delete') pacer.forget(name);
    else queue.add(name);
  });
  const watched = fleet;
  void Promise.all([catalog.whenSynced(), watched.relayNodes.whenSynced()]).then(all);
  const stopSweep = every(all, o.sweepMs ?? 10_000, o.schedule);
  log.info('cluster status started: watching RelayNodes, controller Leases and Nodes');
  return {
    idle: () => queue.idle(),
    async stop() {
      stopSweep();
      unsubscribe();
      pacer.stop();
      await queue.close();
      await watched.stop();
    },
  };
}
