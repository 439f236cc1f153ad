// client-node implementations of the reconcile's seams (api.ts): server-side apply of this node's
// RelayNode, core/v1 Events, and a watch of this node's labels (a ResilientInformer).
// Loaded lazily, so the agent and the unit tests never pay for client-node.
import {
  CoreV1Api,
  CustomObjectsApi,
  PatchStrategy,
  setHeaderOptions,
  type CoreV1Event,
  type KubeConfig,
  type V1Node,
} from '@kubernetes/client-node';
import { randomBytes } from 'node:crypto';
import { isConflict, isNotFound, unlessNotFound } from '../../lib/api-error.js';
import type { Logger } from '../../lib/log.js';
import { ResilientInformer } from '../catalog/resilient-informer.js';
import type { WatchTimeouts } from '../catalog/watch.js';
import { API_VERSION, GROUP, KIND, RELAYNODE_PLURAL, VERSION, type Relay, type RelayNode } from '../../relay/index.js';
import {
  ConflictError,
  EVENT_NAMESPACE,
  NotFoundError,
  SHARED_FIELD_MANAGER,
  STATUS_FIELD_MANAGER_PREFIX,
  type NodeSource,
  type ReconcileApi,
} from './api.js';
import type { EventSpec } from './node-status.js';

function translate(e: unknown, what: string): Error {
  if (isConflict(e)) return new ConflictError(`${what}: conflict (the object changed)`);
  if (isNotFound(e)) return new NotFoundError(`${what}: not found`);
  return e instanceof Error ? e : new Error(String(e));
}

export function kubeReconcileApi(kc: KubeConfig, nodeName: string): ReconcileApi {
  const custom = kc.makeApiClient(CustomObjectsApi);
  const core = kc.makeApiClient(CoreV1Api);
  const apply = setHeaderOptions('Content-Type', PatchStrategy.ServerSideApply);
  const base = { group: GROUP, version: VERSION, plural: RELAYNODE_PLURAL };
  return {
    async getRelayNode() {
      try {
        return (await unlessNotFound(custom.getClusterCustomObject({ ...base, name: nodeName }))) as
          RelayNode | undefined;
      } catch (e) {
        throw translate(e, `read RelayNode ${nodeName}`);
      }
    },
    async applyRelayNode(body) {
      try {
        return (await custom.patchClusterCustomObject(
          { ...base, name: nodeName, body, fieldManager: `${STATUS_FIELD_MANAGER_PREFIX}${nodeName}`, force: true },
          apply,
        )) as RelayNode;
      } catch (e) {
        throw translate(e, `apply RelayNode ${nodeName}`);
      }
    },
    async recordEvent(relay, e) {
      await core.createNamespacedEvent({
        namespace: EVENT_NAMESPACE,
        fieldManager: SHARED_FIELD_MANAGER,
        body: eventOf(relay, e, nodeName),
      });
    },
  };
}

/** A core/v1 Event about the relay, reported by this node's controller. */
function eventOf(relay: Relay, e: EventSpec, nodeName: string): CoreV1Event {
  const now = new Date();
  return {
    metadata: { name: `${relay.metadata.name}.${randomBytes(8).toString('hex')}`, namespace: EVENT_NAMESPACE },
    involvedObject: {
      apiVersion: API_VERSION,
      kind: KIND,
      name: relay.metadata.name,
      ...(relay.metadata.uid ? { uid: relay.metadata.uid } : {}),
    },
    type: e.type,
    reason: e.reason,
    message: e.message,
    source: { component: 'socat-relay', host: nodeName },
    reportingComponent: 'socat-relay',
    reportingInstance: nodeName,
    firstTimestamp: now,
    lastTimestamp: now,
    count: 1,
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
      const push = (n: V1Node): void => onLabels({ ...(n.metadata?.labels ?? {}) }, n.metadata?.uid);
      informer = new ResilientInformer<V1Node>(
        {
          kc,
          path: '/api/v1/nodes',
          fieldSelector,
          resource: 'node',
          list: () => core.listNode({ fieldSelector }),
          log: o.log.child({ node: nodeName }),
          ...(o.onRestart ? { onRestart: o.onRestart } : {}),
          ...(o.delayMs ? { backoff: o.delayMs } : {}),
          ...(o.watchTimeouts ? { watchTimeouts: o.watchTimeouts } : {}),
        },
        { add: push, update: push },
      );
      await informer.start().catch(() => undefined); // a failing first list is retried like a failing watch
    },
    async stop() {
      await informer?.stop();
    },
  };
}
