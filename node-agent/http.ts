// The agent pod's HTTP endpoints on the node's loopback: /healthz, and /metrics where a registry is
// given (the agent container: its AgentMetrics; the CSI plugin container: its CsiMetrics). Nothing else is served.
// The address is shared (SO_REUSEPORT): during a rollout the new agent pod runs beside the old one on the
// node's network, and both answer there until the old one stops. A holder that did not share it (an agent
// from before the handoff) leaves the new one waiting for the address, retried every second, while the
// agent itself starts.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import type { Logger } from '../lib/log.js';

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
  /** Logs the wait for an address held without SO_REUSEPORT; without it, that address is an error. */
  log?: Logger;
  /** Between attempts at an address held by another process (ms). Default 1000. */
  retryMs?: number;
}

/** What start() resolves with while another process holds the address without sharing it. */
export const WAITING_FOR_ADDRESS = { address: 'waiting', family: 'IPv4', port: 0 } as const satisfies AddressInfo;

export class AgentHttpServer {
  private server?: Server;
  private retry?: NodeJS.Timeout;
  private stopped = false;
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
    try {
      await this.listen(server);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EADDRINUSE' || !this.opts.log) throw e;
      this.opts.log.warn(
        { address: `${this.opts.host}:${this.opts.port}` },
        'the address is held by a process that does not share it (an agent from before the handoff?): serving there once it is free',
      );
      this.retryListen(server);
      return WAITING_FOR_ADDRESS;
    }
    return server.address() as AddressInfo;
  }

  private listen(server: Server): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ port: this.opts.port, host: this.opts.host, reusePort: true }, () => {
        server.off('error', reject);
        resolve();
      });
    });
  }

  private retryListen(server: Server): void {
    this.retry = setTimeout(() => {
      this.retry = undefined;
      if (this.stopped) return;
      this.listen(server).then(
        () => this.opts.log?.info({ address: `${this.opts.host}:${this.opts.port}` }, 'serving /healthz and /metrics'),
        () => this.retryListen(server),
      );
    }, this.opts.retryMs ?? 1000);
    this.retry.unref();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.retry);
    const s = this.server;
    if (!s) return;
    this.server = undefined;
    s.closeAllConnections();
    if (!s.listening) return;
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
