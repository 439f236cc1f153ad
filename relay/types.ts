// The Relay API (socat.io/v1alpha1, cluster-scoped). Field names are a contract with every user's
// manifests and with the CRD (manifests/crd/): extend, never rename.
import type { LabelSelector, Protocol, RelaySpec, UdpMode } from './schema.generated.js';

export const GROUP = 'socat.io';
export const VERSION = 'v1alpha1';
export const API_VERSION = `${GROUP}/${VERSION}`;
export const KIND = 'Relay';
export const PLURAL = 'relays';

// The spec's types and enum value lists are generated from the CRD (manifests/crd/) with its schema:
// relay/schema.generated.ts (`npm run gen:relay-schema`; a test fails when they differ).
export {
  PROTOCOLS,
  UDP_MODES,
  type LabelSelector,
  type LabelSelectorRequirement,
  type RelaySpec,
} from './schema.generated.js';

/** Resolved sidecar requests and limits (quantities as strings): a relay's or the controller's default. */
export interface ResourceRequirements {
  requests?: Record<string, string>;
  limits?: Record<string, string>;
}

interface ObjectMeta {
  name: string;
  uid?: string;
  resourceVersion?: string;
  generation?: number;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  [key: string]: unknown;
}

// The status is written by the controllers, never by users, so its types stay written by hand here; the
// CRD's status schema is checked against them in test/manifests/crd-schema.test.ts.
export type NodeRelayState = 'Running' | 'Starting' | 'Failing' | 'Invalid' | 'AgentMissing';

export interface RelayNodeStatus {
  /** Node name (list-map key). */
  name: string;
  ready: boolean;
  state: NodeRelayState;
  message?: string;
  restarts?: number;
  /** metadata.generation of the Relay that the node's config file was written from. */
  observedGeneration?: number;
  lastTransitionTime?: string;
}

export interface Condition {
  type: string;
  status: 'True' | 'False' | 'Unknown';
  reason: string;
  message: string;
  lastTransitionTime: string;
  observedGeneration?: number;
}

export interface RelayStatus {
  /** Deprecated: the per-node entries moved to RelayNode objects; the elected controller clears it. */
  nodes?: RelayNodeStatus[];
  readyNodes?: number;
  /** Nodes that report the relay (their RelayNode lists it): the denominator of `ready`. */
  desiredNodes?: number;
  /** `readyNodes/desiredNodes`, e.g. "3/5" (the Ready printer column). */
  ready?: string;
  /** The Relay generation the summary was computed for. */
  observedGeneration?: number;
  /** spec.listen.port, or spec.target.port when it is not set (the Listen printer column). */
  listenPort?: number;
  conditions?: Condition[];
}

export interface Relay {
  apiVersion: typeof API_VERSION;
  kind: typeof KIND;
  metadata: ObjectMeta;
  spec: RelaySpec;
  status?: RelayStatus;
}

/** A valid relay with every default applied: what the argv builders and the injector consume. */
export interface ResolvedRelay {
  name: string;
  /**
   * metadata.uid, when the document has one (every Relay from the API server; the controller's node
   * files): the relay's folder on the node is then `<socketDir>/<name>/<uid>`, so a Relay re-created
   * under the same name never serves a pod admitted or mounted for the old one.
   */
  uid?: string;
  protocol: Protocol;
  /** Normalised loopback IP literal (never a name: `localhost` becomes 127.0.0.1). */
  targetHost: string;
  targetPort: number;
  listenAddress: string;
  listenPort: number;
  udpMode: UdpMode;
  replyTimeoutSeconds: number;
  nodeSelector: Record<string, string>;
  consumers: { namespaces: string[]; namespaceSelector?: LabelSelector };
  resources?: ResourceRequirements;
}

// RelayNode (socat.io/v1alpha1, cluster-scoped, one per node, named after it): the relays of one node
// and their states, written only by that node's controller (field manager socat-relay/<node>), owned by
// its Node so the garbage collector removes it with the Node.
export const RELAYNODE_KIND = 'RelayNode';
export const RELAYNODE_PLURAL = 'relaynodes';

/** One relay on one node: a RelayNodeStatus keyed by the relay's name, plus the Relay's uid. */
export interface RelayNodeEntry {
  /** The Relay's name (list-map key). */
  name: string;
  /**
   * The Relay's metadata.uid: an entry of a deleted Relay re-created under the same name does not count for
   * the new one.
   */
  uid?: string;
  ready: boolean;
  state: NodeRelayState;
  message?: string;
  restarts?: number;
  observedGeneration?: number;
  lastTransitionTime?: string;
}

interface RelayNodeStatusBlock {
  relays?: RelayNodeEntry[];
  /** How many relays select the node, how many run, and "ready/total" for the printer column. */
  relayCount?: number;
  readyRelays?: number;
  ready?: string;
}

export interface RelayNode {
  apiVersion: typeof API_VERSION;
  kind: typeof RELAYNODE_KIND;
  metadata: ObjectMeta & { ownerReferences?: { apiVersion: string; kind: string; name: string; uid: string }[] };
  status?: RelayNodeStatusBlock;
}
