// A client-node Watch with a timeout of its own, for every watch the controller runs (Relays,
// Namespaces, this Node). Two bounds, so a watch can never hang silently:
// - server side: `timeoutSeconds` asks the API server to end the watch cleanly after that long (with
//   `allowWatchBookmarks`, it sends a bookmark just before), and the ListWatch reconnects from the last
//   resourceVersion;
// - client side: an inactivity timeout. A watch that received nothing for `idleMs` (longer than the
//   server's bound, so a healthy watch never reaches it) is aborted — a dead connection, a half-open
//   TCP stream, a stuck proxy — and the ListWatch reconnects at once. `onIdle` reports each such abort.
import { Watch, type KubeConfig } from '@kubernetes/client-node';

export interface WatchTimeouts {
  /** The API server ends each watch after this many seconds. */
  serverSeconds: number;
  /** Abort a watch that received no byte for this long (ms); more than serverSeconds. */
  idleMs: number;
}

export const DEFAULT_WATCH_TIMEOUTS: WatchTimeouts = { serverSeconds: 60, idleMs: 90_000 };

type WatchParams = Parameters<Watch['watch']>[1];
type Done = Parameters<Watch['watch']>[3];

export class TimedWatch extends Watch {
  constructor(
    kc: KubeConfig,
    private readonly timeouts: WatchTimeouts,
    private readonly onIdle?: () => void,
  ) {
    super(kc);
    // client-node 2.x resets this timer on every chunk of the response body and aborts the request with a
    // TimeoutError when it fires (its default is 30 s). It is private in the typings, hence the cast;
    // test/unit/webhook/catalog/informer.test.ts fails if a client-node upgrade renames it (a dead watch
    // would then hang).
    (this as unknown as { requestTimeoutMs: number }).requestTimeoutMs = timeouts.idleMs;
  }

  override watch(
    path: string,
    params: WatchParams,
    callback: Parameters<Watch['watch']>[2],
    done: Done,
  ): Promise<AbortController> {
    const timed: WatchParams = { ...params, timeoutSeconds: this.timeouts.serverSeconds, allowWatchBookmarks: true };
    return super.watch(path, timed, callback, (err: unknown) => {
      if ((err as { name?: unknown } | null)?.name === 'TimeoutError') this.onIdle?.();
      done(err);
    });
  }
}
