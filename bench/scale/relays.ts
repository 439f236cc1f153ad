// N generated Relays (TCP, loopback targets, one consumer namespace): the scale benchmarks' input.
import { API_VERSION, KIND, type Relay } from '../../relay/index.js';

export function generatedRelays(n: number, targetPort: (i: number) => number, prefix = 'relay'): Relay[] {
  return Array.from({ length: n }, (_, i) => ({
    apiVersion: API_VERSION,
    kind: KIND,
    metadata: {
      name: `${prefix}-${String(i).padStart(4, '0')}`,
      generation: 1,
      uid: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
      resourceVersion: String(1000 + i),
    },
    spec: {
      protocol: 'TCP',
      target: { host: '127.0.0.1', port: targetPort(i) },
      listen: { port: 20000 + (i % 40000) },
      consumers: { namespaces: ['monitoring'] },
    },
  }));
}
