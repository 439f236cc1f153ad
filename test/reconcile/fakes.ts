// In-memory stand-ins for the reconcile's API seams: a status store that behaves like server-side
// apply on a list-map keyed by node name (one entry per field manager) with resourceVersion
// preconditions, feeding a StaticCatalog as an informer would; and a node whose labels a test sets.
import { StaticCatalog } from '../../webhook/catalog/catalog.js';
import { ConflictError, NotFoundError, type NamespaceInfo, type NamespaceSource, type NodeSource, type ReconcileApi } from '../../webhook/reconcile/index.js';
import type { Condition, Relay, RelayNodeStatus } from '../../relay/index.js';
import type { EventSpec } from '../../webhook/reconcile/node-status.js';

export class FakeApi implements ReconcileApi {
  readonly entryWrites: { relay: string; entry: RelayNodeStatus | null }[] = [];
  readonly summaryWrites: { relay: string; readyNodes: number; ready: Condition }[] = [];
  readonly events: { relay: string; e: EventSpec }[] = [];
  /** Number of upcoming applySummary calls that fail with a conflict. */
  conflicts = 0;
  private rv = 100;

  constructor(private readonly catalog: StaticCatalog, private readonly nodeName = 'node-a') {}

  private store(r: Relay): Relay {
    const next = structuredClone(r);
    next.metadata.resourceVersion = String(++this.rv);
    this.catalog.put(next);
    return structuredClone(next);
  }

  async applyNodeEntry(name: string, entry: RelayNodeStatus | null): Promise<Relay> {
    const cur = this.catalog.get(name);
    if (!cur) throw new NotFoundError(name);
    this.entryWrites.push({ relay: name, entry: entry ? structuredClone(entry) : null });
    const r = structuredClone(cur);
    // Like SSA on a list-map keyed by name: this manager's entry is replaced, or removed with null.
    const others = (r.status?.nodes ?? []).filter((n) => n.name !== this.nodeName);
    const kept = entry ? [...others, entry] : others;
    r.status = { ...(r.status ?? {}), nodes: kept.sort((a, b) => (a.name < b.name ? -1 : 1)) };
    return this.store(r);
  }

  async applySummary(basedOn: Relay, readyNodes: number, ready: Condition, listenPort?: number): Promise<void> {
    const cur = this.catalog.get(basedOn.metadata.name);
    if (!cur) throw new NotFoundError(basedOn.metadata.name);
    if (this.conflicts > 0) {
      this.conflicts--;
      // Another node changed the relay meanwhile.
      this.store(cur);
      throw new ConflictError('changed');
    }
    if (cur.metadata.resourceVersion !== basedOn.metadata.resourceVersion) throw new ConflictError('stale resourceVersion');
    this.summaryWrites.push({ relay: basedOn.metadata.name, readyNodes, ready });
    const r = structuredClone(cur);
    r.status = { ...(r.status ?? {}), readyNodes, ...(listenPort !== undefined ? { listenPort } : {}), conditions: [ready] };
    this.store(r);
  }

  async recordEvent(relay: Relay, e: EventSpec): Promise<void> {
    this.events.push({ relay: relay.metadata.name, e });
  }
}

export class FakeNode implements NodeSource {
  private cb?: (l: Record<string, string>) => void;
  constructor(private labels: Record<string, string>) {}
  async start(onLabels: (l: Record<string, string>) => void): Promise<void> {
    this.cb = onLabels;
    onLabels({ ...this.labels });
  }
  async stop(): Promise<void> {
    this.cb = undefined;
  }
  set(labels: Record<string, string>): void {
    this.labels = labels;
    this.cb?.({ ...labels });
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
