// Paces each Relay's summary writes (the decision is summaryWait, summary.ts): remembers when each
// summary was written and holds at most one timer per Relay whose write must wait; the timer queues
// the Relay again, so the write then carries the summary of that moment.
import type { NowFn, ScheduleFn } from '../../lib/clock.js';
import type { Relay } from '../../relay/index.js';
import { summaryWait, type SummaryStatus } from './summary.js';

export class SummaryPacer {
  private readonly lastWrite = new Map<string, number>();
  private readonly timers = new Map<string, () => void>();

  constructor(private readonly o: { now: NowFn; schedule: ScheduleFn; requeue: (name: string) => void }) {}

  /** True when the Relay's summary may be written now (and counts it as written); else its timer is armed. */
  admit(name: string, stored: Relay['status'], wanted: SummaryStatus): boolean {
    const nowMs = this.o.now();
    const wait = summaryWait({ lastWriteMs: this.lastWrite.get(name), nowMs, stored, wanted });
    if (wait <= 0) {
      this.lastWrite.set(name, nowMs);
      return true;
    }
    if (!this.timers.has(name))
      this.timers.set(
        name,
        this.o.schedule(() => {
          this.timers.delete(name);
          this.o.requeue(name);
        }, wait),
      );
    return false;
  }

  /** A deleted Relay: its record and timer go. */
  forget(name: string): void {
    this.lastWrite.delete(name);
    this.timers.get(name)?.();
    this.timers.delete(name);
  }

  stop(): void {
    for (const cancel of this.timers.values()) cancel();
    this.timers.clear();
  }
}
