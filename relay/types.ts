// The Relay API (socat.io/v1alpha1, cluster-scoped). Field names are a contract with every user's
// manifests and with the CRD (manifests/crd/): extend, never rename.

export const GROUP = 'socat.io';
export const VERSION = 'v1alpha1';
export const API_VERSION = `${GROUP}/${VERSION}`;
export const KIND = 'Relay';
export const PLURAL = 'relays';

export type Protocol = 'TCP' | 'UDP';
export const PROTOCOLS: readonly Protocol[] = ['TCP', 'UDP'];
export type UdpMode = 'OneWay' | 'RequestReply';
export const UDP_MODES: readonly UdpMode[] = ['OneWay', 'RequestReply'];

export interface LabelSelectorRequirement {
  key: string;
  operator: 'In' | 'NotIn' | 'Exists' | 'DoesNotExist';
  values?: string[];
}

export interface LabelSelector {
  matchLabels?: Record<string, string>;
  matchExpressions?: LabelSelectorRequirement[];
}

export interface ResourceRequirements {
  requests?: Record<string, string>;
  limits?: Record<string, string>;
}

export interface RelaySpec {
  /** TCP (default) or UDP. */
  protocol?: Protocol;
  /** The service on the node's loopback. */
  target: { host: string; port: number };
  /** Where the sidecar listens inside the consumer pod. Defaults: address 127.0.0.1, port = target.port. */
  listen?: { port?: number; address?: string };
  /** UDP only. OneWay (default): datagrams to the target, no replies. RequestReply: DNS-like. */
  udp?: { mode?: UdpMode; replyTimeoutSeconds?: number };
  /** Node labels (all must match) that select the nodes running this relay; empty = every node. */
  nodeSelector?: Record<string, string>;
  /** Required: who may consume it. `namespaceSelector: {}` means every namespace. */
  consumers: { namespaces?: string[]; namespaceSelector?: LabelSelector };
  sidecar?: { resources?: ResourceRequirements };
}

export interface ObjectMeta {
  name: string;
  uid?: string;
  resourceVersion?: string;
  generation?: number;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  [key: string]: unknown;
}

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
  nodes?: RelayNodeStatus[];
  readyNodes?: number;
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
