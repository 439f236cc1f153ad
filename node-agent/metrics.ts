// The agent's Prometheus metrics (served on its loopback /metrics): its relays, socat_relay_build_info
// and the standard process_* / nodejs_* metrics of its own process. Alerts and a dashboard over
// these names: mixin/.
import { lstat } from 'node:fs/promises';
import { Counter, Gauge, Registry } from 'prom-client';
import { buildInfo } from '../lib/build-info.js';
import { collectProcessMetrics } from '../lib/process-metrics.js';
import { socketPath } from '../node-contract/index.js';
import type { RelayProcess } from './supervisor.js';

export interface AgentMetricsOptions {
  /** The relay folders' root: relay_ready checks the relay's socket there. Without it, ready = running. */
  socketDir?: string;
  /** The socket of a relay under socketDir (default `<socketDir>/<relay>/socket`; the agent's knows the uid folder). */
  socketOf?: (relay: string) => string;
  /** process_* and nodejs_* of this process (default true). */
  defaultMetrics?: boolean;
}

/** Pure: a relay is ready when its socat runs and its socket is in place (what a consumer connects to). */
export function relayReady(running: boolean, socketPresent: boolean): 0 | 1 {
  return running && socketPresent ? 1 : 0;
}

async function isSocket(file: string): Promise<boolean> {
  try {
    return (await lstat(file)).isSocket();
  } catch {
    return false;
  }
}

/** socat_relay_agent_relay_ready, computed at scrape time from the last update's relays and their sockets. */
function readyGauge(
  registers: Registry[],
  procs: () => Map<string, boolean>,
  opts: AgentMetricsOptions,
): Gauge<'relay'> {
  const socketDir = opts.socketDir;
  const socketOf = opts.socketOf ?? ((name: string) => socketPath(socketDir ?? '', name));
  return new Gauge({
    name: 'socat_relay_agent_relay_ready',
    help: "1 when the relay's socat is running and its socket is in place (what consumers connect to; checked at scrape time), else 0",
    labelNames: ['relay'],
    registers,
    async collect() {
      // Without a socket folder (tests of the counters alone) a running socat counts as ready.
      const socketPresent = async (name: string, running: boolean): Promise<boolean> =>
        socketDir === undefined || (running && (await isSocket(socketOf(name))));
      const values = await Promise.all(
        [...procs()].map(
          async ([name, running]) => [name, relayReady(running, await socketPresent(name, running))] as const,
        ),
      );
      this.reset();
      for (const [name, v] of values) this.set({ relay: name }, v);
    },
  });
}

export class AgentMetrics {
  readonly wanted: Gauge;
  readonly running: Gauge;
  readonly up: Gauge<'relay'>;
  readonly restarts: Counter<'relay'>;
  /**
   * 1 when the agent holds an error for the relay (its text: lastError in status.json, never a label);
   * see relay_up for now.
   */
  readonly hasError: Gauge<'relay'>;
  readonly fileErrors: Gauge;
  readonly connections: Counter<'relay'>;
  /** 1 when the relay's socat runs and its socket exists (checked at scrape time), else 0. */
  readonly ready: Gauge<'relay'>;
  private readonly known = new Set<string>();
  /** The last update's relays and whether their socat ran. */
  private lastRunning = new Map<string, boolean>();

  constructor(
    readonly registry: Registry,
    opts: AgentMetricsOptions = {},
  ) {
    const registers = [registry];
    if (opts.defaultMetrics ?? true) collectProcessMetrics(registry);
    buildInfo(registry, 'agent');
    this.ready = readyGauge(registers, () => this.lastRunning, opts);
    this.wanted = new Gauge({
      name: 'socat_relay_agent_relays_wanted',
      help: 'Valid relays in the config folder',
      registers,
    });
    this.running = new Gauge({
      name: 'socat_relay_agent_relays_running',
      help: 'Relays whose socat is running',
      registers,
    });
    this.up = new Gauge({
      name: 'socat_relay_agent_relay_up',
      help: "1 when the relay's socat is running, else 0",
      labelNames: ['relay'],
      registers,
    });
    this.restarts = new Counter({
      name: 'socat_relay_agent_restarts_total',
      help: 'socat restarts after an exit, by relay',
      labelNames: ['relay'],
      registers,
    });
    this.hasError = new Gauge({
      name: 'socat_relay_agent_relay_has_error',
      help: '1 when the agent recorded an error for the relay (the text: lastError in /run/socat-relay/.agent/status.json; relay_up says whether it runs now), else 0',
      labelNames: ['relay'],
      registers,
    });
    this.fileErrors = new Gauge({
      name: 'socat_relay_agent_config_file_errors',
      help: 'Config files skipped because they are unreadable, corrupt or invalid',
      registers,
    });
    this.connections = new Counter({
      name: 'socat_relay_agent_connections_total',
      help: "Connections accepted on the relay socket (from socat's log)",
      labelNames: ['relay'],
      registers,
    });
  }

  update(wanted: number, fileErrors: number, procs: readonly RelayProcess[]): void {
    this.wanted.set(wanted);
    this.fileErrors.set(fileErrors);
    this.running.set(procs.filter((p) => p.running).length);
    const seen = new Set<string>();
    this.lastRunning = new Map(procs.map((p) => [p.name, p.running]));
    for (const p of procs) {
      seen.add(p.name);
      this.known.add(p.name);
      this.up.set({ relay: p.name }, p.running ? 1 : 0);
      this.hasError.set({ relay: p.name }, p.lastError !== undefined ? 1 : 0);
    }
    for (const name of [...this.known]) {
      if (seen.has(name)) continue;
      this.hasError.remove({ relay: name });
      this.up.remove({ relay: name });
      this.known.delete(name);
    }
  }
}
