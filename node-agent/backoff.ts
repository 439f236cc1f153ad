// Restart delays for a socat that exits: capped exponential (lib/backoff.ts), reset once a process has
// run a while.
import { retryDelay, type Backoff } from '../lib/backoff.js';

export interface BackoffPolicy extends Backoff {
  /** A process that ran at least this long (ms) counts as healthy: the failure count starts over. */
  resetAfterMs: number;
}

export const DEFAULT_BACKOFF: BackoffPolicy = { initialMs: 200, maxMs: 30_000, resetAfterMs: 10_000 };

/** Delay before the next start after `failures` consecutive quick exits (1 = the first). */
export function restartDelay(failures: number, p: BackoffPolicy = DEFAULT_BACKOFF): number {
  return retryDelay(failures, p);
}

/** The failure count after an exit: reset to 1 when the process had run long enough, else one more. */
export function failuresAfterExit(previous: number, ranMs: number, p: BackoffPolicy = DEFAULT_BACKOFF): number {
  return ranMs >= p.resetAfterMs ? 1 : previous + 1;
}
