// A client-node informer that survives watch errors. client-node restarts a watch by itself only after
// a clean close, a 410 Gone or its own timeout; on any other error (API server restart, 500, network) it
// calls the error callbacks and stops for good. This wrapper restarts it with capped exponential backoff
// and counts each restart, so the cache behind admission never silently freezes. Every watch has a
// timeout of its own (watch.ts): a watch that went silent is aborted, reconnected and counted too.
import {
  ListWatch,
  type Informer,
  type KubeConfig,
  type KubernetesListObject,
  type KubernetesObject,
  type ObjectCache,
} from '@kubernetes/client-node';
import { Backoff, type BackoffPolicy } from '../../lib/backoff.js';
import { realSchedule, type ScheduleFn } from '../../lib/clock.js';
import type { Logger } from '../../lib/log.js';
import { DEFAULT_WATCH_TIMEOUTS, TimedWatch, type WatchTimeouts } from './watch.js';

/** Watch restarts: 0.5 s doubling to 30 s, from 0.5 s again once a list or an event arrived. */
const WATCH_BACKOFF: BackoffPolicy = { initialMs: 500, maxMs: 30_000 };

interface InformerParams {
  /** e.g. metadata.name=<node>: the list and every watch ask only for these objects. */
  fieldSelector?: string;
  timeouts: WatchTimeouts;
  /** Called when a watch is aborted for receiving nothing for timeouts.idleMs. */
  onIdle: () => void;
}

export type MakeInformer<T extends KubernetesObject> = (
  kc: KubeConfig,
  path: string,
  list: () => Promise<KubernetesListObject<T>>,
  p: InformerParams,
) => Informer<T> & ObjectCache<T>;

/** client-node's ListWatch over a TimedWatch (its own makeInformer has no field selector and no timeouts). */
function makeInformer<T extends KubernetesObject>(
  kc: KubeConfig,
  path: string,
  list: () => Promise<KubernetesListObject<T>>,
  p: InformerParams,
): Informer<T> & ObjectCache<T> {
  return new ListWatch<T>(path, new TimedWatch(kc, p.timeouts, p.onIdle), list, false, undefined, p.fieldSelector);
}

export interface ResilientInformerOptions<T extends KubernetesObject> {
  kc: KubeConfig;
  /** Watch path, e.g. /apis/socat.io/v1alpha1/relays. */
  path: string;
  list: () => Promise<KubernetesListObject<T>>;
  /** For logs and the restart metric: relays, namespaces. */
  resource: string;
  log: Logger;
  onRestart?: (resource: string) => void;
  /** Restart delays: capped doubling, or a function of the failure count (1 = the first). */
  backoff?: BackoffPolicy | ((failures: number) => number);
  fieldSelector?: string;
  watchTimeouts?: WatchTimeouts;
  makeInformer?: MakeInformer<T>;
  /** The timer seam for the restart delay (lib/clock.ts). */
  schedule?: ScheduleFn;
}

export interface ObjectHandlers<T> {
  add?: (obj: T) => void;
  update?: (obj: T) => void;
  delete?: (obj: T) => void;
}

export class ResilientInformer<T extends KubernetesObject> {
  private readonly informer: Informer<T> & ObjectCache<T>;
  private listed = false;
  private stopped = false;
  private readonly backoff: Backoff;
  /** Cancels the pending restart, if one is scheduled. */
  private cancelRestart: (() => void) | undefined;
  private markSynced!: () => void;
  private readonly synced$ = new Promise<void>((resolve) => {
    this.markSynced = resolve;
  });

  constructor(
    private readonly o: ResilientInformerOptions<T>,
    handlers: ObjectHandlers<T> = {},
  ) {
    this.backoff = new Backoff(o.backoff ?? WATCH_BACKOFF);
    const list = async (): Promise<KubernetesListObject<T>> => {
      const result = await o.list();
      // The cache is filled right after this promise resolves; mark synced after that.
      setImmediate(() => {
        this.listed = true;
        this.backoff.reset();
        this.markSynced();
      });
      return result;
    };
    const timeouts = o.watchTimeouts ?? DEFAULT_WATCH_TIMEOUTS;
    const onIdle = (): void => {
      o.log.warn(
        { resource: o.resource, idleMs: timeouts.idleMs },
        'watch received nothing for too long: aborted and reconnected',
      );
      o.onRestart?.(o.resource);
    };
    this.informer = (o.makeInformer ?? makeInformer<T>)(o.kc, o.path, list, {
      timeouts,
      onIdle,
      ...(o.fieldSelector ? { fieldSelector: o.fieldSelector } : {}),
    });
    const seen = (): void => this.backoff.reset();
    this.informer.on('add', (obj) => {
      seen();
      handlers.add?.(obj);
    });
    this.informer.on('update', (obj) => {
      seen();
      handlers.update?.(obj);
    });
    this.informer.on('delete', (obj) => {
      seen();
      handlers.delete?.(obj);
    });
    this.informer.on('error', (err) => this.restartLater(err));
  }

  async start(): Promise<void> {
    this.stopped = false;
    await this.informer.start();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.cancelRestart?.();
    await this.informer.stop();
  }

  /** True once the first list has filled the cache (stays true across restarts: the cache is kept). */
  synced(): boolean {
    return this.listed;
  }

  /** Resolves once synced() is true. */
  whenSynced(): Promise<void> {
    return this.synced$;
  }

  get(name: string, namespace?: string): T | undefined {
    return this.informer.get(name, namespace);
  }

  list(): readonly T[] {
    return this.informer.list();
  }

  private restartLater(err: unknown): void {
    if (this.stopped) return;
    const delay = this.backoff.fail();
    const e = err as { statusCode?: number; code?: unknown; message?: string } | undefined;
    this.o.log.warn(
      { resource: this.o.resource, statusCode: e?.statusCode, err: e?.message ?? String(err), retryInMs: delay },
      'watch failed; restarting',
    );
    this.cancelRestart?.();
    this.cancelRestart = (this.o.schedule ?? realSchedule)(() => {
      this.cancelRestart = undefined;
      if (this.stopped) return;
      this.o.onRestart?.(this.o.resource);
      this.informer.start().catch((e2: unknown) => this.restartLater(e2));
    }, delay);
  }
}
