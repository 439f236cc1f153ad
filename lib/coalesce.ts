// "Run once, then once more if asked meanwhile": one run of a task at a time, and any number of
// requests made while it runs become a single run after it. The agent's reload and status writes and
// the reconcile's work queue run this way.
import { sleep, type ScheduleFn } from './clock.js';

export interface CoalescerOptions {
  /** Wait this long (ms) before a follow-up run, so a burst of requests becomes one run a period. Default 0. */
  pauseMs?: number;
  /** The timer seam for the pause (lib/clock.ts). */
  schedule?: ScheduleFn;
  /** Once true, no follow-up run starts and no pause is waited (the owner stopped). */
  stopped?: () => boolean;
}

export class Coalescer {
  private running?: Promise<void>;
  private again = false;

  /** `task` should handle its own errors: a throw ends the run, and every request it covered rejects. */
  constructor(
    private readonly task: () => Promise<void>,
    private readonly o: CoalescerOptions = {},
  ) {}

  /**
   * Starts a run, or asks the current one for one more. Resolves when the runs that cover this request
   * are over (the current one and the one asked for).
   */
  run(): Promise<void> {
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = this.loop().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  /** True while a run is under way. */
  busy(): boolean {
    return this.running !== undefined;
  }

  /** Resolves once no run is under way (whether the last one succeeded or not). */
  async idle(): Promise<void> {
    while (this.running) await this.running.catch(() => undefined);
  }

  private async loop(): Promise<void> {
    const stopped = this.o.stopped ?? (() => false);
    do {
      this.again = false;
      await this.task();
      if (this.again && this.o.pauseMs && !stopped()) await sleep(this.o.pauseMs, this.o.schedule);
    } while (this.again && !stopped());
  }
}
