// The three daemons' common shell (controller, agent, csi): the logger at the level the settings give,
// the start (a failure is reported and exits 1), then the wait for SIGTERM or SIGINT (or for the daemon
// to end by itself) and the stop (a failing stop exits 1). Each daemon's own file parses its settings
// and says what starting and stopping it means.
import type { AddressInfo } from 'node:net';
import { createLogger, type Logger, type LogLevel } from '../lib/log.js';
import { SettingError } from '../lib/settings.js';
import { parseListen, WAITING_FOR_ADDRESS } from '../node-agent/http.js';
import type { CommandIO } from './io.js';

export interface RunningDaemon {
  /** What a signal does: stop everything (the controller drains first). */
  stop(): Promise<void>;
  /** Resolves with an exit code when the daemon has to end without a signal (a refused registration). */
  ended?: Promise<number>;
}

export interface DaemonSpec {
  /** The command's name: the logger's is socat-relay-<command>; messages on stderr start with it. */
  command: string;
  io: CommandIO;
  logLevel: LogLevel;
  /** Starts the daemon; on failure it undoes what it started, then throws. */
  start(log: Logger): Promise<RunningDaemon>;
  /** The start failures that are reported (exit 1); any other is a bug and is thrown. Default: all. */
  expected?: (e: unknown) => boolean;
  /** Resolves with the signal that asks the daemon to stop (tests pass their own). */
  until?: () => Promise<string>;
}

/** Resolves with the signal name on the first SIGTERM or SIGINT; both listeners are removed then. */
function nextSignal(): Promise<string> {
  return new Promise((resolve) => {
    const on = (sig: string) => () => {
      process.off('SIGTERM', term);
      process.off('SIGINT', int);
      resolve(sig);
    };
    const term = on('SIGTERM');
    const int = on('SIGINT');
    process.once('SIGTERM', term);
    process.once('SIGINT', int);
  });
}

/**
 * The parser of a node daemon's listen setting: HOST:PORT or [V6]:PORT, or undefined for '' and 'off'
 * (nothing served).
 */
export function listenAddress(example: string): (raw: string) => { host: string; port: number } | undefined {
  return (raw) => {
    if (raw === '' || raw === 'off') return undefined;
    try {
      return parseListen(raw);
    } catch {
      throw new SettingError(`expected HOST:PORT, e.g. ${example} ('' or 'off' disables), got "${raw}"`);
    }
  };
}

/** A node daemon's HTTP server on the node's loopback (/healthz, /metrics). */
export interface NodeEndpoint {
  start(): Promise<AddressInfo>;
  stop(): Promise<void>;
}

/**
 * Starts a node daemon: its endpoint first (an address it cannot have fails the start before the daemon
 * touches anything; one shared with a running copy — a rollout's older pod — is served by both, and the
 * new copy takes the sockets over without a gap: node-agent/handoff.ts); then `start`. On a failure
 * `undo` runs, the endpoint stops, and the error is thrown.
 */
export async function listenThenStart(
  endpoint: NodeEndpoint | undefined,
  log: Logger,
  start: () => Promise<void>,
  undo?: () => Promise<void>,
): Promise<void> {
  try {
    if (endpoint) {
      const addr = await endpoint.start();
      if (addr !== WAITING_FOR_ADDRESS)
        log.info({ address: `${addr.address}:${addr.port}` }, 'serving /healthz and /metrics');
    }
    await start();
  } catch (e) {
    await undo?.();
    await endpoint?.stop();
    throw e;
  }
}

/** Runs a daemon until a signal (exit 0) or its own end (its code); 1 when it cannot start or stop. */
export async function runDaemon(d: DaemonSpec): Promise<number> {
  const log = createLogger({ name: `socat-relay-${d.command}`, level: d.logLevel });
  // The parts' own timers and watches do not hold the process (so tests can embed them): this does.
  const keepAlive = setInterval(() => undefined, 1 << 30);
  try {
    let running: RunningDaemon;
    try {
      running = await d.start(log);
    } catch (e) {
      if (d.expected && !d.expected(e)) throw e;
      const message = e instanceof Error ? e.message : String(e);
      log.error({ err: message }, `${d.command} failed to start`);
      d.io.stderr.write(`${d.command}: ${message}\n`);
      return 1;
    }
    const signalled = (d.until ?? nextSignal)().then((signal) => {
      log.info({ signal }, 'stopping');
      return 0;
    });
    const code = await (running.ended ? Promise.race([signalled, running.ended]) : signalled);
    try {
      await running.stop();
    } catch (e) {
      log.error({ err: (e as Error).message }, 'stopping failed');
      return 1;
    }
    log.info('stopped');
    return code;
  } finally {
    clearInterval(keepAlive);
  }
}
