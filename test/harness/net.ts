// Real network ends for the data-path tests: a TCP echo server on 127.0.0.1 (that can be stopped and
// started again on the same port) and a client that does one exchange through a relay's Unix socket.
import net from 'node:net';

export interface EchoServer {
  port: number;
  /** Connections accepted so far. */
  accepted(): number;
  close(): Promise<void>;
}

export async function startEcho(port = 0): Promise<EchoServer> {
  const sockets = new Set<net.Socket>();
  let accepted = 0;
  const server = net.createServer((s) => {
    accepted++;
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => undefined);
    s.pipe(s);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ port, host: '127.0.0.1', backlog: 2048 }, () => resolve());
  });
  const addr = server.address() as net.AddressInfo;
  return {
    port: addr.port,
    accepted: () => accepted,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

class ExchangeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ExchangeError';
  }
}

/**
 * Connects to a Unix socket, sends `payload` and resolves with what came back once as many bytes as were
 * sent have arrived (request/response, like an HTTP scrape), or with what arrived when the peer closed.
 * With `halfClose` the client shuts its side down right after sending (then socat's `-t` applies).
 */
export function exchange(socketPath: string, payload: Buffer, timeoutMs = 5000, halfClose = false): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let got = 0;
    let done = false;
    const s = net.createConnection(socketPath);
    const finish = (err?: Error) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      s.destroy();
      if (err) reject(err);
      else resolve(Buffer.concat(chunks));
    };
    const timer = setTimeout(
      () => finish(new ExchangeError(`no full answer within ${timeoutMs} ms (${got} of ${payload.length} bytes)`)),
      timeoutMs,
    );
    s.on('connect', () => (halfClose ? s.end(payload) : s.write(payload)));
    s.on('data', (c: Buffer) => {
      chunks.push(c);
      got += c.length;
      if (!halfClose && got >= payload.length) finish();
    });
    s.on('error', (e) => finish(e));
    s.on('close', () => finish());
  });
}

/** One exchange that must echo `payload` exactly; resolves true/false, never throws. */
export async function echoes(socketPath: string, payload: Buffer, timeoutMs = 5000): Promise<boolean> {
  try {
    return (await exchange(socketPath, payload, timeoutMs)).equals(payload);
  } catch {
    return false;
  }
}
