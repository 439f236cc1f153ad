// The agent's Prometheus metrics (served on its loopback /metrics).
import { Counter, Gauge, Registry } from 'prom-client';
import type { RelayProcess } from './supervisor.js';

const MAX_ERROR_LABEL = 160;

export class AgentMetrics {
  readonly wanted: Gauge;
  readonly running: Gauge;
  readonly up: Gauge<'relay'>;
  readonly restarts: Counter<'relay'>;
  readonly lastError: Gauge<'relay' | 'error'>;
  readonly fileErrors: Gauge;
  readonly connections: Counter<'relay'>;
  private readonly errorLabels = new Map<string, string>();

  constructor(readonly registry: Registry) {
    const registers = [registry];
    this.wanted = new Gauge({ name: 'socat_relay_agent_relays_wanted', help: 'Valid relays in the config folder', registers });
    this.running = new Gauge({ name: 'socat_relay_agent_relays_running', help: 'Relays whose socat is running', registers });
    this.up = new Gauge({ name: 'socat_relay_agent_relay_up', help: '1 when the relay\'s socat is running, else 0', labelNames: ['relay'], registers });
    this.restarts = new Counter({ name: 'socat_relay_agent_restarts_total', help: 'socat restarts after an exit, by relay', labelNames: ['relay'], registers });
    this.lastError = new Gauge({ name: 'socat_relay_agent_last_error_info', help: 'The last error of a relay (value 1; the text is the error label)', labelNames: ['relay', 'error'], registers });
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
      this.up.set({ relay: p.name }, p.running ? 1 : 0);
      const err = p.lastError?.slice(0, MAX_ERROR_LABEL);
      const prev = this.errorLabels.get(p.name);
      if (err !== prev) {
        if (prev !== undefined) this.lastError.remove({ relay: p.name, error: prev });
        if (err !== undefined) {
          this.lastError.set({ relay: p.name, error: err }, 1);
          this.errorLabels.set(p.name, err);
        } else this.errorLabels.delete(p.name);
      }
    }
    for (const [name, prev] of [...this.errorLabels]) {
      if (seen.has(name)) continue;
      this.lastError.remove({ relay: name, error: prev });
      this.errorLabels.delete(name);
      this.up.remove({ relay: name });
    }
  }
}
