// Last-resort cleanup: whatever a test started (processes, temp dirs) is registered here as a
// synchronous function, run on normal exit and on SIGINT/SIGTERM/SIGHUP (then the signal is re-raised
// so the exit code stays honest). The orderly path (stop() in `after`) unregisters first; this only
// matters when a test crashes or the run is interrupted.
// Two phases: processes are stopped before the folders they write to are removed.
const first = new Set<() => void>();
const pending = new Set<() => void>();
const SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
let installed = false;

function runAll(): void {
  const fns = [...first, ...pending];
  first.clear();
  pending.clear();
  for (const fn of fns) {
    try {
      fn();
    } catch {
      // best effort: keep cleaning the rest
    }
  }
}

function onSignal(sig: NodeJS.Signals): void {
  runAll();
  uninstall();
  process.kill(process.pid, sig);
}

function install(): void {
  if (installed) return;
  installed = true;
  process.on('exit', runAll);
  for (const s of SIGNALS) process.on(s, onSignal);
}

function uninstall(): void {
  if (!installed) return;
  installed = false;
  process.off('exit', runAll);
  for (const s of SIGNALS) process.off(s, onSignal);
}

/** Registers a synchronous cleanup; returns the function that unregisters it (call it once cleaned). */
export function registerCleanup(fn: () => void, opts: { phase?: 'processes' | 'files' } = {}): () => void {
  const set = opts.phase === 'processes' ? first : pending;
  set.add(fn);
  install();
  return () => {
    set.delete(fn);
    if (first.size === 0 && pending.size === 0) uninstall();
  };
}
