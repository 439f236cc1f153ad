// The agent pod's HTTP endpoints on the node's loopback: /healthz, and /metrics where a registry is
// given (the agent container: its AgentMetrics; the CSI plugin container: its CsiMetrics). Nothing else is served.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';

export interface HttpOptions {
  host: string;
  port: number;
  /** Served at /metrics; without one, /metrics is 404 like any other path. */
  registry?: Registry;
  /**
   * null when healthy, else the reason (HTTP 503). May answer asynchronously: the request waits for
   * it, so it must settle on its own (a rejection is a 503 too).
   */
  unhealthy: () => string | null | Promise<string | null>;
}

export class AgentHttpServer {
  private server?: Server;
  constructor(private readonly opts: HttpOptions) {}

  async start(): Promise<AddressInfo> {
    const server = createServer((req, res) => {
      const url = (req.url ?? '/').split('?')[0];
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        res.writeHead(405, { allow: 'GET, HEAD' }).end();
        return;
      }
      if (url === '/healthz') {
        Promise.resolve()
          .then(() => this.opts.unhealthy())
          .then(
            (why) => res.writeHead(why ? 503 : 200, { 'content-type': 'text/plain' }).end(why ? `${why}\n` : 'ok\n'),
            (e: unknown) =>
              res
                .writeHead(503, { 'content-type': 'text/plain' })
                .end(`health check failed: ${(e as Error)?.message ?? String(e)}\n`),
          );
        return;
      }
      const registry = this.opts.registry;
      if (url === '/metrics' && registry) {
        registry.metrics().then(
          (text) => res.writeHead(200, { 'content-type': registry.contentType }).end(text),
          (e: Error) => res.writeHead(500, { 'content-type': 'text/plain' }).end(`${e.message}\n`),
        );
        return;
      }
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
    });
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.opts.port, this.opts.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    return server.address() as AddressInfo;
  }

  async stop(): Promise<void> {
    const s = this.server;
    if (!s) return;
    this.server = undefined;
    s.closeAllConnections();
    await new Promise<void>((resolve) => s.close(() => resolve()));
  }
}

/** Parses `HOST:PORT` / `[V6]:PORT`, the value of the flag `--<flag>` (named in the error). */
export function parseListen(s: string, flag = 'listen', example = '127.0.0.1:9465'): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(s);
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535)
    throw new Error(`--${flag} ${JSON.stringify(s)}: expected HOST:PORT, e.g. ${example} ('' or 'off' disables)`);
  return { host: (m[1] ?? m[2])!, port };
}
