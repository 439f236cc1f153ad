// client-node implementations of the reconcile's seams (api.ts): server-side apply on the Relay's
// status subresource, core/v1 Events, and a watch of this node's labels (a ResilientInformer).
// Loaded lazily, so the agent and the unit tests never pay for client-node.
import {
  CoreV1Api, CustomObjectsApi, PatchStrategy, setHeaderOptions,
  type KubeConfig, type V1Node,
} from '@kubernetes/client-node';
import { randomBytes } from 'node:crypto';
import type { Logger } from '../../lib/log.js';
import { ResilientInformer } from '../catalog/resilient-informer.js';
import type { WatchTimeouts } from '../catalog/watch.js';
import { API_VERSION, GROUP, KIND, PLURAL, VERSION, type Relay } from '../../relay/index.js';
import {
  ConflictError, EVENT_NAMESPACE, NotFoundError, SHARED_FIELD_MANAGER, STATUS_FIELD_MANAGER_PREFIX,
  type NodeSource, type ReconcileApi,
} from './api.js';

function codeOf(e: unknown): number | undefined {
  const c = (e as { code?: unknown })?.code;
  return typeof c === 'number' ? c : undefined;
}

function translate(e: unknown, what: string): Error {
  const code = codeOf(e);
  if (code === 409) return new ConflictError(`${what}: conflict (the object changed)`);
  if (code === 404) return new NotFoundError(`${what}: not found`);
  return e instanceof Error ? e : new Error(String(e));
}

export function kubeReconcileApi(kc: KubeConfig, nodeName: string): ReconcileApi {
  const custom = kc.makeApiClient(CustomObjectsApi);
  const core = kc.makeApiClient(CoreV1Api);
  const apply = setHeaderOptions('Content-Type', PatchStrategy.ServerSideApply);
  const base = { group: GROUP, version: VERSION, plural: PLURAL };
  return {
    async applyNodeEntry(name, entry) {
      const body = { apiVersion: API_VERSION, kind: KIND, metadata: { name }, status: entry ? { nodes: [entry] } : {} };
      try {
        return (await custom.patchClusterCustomObjectStatus({ ...base, name, body, fieldManager: `${STATUS_FIELD_MANAGER_PREFIX}${nodeName}`, force: true }, apply)) as Relay;
      } catch (e) {
        throw translate(e, `apply status of relay ${name}`);
      }
    },
    async applySummary(basedOn, readyNodes, ready, listenPort) {
      const name = basedOn.metadata.name;
      const body = {
        apiVersion: API_VERSION, kind: KIND,
        metadata: { name, ...(basedOn.metadata.resourceVersion ? { resourceVersion: basedOn.metadata.resourceVersion } : {}) },
        status: { readyNodes, ...(listenPort !== undefined ? { listenPort } : {}), conditions: [ready] },
      };
      try {
        await custom.patchClusterCustomObjectStatus({ ...base, name, body, fieldManager: SHARED_FIELD_MANAGER, force: true }, apply);
      } catch (e) {
        throw translate(e, `apply the Ready condition of relay ${name}`);
      }
    },
    async recordEvent(relay, e) {
      const now = new Date();
      await core.createNamespacedEvent({
        namespace: EVENT_NAMESPACE,
        fieldManager: SHARED_FIELD_MANAGER,
        body: {
          metadata: { name: `${relay.metadata.name}.${randomBytes(8).toString('hex')}`, namespace: EVENT_NAMESPACE },
          involvedObject: { apiVersion: API_VERSION, kind: KIND, name: relay.metadata.name, ...(relay.metadata.uid ? { uid: relay.metadata.uid } : {}) },
          type: e.type,
          reason: e.reason,
          message: e.message,
          source: { component: 'socat-relay', host: nodeName },
          reportingComponent: 'socat-relay',
          reportingInstance: nodeName,
          firstTimestamp: now,
          lastTimestamp: now,
          count: 1,
        },
      });
    },
  };
}

export interface KubeNodeSourceOptions {
  log: Logger;
  /** Called before each restart of a failed or silent watch. */
  onRestart?: () => void;
  /** Delay before restart n (1-based). Default: 0.5 s doubling to 30 s. */
  delayMs?: (attempt: number) => number;
  watchTimeouts?: WatchTimeouts;
}

/**
 * Watches one Node (fieldSelector metadata.name=<node>) through the same ResilientInformer as the
 * catalogs: restarted after errors with backoff, aborted and reconnected when silent.
 */
export function kubeNodeSource(kc: KubeConfig, nodeName: string, o: KubeNodeSourceOptions): NodeSource {
  const core = kc.makeApiClient(CoreV1Api);
  const fieldSelector = `metadata.name=${nodeName}`;
  let informer: ResilientInformer<V1Node> | undefined;
  return {
    async start(onLabels) {
      const push = (n: V1Node): void => onLabels({ ...(n.metadata?.labels ?? {}) });
      informer = new ResilientInformer<V1Node>({
        kc, path: '/api/v1/nodes', fieldSelector, resource: 'node',
        list: () => core.listNode({ fieldSelector }),
        log: o.log.child({ node: nodeName }),
        ...(o.onRestart ? { onRestart: o.onRestart } : {}),
        ...(o.delayMs ? { backoff: o.delayMs } : {}),
        ...(o.watchTimeouts ? { watchTimeouts: o.watchTimeouts } : {}),
      }, { add: push, update: push });
      await informer.start().catch(() => undefined); // a failing first list is retried like a failing watch
    },
    async stop() {
      await informer?.stop();
    },
  };
}
