// The "node's loopback-only service": an HTTP server bound to 127.0.0.1 in the host network namespace
// only, like kube-scheduler's :10259. A pod's network namespace cannot reach it directly.
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export const GREETING = 'hello from the node loopback service';

export interface NodeService {
  port: number;
  /** How many requests it answered. */
  hits(): number;
  stop(): Promise<void>;
}

export async function startNodeService(port = 0): Promise<NodeService> {
  let hits = 0;
  const srv = http.createServer((req, res) => {
    hits++;
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.end(`${GREETING} (${req.method} ${req.url})\n`);
  });
  await new Promise<void>((resolve, reject) => {
    srv.once('error', reject);
    srv.listen(port, '127.0.0.1', () => resolve());
  });
  return {
    port: (srv.address() as AddressInfo).port,
    hits: () => hits,
    stop: () =>
      new Promise((resolve) => {
        srv.closeAllConnections();
        srv.close(() => resolve());
      }),
  };
}
