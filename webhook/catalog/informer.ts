// The cluster-backed catalogs: Relays (cluster-scoped CRD) as a RelayCatalog, and Namespaces' labels
// for namespaceSelector consumers. Both are ResilientInformers (restart on watch errors, counted).
import {
  CoreV1Api,
  CustomObjectsApi,
  type KubeConfig,
  type KubernetesListObject,
  type V1Namespace,
} from '@kubernetes/client-node';
import { GROUP, PLURAL, VERSION, type Relay } from '../../relay/index.js';
import type { Logger } from '../../lib/log.js';
import type { CatalogEvent, RelayCatalog } from './catalog.js';
import type { BackoffPolicy } from '../../lib/backoff.js';
import { ResilientInformer, type MakeInformer } from './resilient-informer.js';
import type { WatchTimeouts } from './watch.js';

const RELAYS_PATH = `/apis/${GROUP}/${VERSION}/${PLURAL}`;
const NAMESPACES_PATH = '/api/v1/namespaces';

export interface ClusterCatalogOptions {
  kc: KubeConfig;
  log: Logger;
  onRestart?: (resource: string) => void;
  backoff?: BackoffPolicy;
  /** The watches' own timeouts (watch.ts); defaults to DEFAULT_WATCH_TIMEOUTS. */
  watchTimeouts?: WatchTimeouts;
}

type RelayObject = Relay & { metadata: Relay['metadata'] & { name: string } };

export class InformerRelayCatalog implements RelayCatalog {
  private readonly informer: ResilientInformer<RelayObject>;
  private readonly listeners = new Set<(e: CatalogEvent) => void>();

  constructor(o: ClusterCatalogOptions & { makeInformer?: MakeInformer<RelayObject> }) {
    const api = o.kc.makeApiClient(CustomObjectsApi);
    const emit =
      (type: CatalogEvent['type']) =>
      (relay: RelayObject): void => {
        for (const l of this.listeners) {
          try {
            l({ type, relay });
          } catch (err) {
            o.log.error({ err, relay: relay.metadata.name }, 'catalog listener failed');
          }
        }
      };
    this.informer = new ResilientInformer<RelayObject>(
      {
        ...o, // kc, log, onRestart, backoff, watchTimeouts, makeInformer
        path: RELAYS_PATH,
        list: async () =>
          (await api.listClusterCustomObject({
            group: GROUP,
            version: VERSION,
            plural: PLURAL,
          })) as KubernetesListObject<RelayObject>,
        resource: 'relays',
      },
      { add: emit('add'), update: emit('update'), delete: emit('delete') },
    );
  }

  start(): Promise<void> {
    return this.informer.start();
  }
  stop(): Promise<void> {
    return this.informer.stop();
  }
  get(name: string): Relay | undefined {
    return this.informer.get(name);
  }
  list(): Relay[] {
    return [...this.informer.list()];
  }
  synced(): boolean {
    return this.informer.synced();
  }
  whenSynced(): Promise<void> {
    return this.informer.whenSynced();
  }
  subscribe(listener: (e: CatalogEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}

/** Namespace labels for namespaceSelector consumers; undefined for a namespace not (yet) seen. */
export class NamespaceLabels {
  private readonly informer: ResilientInformer<V1Namespace>;
  private readonly listeners = new Set<() => void>();

  constructor(o: ClusterCatalogOptions & { makeInformer?: MakeInformer<V1Namespace> }) {
    const api = o.kc.makeApiClient(CoreV1Api);
    const changed = (): void => {
      for (const l of this.listeners) {
        try {
          l();
        } catch (err) {
          o.log.error({ err }, 'namespace listener failed');
        }
      }
    };
    this.informer = new ResilientInformer<V1Namespace>(
      {
        ...o, // kc, log, onRestart, backoff, watchTimeouts, makeInformer
        path: NAMESPACES_PATH,
        list: () => api.listNamespace(),
        resource: 'namespaces',
      },
      { add: changed, update: changed, delete: changed },
    );
  }

  start(): Promise<void> {
    return this.informer.start();
  }
  stop(): Promise<void> {
    return this.informer.stop();
  }
  synced(): boolean {
    return this.informer.synced();
  }
  /** Every namespace with its labels (the reconcile resolves namespaceSelectors on it); undefined until synced. */
  all(): { name: string; labels: Record<string, string> }[] | undefined {
    if (!this.synced()) return undefined;
    return this.informer
      .list()
      .map((ns) => ({ name: ns.metadata?.name ?? '', labels: { ...(ns.metadata?.labels ?? {}) } }))
      .filter((ns) => ns.name !== '');
  }
  /** Calls `listener` after each namespace add, change or delete. */
  subscribe(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
  labels(namespace: string): Record<string, string> | undefined {
    const ns = this.informer.get(namespace);
    return ns ? { ...(ns.metadata?.labels ?? {}) } : undefined;
  }
}
