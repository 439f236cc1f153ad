// The "node's loopback service" the relay carries: an HTTP server (a small response for latency, a
// streamed body of any size for bulk), a UDP sink that counts datagrams (syslog/statsd-like) and a
// UDP echo (DNS-like). All bound to 127.0.0.1 on ports the kernel picks.
import dgram from 'node:dgram';
import http from 'node:http';
import type { AddressInfo } from 'node:net';

const SMALL_BODY = Buffer.alloc(64, 0x78);
const CHUNK = Buffer.alloc(1 << 20, 0x62);

export interface Services {
  httpPort: number;
  sinkPort: number;
  echoPort: number;
  /** Datagrams received by the sink since the last reset. */
  sinkCount(): number;
  resetSink(): void;
  close(): Promise<void>;
}

function streamBody(res: http.ServerResponse, bytes: number): void {
  res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(bytes) });
  let left = bytes;
  const pump = () => {
    while (left > 0) {
      const n = Math.min(left, CHUNK.length);
      left -= n;
      if (!res.write(n === CHUNK.length ? CHUNK : CHUNK.subarray(0, n))) {
        res.once('drain', pump);
        return;
      }
    }
    res.end();
  };
  pump();
}

export async function startServices(): Promise<Services> {
  const server = http.createServer((req, res) => {
    const url = req.url ?? '/';
    if (url.startsWith('/bulk')) {
      const bytes = Number(new URL(url, 'http://x').searchParams.get('bytes') ?? '0');
      streamBody(res, Number.isFinite(bytes) && bytes > 0 ? bytes : 0);
      return;
    }
    res.writeHead(200, { 'content-type': 'text/plain', 'content-length': String(SMALL_BODY.length) });
    res.end(SMALL_BODY);
  });
  server.keepAliveTimeout = 120_000;
  server.maxRequestsPerSocket = 0;
  await new Promise<void>((resolve) => server.listen({ port: 0, host: '127.0.0.1', backlog: 4096 }, resolve));
  const httpPort = (server.address() as AddressInfo).port;

  let count = 0;
  const sink = dgram.createSocket({ type: 'udp4', recvBufferSize: 8 << 20 });
  sink.on('message', () => {
    count++;
  });
  await new Promise<void>((resolve) => sink.bind(0, '127.0.0.1', resolve));

  const echo = dgram.createSocket('udp4');
  echo.on('message', (msg, rinfo) => echo.send(msg, rinfo.port, rinfo.address));
  await new Promise<void>((resolve) => echo.bind(0, '127.0.0.1', resolve));

  return {
    httpPort,
    sinkPort: sink.address().port,
    echoPort: echo.address().port,
    sinkCount: () => count,
    resetSink: () => {
      count = 0;
    },
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await new Promise<void>((resolve) => sink.close(() => resolve()));
      await new Promise<void>((resolve) => echo.close(() => resolve()));
    },
  };
}
