// The one folder watch (relay config folder, the agent's status folder, the certificate folder):
// fs.watch on the folder, debounced, plus a periodic tick, because an event can be missed and a watch
// can break. Files in these folders are replaced by rename, so the folder is watched, not the file.
// fs.watch keeps watching a deleted folder's inode without an error on Linux, so every event and every
// tick checks that the watched folder is still the one on disk, and re-arms on a new inode; a folder
// that is missing (or cannot be watched) is looked for at every tick and watched once it appears.
// While the watch is armed the tick is only a backstop, so it may run less often than while it is not
// (`unwatchedTickMs`): an idle process then wakes rarely, and a missing folder is still found quickly.
import { statSync, watch, type FSWatcher } from 'node:fs';
import { realSchedule, type ScheduleFn } from './clock.js';
import type { Logger } from './log.js';

export interface FolderWatchOptions {
  dir: string;
  /** Called after a change (debounced), when the folder (re)appears, and at every tick with `poll`. */
  onChange: () => void;
  /** Quiet time after an event before onChange (ms). Default 100. */
  debounceMs?: number;
  /** How often the armed watch is checked (the folder's inode; onChange with `poll`) (ms). */
  tickMs: number;
  /** How often a folder that is not watched (missing, or its watch broke) is looked for (ms). Default tickMs. */
  unwatchedTickMs?: number;
  /** Call onChange at every tick too (compare-by-bytes readers). Default false. */
  poll?: boolean;
  log?: Logger;
  /** The timer seam for the tick and the debounce (lib/clock.ts). */
  schedule?: ScheduleFn;
}

export class FolderWatch {
  private watcher: FSWatcher | undefined;
  private ino: number | undefined;
  private cancelDebounce: (() => void) | undefined;
  private cancelTick: (() => void) | undefined;
  private missingLogged = false;
  private closed = false;

  constructor(private readonly o: FolderWatchOptions) {}

  /** True while fs.watch is armed on the folder. */
  watching(): boolean {
    return this.watcher !== undefined;
  }

  start(): this {
    this.arm();
    this.scheduleTick();
    return this;
  }

  close(): void {
    this.closed = true;
    this.cancelTick?.();
    this.cancelDebounce?.();
    this.watcher?.close();
    this.watcher = undefined;
  }

  /** Re-arms the watch when the folder was deleted or replaced (another inode), or arms it when it appeared. */
  check(): void {
    if (this.closed) return;
    if (!this.watcher) {
      this.arm();
      return;
    }
    let ino: number | undefined;
    try {
      ino = statSync(this.o.dir).ino;
    } catch {
      ino = undefined;
    }
    if (ino === this.ino) return;
    this.o.log?.info(
      { dir: this.o.dir, present: ino !== undefined },
      'the watched folder was deleted or replaced: watching it anew',
    );
    this.unwatch(this.watcher);
    this.arm();
  }

  /** Arms the next tick at the period of the current state (watched or not). */
  private scheduleTick(): void {
    this.cancelTick?.();
    if (this.closed) return;
    const ms = this.watching() ? this.o.tickMs : (this.o.unwatchedTickMs ?? this.o.tickMs);
    this.cancelTick = (this.o.schedule ?? realSchedule)(() => {
      const was = this.watching();
      this.check();
      if ((!was && this.watching()) || this.o.poll) this.o.onChange();
      this.scheduleTick();
    }, ms);
  }

  private arm(): void {
    try {
      const ino = statSync(this.o.dir).ino;
      const w = watch(this.o.dir, { persistent: false }, () => {
        this.check();
        this.changed();
      });
      w.on('error', (e) => {
        this.o.log?.warn(
          { dir: this.o.dir, err: e.message },
          'watching the folder failed: relying on the periodic check until it can be watched again',
        );
        this.unwatch(w);
      });
      this.watcher = w;
      this.ino = ino;
      this.missingLogged = false;
    } catch (e) {
      if (!this.missingLogged)
        this.o.log?.warn(
          { dir: this.o.dir, err: (e as Error).message },
          'cannot watch the folder yet: looking for it periodically',
        );
      this.missingLogged = true;
    }
  }

  private unwatch(w: FSWatcher): void {
    w.close();
    if (this.watcher !== w) return;
    this.watcher = undefined;
    // The folder went away or its watch broke: look for it at the unwatched period from now on (check()
    // may re-arm at once, and its caller's tick reschedules anyway).
    if (this.o.unwatchedTickMs !== undefined && this.o.unwatchedTickMs < this.o.tickMs) this.scheduleTick();
  }

  private changed(): void {
    if (this.closed) return;
    this.cancelDebounce?.();
    this.cancelDebounce = (this.o.schedule ?? realSchedule)(() => this.o.onChange(), this.o.debounceMs ?? 100);
  }
}
