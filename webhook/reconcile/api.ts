// The reconcile's seams to the Kubernetes API: what it needs (status applies, Events, this node's
// labels) as interfaces, and the errors it acts on. kube.ts implements them with client-node; tests
// pass in-memory implementations.
import type { Condition, Relay, RelayNodeStatus } from '../../relay/index.js';
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
   * Applies readyNodes, the Ready condition and the effective listen port, computed from `basedOn`
   * (its resourceVersion is a precondition: ConflictError when the Relay changed since).
   */
  applySummary(basedOn: Relay, readyNodes: number, ready: Condition, listenPort?: number): Promise<void>;
  recordEvent(relay: Relay, e: EventSpec): Promise<void>;
}

/** This node's labels, pushed on every change. */
export interface NodeSource {
  start(onLabels: (labels: Record<string, string>) => void): Promise<void>;
  stop(): Promise<void>;
}

/** A namespace's name and labels (what a namespaceSelector is evaluated on). */
export interface NamespaceInfo {
  name: string;
  labels: Record<string, string>;
}

/**
 * The cluster's namespaces, for resolving each Relay's namespaceSelector into the node file. The
 * controller passes the webhook's namespace informer (webhook/catalog/informer.ts NamespaceLabels).
 */
export interface NamespaceSource {
  /** Every namespace; undefined until the first list arrived. */
  all(): NamespaceInfo[] | undefined;
  /** Calls `listener` after every namespace add, label change or delete; returns the unsubscribe. */
  subscribe(listener: () => void): () => void;
}

export const STATUS_FIELD_MANAGER_PREFIX = 'socat-relay/';
/** Field manager of everything that is not one node's own entry (readyNodes, the Ready condition). */
export const SHARED_FIELD_MANAGER = 'socat-relay';
/** Namespace of Events about cluster-scoped objects. */
export const EVENT_NAMESPACE = 'default';

