// Await a condition instead of sleeping: poll `check` until it returns a value other than undefined /
// false, or fail after `timeoutMs` with the message and the last error or value seen.
import { setTimeout as delay } from 'node:timers/promises';

class WaitTimeoutError extends Error {
  constructor(
    what: string,
    timeoutMs: number,
    readonly last: unknown,
  ) {
    super(
      `timed out after ${timeoutMs} ms waiting for ${what}; last: ${last instanceof Error ? last.message : JSON.stringify(last)}`,
    );
    this.name = 'WaitTimeoutError';
  }
}

export interface WaitOptions {
  timeoutMs?: number;
  intervalMs?: number;
  /** Aborts the wait early (e.g. a process that exited). */
  signal?: AbortSignal;
}

/** `opts` as a number: the timeout (ms). The one polling wait of every suite. */
export async function waitFor<T>(
  what: string,
  check: () => Promise<T | undefined | false> | T | undefined | false,
  options: WaitOptions | number = {},
): Promise<T> {
  const opts = typeof options === 'number' ? { timeoutMs: options } : options;
  const timeoutMs = opts.timeoutMs ?? 20_000;
  const interval = opts.intervalMs ?? 100;
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    opts.signal?.throwIfAborted();
    try {
      const v = await check();
      if (v !== undefined && v !== false) return v;
      last = v;
    } catch (err) {
      last = err;
    }
    if (Date.now() >= deadline) throw new WaitTimeoutError(what, timeoutMs, last);
    await delay(interval, undefined, { signal: opts.signal });
  }
}
