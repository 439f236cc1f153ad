// The one retry-delay rule: capped exponential backoff. Used by the informers' watch restarts, the
// reconcile queue's retries and the agent's socat restarts (each with its own bounds).

export interface Backoff {
  /** First delay (ms). */
  initialMs: number;
  /** Upper bound (ms). */
  maxMs: number;
}

/** Delay before retry `n` (1 = the first): initialMs doubling, capped at maxMs. */
export function retryDelay(n: number, b: Backoff): number {
  return Math.min(b.maxMs, b.initialMs * 2 ** Math.min(Math.max(1, n) - 1, 30));
}
