// The agent's Prometheus metrics (served on its loopback /metrics).
import { Counter, Gauge, Registry } from 'prom-client';
import type { RelayProcess } from './supervisor.js';

export class AgentMetrics {
  readonly wanted: Gauge;
  readonly running: Gauge;
  readonly up: Gauge<'relay'>;
  readonly restarts: Counter<'relay'>;
  /** 1 when the agent holds an error for the relay (its text: lastError in status.json, never a label); see relay_up for now. */
  readonly hasError: Gauge<'relay'>;
  readonly fileErrors: Gauge;
  readonly connections: Counter<'relay'>;
  private readonly known = new Set<string>();

  constructor(readonly registry: Registry) {
    const registers = [registry];
    this.wanted = new Gauge({ name: 'socat_relay_agent_relays_wanted', help: 'Valid relays in the config folder', registers });
    this.running = new Gauge({ name: 'socat_relay_agent_relays_running', help: 'Relays whose socat is running', registers });
    this.up = new Gauge({ name: 'socat_relay_agent_relay_up', help: '1 when the relay\'s socat is running, else 0', labelNames: ['relay'], registers });
    this.restarts = new Counter({ name: 'socat_relay_agent_restarts_total', help: 'socat restarts after an exit, by relay', labelNames: ['relay'], registers });
    this.hasError = new Gauge({ name: 'socat_relay_agent_relay_has_error', help: '1 when the agent recorded an error for the relay (the text: lastError in /run/socat-relay/.agent/status.json; relay_up says whether it runs now), else 0', labelNames: ['relay'], registers });
    this.fileErrors = new Gauge({ name: 'socat_relay_agent_config_file_errors', help: 'Config files skipped because they are unreadable, corrupt or invalid', registers });
    this.connections = new Counter({ name: 'socat_relay_agent_connections_total', help: 'Connections accepted on the relay socket (from socat\'s log)', labelNames: ['relay'], registers });
  }

  update(wanted: number, fileErrors: number, procs: readonly RelayProcess[]): void {
    this.wanted.set(wanted);
    this.fileErrors.set(fileErrors);
    this.running.set(procs.filter((p) => p.running).length);
    const seen = new Set<string>();
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
