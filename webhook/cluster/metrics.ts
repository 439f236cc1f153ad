// The elected controller's metrics, registered on the controller's registry by every serving
// controller (so each one says whether it is the elected one).
import { Counter, Gauge, type Registry } from 'prom-client';

export class ClusterMetrics {
  readonly elected: Gauge;
  readonly summaryWrites: Counter<'result'>;

  constructor(registry: Registry) {
    const registers = [registry];
    this.elected = new Gauge({
      name: 'socat_relay_elected',
      help: "Whether this controller is the elected one that writes the Relays' summaries (1) or not (0).",
      registers,
    });
    this.summaryWrites = new Counter({
      name: 'socat_relay_summary_writes_total',
      help: 'Relay summary writes by the elected controller, by result (success, error).',
      labelNames: ['result'],
      registers,
    });
  }
}
