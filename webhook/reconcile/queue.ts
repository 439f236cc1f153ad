// A keyed work queue: a key queued several times runs once, one key at a time, and a failed key is
// retried with capped exponential backoff (API-server restarts, conflicts).
import { Backoff, type BackoffPolicy } from '../../lib/backoff.js';
import { realSchedule, type ScheduleFn } from '../../lib/clock.js';
import { Coalescer } from '../../lib/coalesce.js';

export interface QueueOptions<K> {
  /** The key's identity: keys with the same id are one entry. */
  id: (key: K) => string;
  handle: (key: K) => Promise<void>;
  onError?: (key: K, err: unknown, retryInMs: number) => void;
  schedule?: ScheduleFn;
  /** Retry delay after n consecutive failures of a key (1 = the first). Default 250 ms doubling to 30 s. */
  retryMs?: (failures: number) => number;
}

const QUEUE_BACKOFF: BackoffPolicy = { initialMs: 250, maxMs: 30_000 };

export class KeyedQueue<K> {
  private readonly pending = new Map<string, K>();
  /** The keys failing now, each with its count of failures in a row. */
  private readonly failing = new Map<string, Backoff>();
  private readonly retries = new Map<string, () => void>();
  /** Works through `pending`; a key added meanwhile is taken by the same run or by one more. */
  private readonly worker = new Coalescer(() => this.drain(), { stopped: () => this.closed });
  private closed = false;
  private readonly schedule: ScheduleFn;

  constructor(private readonly opts: QueueOptions<K>) {
    this.schedule = opts.schedule ?? realSchedule;
  }

  add(key: K): void {
    if (this.closed) return;
    this.pending.set(this.opts.id(key), key);
    void this.worker.run(); // drain() reports its failures through onError
  }

  /** Resolves when nothing is queued or running (tests). */
  idle(): Promise<void> {
    return this.worker.idle();
  }

  async close(): Promise<void> {
    this.closed = true;
    this.pending.clear();
    for (const cancel of this.retries.values()) cancel();
    this.retries.clear();
    await this.idle();
  }

  private async drain(): Promise<void> {
    while (this.pending.size > 0 && !this.closed) {
      const [id, key] = this.pending.entries().next().value as [string, K];
      this.pending.delete(id);
      try {
        await this.opts.handle(key);
        this.failing.delete(id);
      } catch (e) {
        let backoff = this.failing.get(id);
        if (!backoff) {
          backoff = new Backoff(this.opts.retryMs ?? QUEUE_BACKOFF);
          this.failing.set(id, backoff);
        }
        const ms = backoff.fail();
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
  }
}
