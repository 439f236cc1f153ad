// A Relay created a moment ago may not be in the watch-fed catalog yet when the first pod asking for it
// arrives (`kubectl apply -k` of a Relay and the DaemonSet that consumes it: the DaemonSet controller's
// first pod comes within milliseconds). Before a pod is denied for a relay "not found", the names the
// catalog lacks are looked up live, as the API server's ServiceAccount plugin looks up a ServiceAccount
// its cache lacks. Bounded: at most MAX_LOOKUPS names per request, and a name found missing is not asked
// again for NEGATIVE_TTL_MS, so pods asking for relays that do not exist cost the API server little.
import type { Relay } from '../../relay/index.js';
import { isObject } from '../../lib/object.js';
import type { CatalogEvent, RelayCatalog } from '../catalog/catalog.js';
import { wantedRelays } from '../admission/index.js';

export const MAX_LOOKUPS = 20;
export const NEGATIVE_TTL_MS = 2000;

/** GET one Relay by name; undefined when it does not exist. */
export type RelayGetter = (name: string) => Promise<Relay | undefined>;

export class RelayLookup {
  private readonly missingSince = new Map<string, number>();

  constructor(
    private readonly get: RelayGetter,
    private readonly now: () => number = Date.now,
  ) {}

  /** The relays a pod review asks for that the catalog lacks and the API server has. */
  async missing(body: Buffer | undefined, catalog: RelayCatalog): Promise<Relay[]> {
    const names = podRelayNames(body)
      .filter((n) => catalog.get(n) === undefined && !this.recentlyMissing(n))
      .slice(0, MAX_LOOKUPS);
    const found = await Promise.all(
      names.map(async (n) => {
        const r = await this.get(n);
        if (!r) this.missingSince.set(n, this.now());
        return r;
      }),
    );
    return found.filter((r): r is Relay => r !== undefined);
  }

  private recentlyMissing(name: string): boolean {
    const t = this.missingSince.get(name);
    if (t === undefined) return false;
    if (this.now() - t < NEGATIVE_TTL_MS) return true;
    this.missingSince.delete(name);
    return false;
  }
}

/** The relay names a mutate-pods review's pod asks for ([] for anything unreadable: the handler judged it). */
function podRelayNames(body: Buffer | undefined): string[] {
  try {
    const review: unknown = JSON.parse(body?.toString('utf8') ?? '');
    const pod = isObject(review) && isObject(review.request) ? review.request.object : undefined;
    return isObject(pod) ? [...new Set(wantedRelays(pod))] : [];
  } catch {
    return [];
  }
}

/** The catalog with `extra` relays added for one decision (the informer adds them itself moments later). */
export function withRelays(base: RelayCatalog, extra: readonly Relay[]): RelayCatalog {
  const byName = new Map(extra.map((r) => [r.metadata.name, r]));
  return {
    get: (name) => base.get(name) ?? byName.get(name),
    list: () => [...base.list(), ...extra.filter((r) => base.get(r.metadata.name) === undefined)],
    subscribe: (listener: (e: CatalogEvent) => void) => base.subscribe(listener),
    synced: () => base.synced(),
    whenSynced: () => base.whenSynced(),
  };
}
