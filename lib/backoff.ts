// The one retry rule: capped exponential backoff, failures counted from 1 (the first failure waits
// initialMs). `retryDelay` is the rule; `Backoff` is the counter every retrying loop keeps (the
// informers' watch restarts, the reconcile queue's keys, the controller Lease's renewals, the agent's
// socat restarts), each with its own bounds.

export interface BackoffPolicy {
  /** First delay (ms). */
  initialMs: number;
  /** Upper bound (ms). */
  maxMs: number;
  /** A run that lasted at least this long (ms) was healthy: its failure starts the count over. */
  resetAfterMs?: number;
}

/** Delay after `n` consecutive failures (1 = the first): initialMs doubling, capped at maxMs. */
export function retryDelay(n: number, b: BackoffPolicy): number {
  return Math.min(b.maxMs, b.initialMs * 2 ** Math.min(Math.max(1, n) - 1, 30));
}

/** A failure count and the delay it calls for. A success (`reset`) starts the count over. */
export class Backoff {
  private count = 0;

  /** `policy`: the capped doubling, or any function of the failure count (1 = the first). */
  constructor(private readonly policy: BackoffPolicy | ((failures: number) => number)) {}

  /** Consecutive failures so far. */
  get failures(): number {
    return this.count;
  }

  /** Counts one more failure; returns the delay before the next try. */
  fail(): number {
    this.count++;
    return typeof this.policy === 'function' ? this.policy(this.count) : retryDelay(this.count, this.policy);
  }

  /**
   * A run that ended after `ranMs`: one that lasted resetAfterMs or more was healthy, so its end counts
   * as the first failure again; a shorter one as one more.
   */
  failAfterRun(ranMs: number): number {
    const reset = typeof this.policy === 'function' ? undefined : this.policy.resetAfterMs;
    if (reset !== undefined && ranMs >= reset) this.count = 0;
    return this.fail();
  }

  reset(): void {
    this.count = 0;
  }
}
