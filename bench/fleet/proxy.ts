// A counting proxy between one controller and the API server: the controller's kubeconfig points at
// http://127.0.0.1:<port> (its own proxy), the proxy forwards every request over TLS with the admin
// client certificate and counts, from the controller's side: requests by verb, response bytes the
// controller receives, and the events of every watch response (measure.ts). Accept-Encoding is dropped
// on the way up, so the bytes are the uncompressed bodies (the API server sends watches uncompressed
// anyway; only lists over 128 KiB would be gzipped on a real cluster).
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { verbOf, WatchStreamCounter } from './measure.js';

export interface ProxyCounts {
  requests: number;
  byVerb: Record<string, number>;
  /** Response bytes (bodies) sent to the controller. */
  bytesIn: number;
  /** Request bytes (bodies) the controller sent. */
  bytesOut: number;
  watchEvents: number;
  bookmarks: number;
  /** Watches open now. */
  openWatches: number;
}

export interface CountingProxy {
  port: number;
  counts(): ProxyCounts;
  close(): Promise<void>;
}

export interface Upstream {
  /** https://127.0.0.1:<port> */
  url: string;
  ca: string;
  cert: string;
  key: string;
}

const HOP = new Set(['host', 'connection', 'keep-alive', 'accept-encoding', 'proxy-connection', 'upgrade']);

export async function startCountingProxy(up: Upstream): Promise<CountingProxy> {
  const target = new URL(up.url);
  const agent = new https.Agent({ keepAlive: true, ca: up.ca, cert: up.cert, key: up.key, maxFreeSockets: 8 });
  const c: ProxyCounts = {
    requests: 0,
    byVerb: {},
    bytesIn: 0,
    bytesOut: 0,
    watchEvents: 0,
    bookmarks: 0,
    openWatches: 0,
  };
  const server = http.createServer((req, res) => {
    const url = req.url ?? '/';
    const verb = verbOf(req.method ?? 'GET', url);
    c.requests++;
    c.byVerb[verb] = (c.byVerb[verb] ?? 0) + 1;
    const headers: http.OutgoingHttpHeaders = {};
    for (const [k, v] of Object.entries(req.headers)) if (!HOP.has(k) && v !== undefined) headers[k] = v;
    const upstream = https.request(
      { host: target.hostname, port: target.port, method: req.method, path: url, headers, agent },
      (ur) => {
        const watch = verb === 'WATCH' ? new WatchStreamCounter() : undefined;
        let before = { events: 0, bookmarks: 0 };
        if (watch) c.openWatches++;
        res.writeHead(ur.statusCode ?? 502, ur.headers);
        ur.on('data', (chunk: Buffer) => {
          c.bytesIn += chunk.length;
          if (watch) {
            watch.feed(chunk);
            c.watchEvents += watch.events - before.events;
            c.bookmarks += watch.bookmarks - before.bookmarks;
            before = { events: watch.events, bookmarks: watch.bookmarks };
          }
        });
        ur.on('close', () => {
          if (watch) c.openWatches--;
        });
        ur.pipe(res);
      },
    );
    upstream.on('error', (err) => {
      if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain' });
      res.end(`proxy: ${err.message}`);
    });
    // The controller gave up (a watch it restarts, a stop): end the upstream request too.
    res.on('close', () => upstream.destroy());
    req.on('data', (chunk: Buffer) => {
      c.bytesOut += chunk.length;
    });
    req.pipe(upstream);
  });
  server.keepAliveTimeout = 120_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    counts: () => ({ ...c, byVerb: { ...c.byVerb } }),
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      agent.destroy();
    },
  };
}
