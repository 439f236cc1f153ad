// The CSI plugin's metrics, served with /healthz on its health listener (default 127.0.0.1:9466):
// every gRPC call the plugin answers, by method and gRPC status code (OK for a success), its
// socat_relay_build_info and its process' standard process_* / nodejs_* metrics. Both label values come
// from fixed sets (the services' method names, grpc-js's status names), never from a request.
import { status } from '@grpc/grpc-js';
import { Counter, Registry } from 'prom-client';
import { buildInfo } from '../../lib/build-info.js';
import { collectProcessMetrics } from '../../lib/process-metrics.js';

export class CsiMetrics {
  readonly calls: Counter<'method' | 'code'>;

  constructor(
    readonly registry: Registry = new Registry(),
    opts: { defaultMetrics?: boolean } = {},
  ) {
    if (opts.defaultMetrics ?? true) collectProcessMetrics(registry);
    buildInfo(registry, 'csi');
    this.calls = new Counter({
      name: 'socat_relay_csi_calls_total',
      help: 'CSI and registration calls answered, by method and gRPC status code (OK, INVALID_ARGUMENT, NOT_FOUND, PERMISSION_DENIED, FAILED_PRECONDITION, INTERNAL, ...)',
      labelNames: ['method', 'code'],
      registers: [registry],
    });
  }

  /** Counts one answered call; `code` is the gRPC status (status.OK for a success). */
  observe(method: string, code: status): void {
    this.calls.inc({ method, code: status[code] ?? 'UNKNOWN' });
  }
}
