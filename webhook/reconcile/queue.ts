// A keyed work queue: a key queued several times runs once, one key at a time, and a failed key is
// retried with capped exponential backoff (API-server restarts, conflicts).

export type ScheduleFn = (fn: () => void, ms: number) => () => void;

export interface QueueOptions {
  handle: (key: string) => Promise<void>;
  onError?: (key: string, err: unknown, retryInMs: number) => void;
  schedule?: ScheduleFn;
  /** Retry delay after n consecutive failures of a key. Default 250 ms doubling to 30 s. */
  retryMs?: (failures: number) => number;
}

const defaultSchedule: ScheduleFn = (fn, ms) => {
  const t = setTimeout(fn, ms);
  t.unref();
  return () => clearTimeout(t);
};

export class KeyedQueue {
  private readonly pending = new Set<string>();
  private readonly failures = new Map<string, number>();
  private readonly retries = new Map<string, () => void>();
  private running?: Promise<void>;
  private closed = false;
  private readonly schedule: ScheduleFn;
  private readonly retryMs: (n: number) => number;

  constructor(private readonly opts: QueueOptions) {
    this.schedule = opts.schedule ?? defaultSchedule;
    this.retryMs = opts.retryMs ?? ((n) => Math.min(30_000, 250 * 2 ** Math.min(n - 1, 10)));
  }

  add(key: string): void {
    if (this.closed) return;
    this.pending.add(key);
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
        const key = this.pending.values().next().value as string;
        this.pending.delete(key);
        try {
          await this.opts.handle(key);
          this.failures.delete(key);
        } catch (e) {
          const n = (this.failures.get(key) ?? 0) + 1;
          this.failures.set(key, n);
          const ms = this.retryMs(n);
          this.opts.onError?.(key, e, ms);
          this.retries.get(key)?.();
          this.retries.set(key, this.schedule(() => {
            this.retries.delete(key);
            this.add(key);
          }, ms));
        }
      }
    })().finally(() => {
      this.running = undefined;
      if (this.pending.size > 0 && !this.closed) this.kick();
    });
  }
}
