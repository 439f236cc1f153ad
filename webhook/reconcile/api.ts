// The reconcile's seams to the Kubernetes API, and their client-node implementations: server-side
// apply on the Relay's status subresource, Events, and a watch of this node's labels. Tests pass
// in-memory implementations; the API-server suite uses these with a real kube-apiserver.
import {
  CoreV1Api, CustomObjectsApi, ListWatch, PatchStrategy, Watch, setHeaderOptions,
  type KubeConfig, type V1Node,
} from '@kubernetes/client-node';
import { randomBytes } from 'node:crypto';
import type { Logger } from '../../lib/log.js';
import { API_VERSION, GROUP, KIND, PLURAL, VERSION, type Condition, type Relay, type RelayNodeStatus } from '../../relay/index.js';
import type { EventSpec } from './node-status.js';

/** The apply was refused because the Relay changed since it was read (HTTP 409). */
export class ConflictError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConflictError';
  }
}

/** The Relay no longer exists (HTTP 404): nothing to report. */
export class NotFoundError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'NotFoundError';
  }
}

export interface ReconcileApi {
  /**
   * Applies this node's entry (or, with null, removes it) under the node's own field manager and
   * returns the Relay as stored afterwards (with every node's entry).
   */
  applyNodeEntry(relayName: string, entry: RelayNodeStatus | null): Promise<Relay>;
  /**
   * Applies readyNodes and the Ready condition, computed from `basedOn` (its resourceVersion is a
   * precondition: ConflictError when the Relay changed since).
   */
  applySummary(basedOn: Relay, readyNodes: number, ready: Condition): Promise<void>;
  recordEvent(relay: Relay, e: EventSpec): Promise<void>;
}

/** This node's labels, pushed on every change. */
export interface NodeSource {
  start(onLabels: (labels: Record<string, string>) => void): Promise<void>;
  stop(): Promise<void>;
}

export const STATUS_FIELD_MANAGER_PREFIX = 'socat-relay/';
/** Field manager of everything that is not one node's own entry (readyNodes, the Ready condition). */
export const SHARED_FIELD_MANAGER = 'socat-relay';
/** Namespace of Events about cluster-scoped objects. */
export const EVENT_NAMESPACE = 'default';

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
    async applySummary(basedOn, readyNodes, ready) {
      const name = basedOn.metadata.name;
      const body = {
        apiVersion: API_VERSION, kind: KIND,
        metadata: { name, ...(basedOn.metadata.resourceVersion ? { resourceVersion: basedOn.metadata.resourceVersion } : {}) },
        status: { readyNodes, conditions: [ready] },
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
  /** Called before each restart of a failed watch. */
  onRestart?: () => void;
  /** Delay before restart n (1-based). Default: 0.5 s doubling to 30 s. */
  delayMs?: (attempt: number) => number;
}

/** Watches one Node (fieldSelector metadata.name=<node>) and restarts the watch after errors, with backoff. */
export function kubeNodeSource(kc: KubeConfig, nodeName: string, o: KubeNodeSourceOptions): NodeSource {
  const core = kc.makeApiClient(CoreV1Api);
  const fieldSelector = `metadata.name=${nodeName}`;
  const delayMs = o.delayMs ?? ((n: number) => Math.min(30_000, 500 * 2 ** Math.min(n - 1, 10)));
  let informer: ListWatch<V1Node> | undefined;
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  let attempt = 0;
  return {
    async start(onLabels) {
      const lw = new ListWatch<V1Node>('/api/v1/nodes', new Watch(kc), () => core.listNode({ fieldSelector }), false, undefined, fieldSelector);
      informer = lw;
      const push = (n: V1Node): void => {
        attempt = 0;
        onLabels({ ...(n.metadata?.labels ?? {}) });
      };
      lw.on('add', push);
      lw.on('update', push);
      lw.on('error', (err: unknown) => {
        if (stopped) return;
        attempt++;
        const ms = delayMs(attempt);
        o.log.warn({ node: nodeName, err: (err as Error)?.message ?? String(err), retryInMs: ms }, 'node watch failed: restarting');
        o.onRestart?.();
        clearTimeout(timer);
        timer = setTimeout(() => {
          if (!stopped) lw.start().catch(() => undefined); // a failing start emits 'error' again
        }, ms);
      });
      await lw.start().catch(() => undefined);
    },
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await informer?.stop();
    },
  };
}
