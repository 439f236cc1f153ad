// Restart delays for a socat that exits: capped exponential, reset once a process has run a while.

export interface BackoffPolicy {
  /** First delay (ms). */
  initialMs: number;
  /** Upper bound (ms). */
  maxMs: number;
  /** A process that ran at least this long (ms) counts as healthy: the failure count starts over. */
  resetAfterMs: number;
}

export const DEFAULT_BACKOFF: BackoffPolicy = { initialMs: 200, maxMs: 30_000, resetAfterMs: 10_000 };

/** Delay before the next start after `failures` consecutive quick exits (1 = the first). */
export function restartDelay(failures: number, p: BackoffPolicy = DEFAULT_BACKOFF): number {
  const n = Math.max(1, failures);
  return Math.min(p.maxMs, p.initialMs * 2 ** Math.min(n - 1, 30));
}

/** The failure count after an exit: reset to 1 when the process had run long enough, else one more. */
export function failuresAfterExit(previous: number, ranMs: number, p: BackoffPolicy = DEFAULT_BACKOFF): number {
  return ranMs >= p.resetAfterMs ? 1 : previous + 1;
}
