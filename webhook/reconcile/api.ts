// The reconcile's seams to the Kubernetes API: what it needs (status applies, Events, this node's
// labels) as interfaces, and the errors it acts on. kube.ts implements them with client-node; tests
// pass in-memory implementations.
import type { Relay, RelayNode } from '../../relay/index.js';
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
  /** This node's RelayNode as stored, undefined when there is none. */
  getRelayNode(): Promise<RelayNode | undefined>;
  /** Applies this node's RelayNode (server-side apply under the node's own field manager). */
  applyRelayNode(body: RelayNode): Promise<RelayNode>;
  recordEvent(relay: Relay, e: EventSpec): Promise<void>;
}

/** This node's labels and uid (the RelayNode's owner), pushed on every change. */
export interface NodeSource {
  start(onLabels: (labels: Record<string, string>, uid: string | undefined) => void): Promise<void>;
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

/** A node's controller writes its RelayNode under `socat-relay/<node>`. */
export const STATUS_FIELD_MANAGER_PREFIX = 'socat-relay/';
/** Field manager of the Relays' summaries (the elected controller) and of Events. */
export const SHARED_FIELD_MANAGER = 'socat-relay';
/** Namespace of Events about cluster-scoped objects. */
export const EVENT_NAMESPACE = 'default';
