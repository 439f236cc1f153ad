// Last-resort cleanup: whatever a test started (processes, temp dirs) is registered here as a
// synchronous function, run on normal exit and on SIGINT/SIGTERM/SIGHUP (then the signal is re-raised
// so the exit code stays honest). The orderly path (stop() in `after`) unregisters first; this only
// matters when a test crashes or the run is interrupted.
const pending = new Set<() => void>();
const SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
let installed = false;

function runAll(): void {
  for (const fn of [...pending]) {
    pending.delete(fn);
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
export function registerCleanup(fn: () => void): () => void {
  pending.add(fn);
  install();
  return () => {
    pending.delete(fn);
    if (pending.size === 0) uninstall();
  };
}
