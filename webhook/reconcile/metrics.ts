// The reconcile's metrics, registered on the controller's registry.
import { Counter, type Registry } from 'prom-client';
import { watchRestartsCounter } from '../metrics.js';

export class ReconcileMetrics {
  readonly runs: Counter<'kind' | 'result'>;
  readonly filesWritten: Counter;
  readonly filesRemoved: Counter;
  readonly statusWrites: Counter<'result'>;
  readonly watchRestarts: Counter<'resource'>;
  readonly events: Counter<'reason'>;

  constructor(registry: Registry) {
    const registers = [registry];
    this.runs = new Counter({
      name: 'socat_relay_reconcile_runs_total',
      help: 'Node reconcile runs, by kind (files, status) and result (success, error)',
      labelNames: ['kind', 'result'],
      registers,
    });
    this.filesWritten = new Counter({
      name: 'socat_relay_reconcile_files_written_total',
      help: 'Relay files written to the node config folder',
      registers,
    });
    this.filesRemoved = new Counter({
      name: 'socat_relay_reconcile_files_removed_total',
      help: 'Relay files removed from the node config folder',
      registers,
    });
    this.statusWrites = new Counter({
      name: 'socat_relay_reconcile_status_writes_total',
      help: 'Relay status applies by result (success, conflict, error)',
      labelNames: ['result'],
      registers,
    });
    // Shared with the controller's informers: one metric for every watch.
    this.watchRestarts = watchRestartsCounter(registry);
    this.events = new Counter({
      name: 'socat_relay_reconcile_events_total',
      help: 'Kubernetes Events recorded on Relays, by reason',
      labelNames: ['reason'],
      registers,
    });
  }
}
