// A keyed work queue: a key queued several times runs once, one key at a time, and a failed key is
// retried with capped exponential backoff (API-server restarts, conflicts).
import { retryDelay } from '../../lib/backoff.js';

export type ScheduleFn = (fn: () => void, ms: number) => () => void;

export interface QueueOptions<K> {
  /** The key's identity: keys with the same id are one entry. */
  id: (key: K) => string;
  handle: (key: K) => Promise<void>;
  onError?: (key: K, err: unknown, retryInMs: number) => void;
  schedule?: ScheduleFn;
  /** Retry delay after n consecutive failures of a key. Default 250 ms doubling to 30 s. */
  retryMs?: (failures: number) => number;
}

const defaultSchedule: ScheduleFn = (fn, ms) => {
  const t = setTimeout(fn, ms);
  t.unref();
  return () => clearTimeout(t);
};

const QUEUE_BACKOFF = { initialMs: 250, maxMs: 30_000 };

export class KeyedQueue<K> {
  private readonly pending = new Map<string, K>();
  private readonly failures = new Map<string, number>();
  private readonly retries = new Map<string, () => void>();
  private running?: Promise<void>;
  private closed = false;
  private readonly schedule: ScheduleFn;
  private readonly retryMs: (n: number) => number;

  constructor(private readonly opts: QueueOptions<K>) {
    this.schedule = opts.schedule ?? defaultSchedule;
    this.retryMs = opts.retryMs ?? ((n) => retryDelay(n, QUEUE_BACKOFF));
  }

  add(key: K): void {
    if (this.closed) return;
    this.pending.set(this.opts.id(key), key);
    this.kick();
  }

  /** Resolves when nothing is queued or running (tests). */
  async idle(): Promise<void> {
    while (this.running) await this.running;
  }

  async close(): Promise<void> {
    this.closed = true;
    this.pending.clear();
    for (const cancel of this.retries.values()) cancel();
    this.retries.clear();
    await this.idle();
  }

  private kick(): void {
    if (this.running || this.closed) return;
    this.running = (async () => {
      while (this.pending.size > 0 && !this.closed) {
        const [id, key] = this.pending.entries().next().value as [string, K];
        this.pending.delete(id);
        try {
          await this.opts.handle(key);
          this.failures.delete(id);
        } catch (e) {
          const n = (this.failures.get(id) ?? 0) + 1;
          this.failures.set(id, n);
          const ms = this.retryMs(n);
          this.opts.onError?.(key, e, ms);
          this.retries.get(id)?.();
          this.retries.set(
            id,
            this.schedule(() => {
              this.retries.delete(id);
              this.add(key);
            }, ms),
          );
        }
      }
    })().finally(() => {
      this.running = undefined;
      if (this.pending.size > 0 && !this.closed) this.kick();
    });
  }
}
