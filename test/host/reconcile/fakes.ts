// In-memory stand-ins for the reconcile's API seams: the node's RelayNode as the API server would hold
// it (each apply replaces the node's whole object: it is the only writer), Events, a node whose labels
// a test sets, and the cluster's namespaces.
import type { NamespaceInfo, NamespaceSource, NodeSource, ReconcileApi } from '../../../webhook/reconcile/index.js';
import type { Relay, RelayNode, RelayNodeEntry } from '../../../relay/index.js';
import type { EventSpec } from '../../../webhook/reconcile/node-status.js';

export class FakeApi implements ReconcileApi {
  /** Every RelayNode applied, in order. */
  readonly writes: RelayNode[] = [];
  readonly events: { relay: string; e: EventSpec }[] = [];
  /** What the API server holds (set it before start to test a restart). */
  stored: RelayNode | undefined;
  /** Number of upcoming applies that fail (the API server refused or was away). */
  failures = 0;

  async getRelayNode(): Promise<RelayNode | undefined> {
    return this.stored ? structuredClone(this.stored) : undefined;
  }

  async applyRelayNode(body: RelayNode): Promise<RelayNode> {
    if (this.failures > 0) {
      this.failures--;
      throw new Error('the API server is away');
    }
    this.writes.push(structuredClone(body));
    this.stored = structuredClone(body);
    return structuredClone(body);
  }

  /** This node's entry for a relay, as last written. */
  entry(relay: string): RelayNodeEntry | undefined {
    return this.stored?.status?.relays?.find((e) => e.name === relay);
  }

  async recordEvent(relay: Relay, e: EventSpec): Promise<void> {
    this.events.push({ relay: relay.metadata.name, e });
  }
}

export class FakeNode implements NodeSource {
  private cb?: (l: Record<string, string>, uid: string | undefined) => void;
  constructor(
    private labels: Record<string, string>,
    readonly uid: string | undefined = 'uid-node-a',
  ) {}
  async start(onLabels: (l: Record<string, string>, uid: string | undefined) => void): Promise<void> {
    this.cb = onLabels;
    onLabels({ ...this.labels }, this.uid);
  }
  async stop(): Promise<void> {
    this.cb = undefined;
  }
  set(labels: Record<string, string>): void {
    this.labels = labels;
    this.cb?.({ ...labels }, this.uid);
  }
}

/** The cluster's namespaces, changed by the test (as the namespace informer would report them). */
export class FakeNamespaces implements NamespaceSource {
  private readonly listeners = new Set<() => void>();
  constructor(private namespaces: NamespaceInfo[] | undefined) {}
  all(): NamespaceInfo[] | undefined {
    return this.namespaces?.map((n) => ({ name: n.name, labels: { ...n.labels } }));
  }
  subscribe(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
  set(namespaces: NamespaceInfo[]): void {
    this.namespaces = namespaces;
    for (const l of this.listeners) l();
  }
}
