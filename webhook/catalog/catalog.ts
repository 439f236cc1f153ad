// The in-memory catalog of Relays that admission and the reconcile decide from. The informer-backed
// implementation fills it from the API server; StaticCatalog serves `inject`, tests and benchmarks.
import type { Relay } from '../../relay/index.js';

export type CatalogEvent = { type: 'add' | 'update' | 'delete'; relay: Relay };

export interface RelayCatalog {
  get(name: string): Relay | undefined;
  list(): Relay[];
  /** Calls the listener for every change after subscription; returns the unsubscribe function. */
  subscribe(listener: (e: CatalogEvent) => void): () => void;
  /** True once the initial list has been loaded (readiness). */
  synced(): boolean;
  /** Resolves once synced() is true (the reconcile waits for it instead of polling). */
  whenSynced(): Promise<void>;
}

export class StaticCatalog implements RelayCatalog {
  private readonly relays = new Map<string, Relay>();
  private readonly listeners = new Set<(e: CatalogEvent) => void>();

  constructor(relays: Relay[] = []) {
    for (const r of relays) this.relays.set(r.metadata.name, r);
  }
  get(name: string): Relay | undefined {
    return this.relays.get(name);
  }
  list(): Relay[] {
    return [...this.relays.values()];
  }
  synced(): boolean {
    return true;
  }
  whenSynced(): Promise<void> {
    return Promise.resolve();
  }
  subscribe(listener: (e: CatalogEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
  /** Adds or replaces a relay and notifies subscribers. */
  put(relay: Relay): void {
    const type = this.relays.has(relay.metadata.name) ? 'update' : 'add';
    this.relays.set(relay.metadata.name, relay);
    for (const l of this.listeners) l({ type, relay });
  }
  delete(name: string): void {
    const relay = this.relays.get(name);
    if (!relay) return;
    this.relays.delete(name);
    for (const l of this.listeners) l({ type: 'delete', relay });
  }
}
