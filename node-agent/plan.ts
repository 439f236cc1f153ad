// The pure core of the supervisor: what to start, stop and restart so that exactly one socat runs per
// wanted relay. A relay is restarted only when its command line (its resolved config) changed.

export interface Command {
  argv: readonly string[];
}

export type Action =
  | { type: 'start'; name: string; argv: readonly string[] }
  | { type: 'restart'; name: string; argv: readonly string[] }
  | { type: 'stop'; name: string };

function sameArgv(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/** Actions turning `running` into `wanted`, sorted by relay name (stops first, so sockets are freed early). */
export function plan(wanted: ReadonlyMap<string, Command>, running: ReadonlyMap<string, Command>): Action[] {
  const stops: Action[] = [];
  const others: Action[] = [];
  for (const name of [...running.keys()].sort()) {
    if (!wanted.has(name)) stops.push({ type: 'stop', name });
  }
  for (const name of [...wanted.keys()].sort()) {
    const w = wanted.get(name)!;
    const r = running.get(name);
    if (!r) others.push({ type: 'start', name, argv: w.argv });
    else if (!sameArgv(r.argv, w.argv)) others.push({ type: 'restart', name, argv: w.argv });
  }
  return [...stops, ...others];
}
