// The time seams every time-dependent unit takes as options (`now`, `schedule`), so a test can drive
// them, and the real ones they default to.

/** Milliseconds since the epoch. */
export type NowFn = () => number;

/** Runs `fn` after `ms`; returns a cancel function. */
export type ScheduleFn = (fn: () => void, ms: number) => () => void;

/** setTimeout that does not hold the process open (an embedding process decides how long it lives). */
export const realSchedule: ScheduleFn = (fn, ms) => {
  const t = setTimeout(fn, ms);
  t.unref();
  return () => clearTimeout(t);
};

/** setTimeout that holds the process open: a command waiting in the foreground (a CLI's retry loop). */
export const heldSchedule: ScheduleFn = (fn, ms) => {
  const t = setTimeout(fn, ms);
  return () => clearTimeout(t);
};

/** Resolves after `ms`, waited through `schedule`. */
export function sleep(ms: number, schedule: ScheduleFn = realSchedule): Promise<void> {
  return new Promise((resolve) => {
    schedule(resolve, ms);
  });
}

/** Calls `fn` every `ms` through `schedule` until the returned cancel function is called. */
export function every(fn: () => void, ms: number, schedule: ScheduleFn = realSchedule): () => void {
  let cancel = (): void => undefined;
  let cancelled = false;
  const arm = (): void => {
    cancel = schedule(() => {
      if (cancelled) return;
      arm();
      fn();
    }, ms);
  };
  arm();
  return () => {
    cancelled = true;
    cancel();
  };
}
