// The data-path load client: one process per measurement, started in the host or in the "pod" network
// namespace, so direct, single hop and chain are measured by the same program. Reads one task (JSON in
// argv[2]) and prints one JSON result line. Raw sockets, not http.Agent: less client overhead, so the
// relay's share of each round trip shows.
import dgram from 'node:dgram';
import net from 'node:net';

export type Task =
  | { kind: 'keepalive'; port: number; requests: number; warmup: number }
  | { kind: 'newconn'; port: number; connections: number; warmup: number }
  | { kind: 'burst'; port: number; connections: number; rounds: number }
  | { kind: 'udp-send'; port: number; rate: number; seconds: number; size: number }
  | { kind: 'udp-rr'; port: number; queries: number; timeoutMs: number };

export type TaskResult =
  | { kind: 'latencies'; ms: number[]; errors: number }
  | { kind: 'rounds'; rounds: number[][]; errors: number }
  | { kind: 'sent'; sent: number; seconds: number; errors: number };

const HOST = '127.0.0.1';
const now = () => Number(process.hrtime.bigint()) / 1e6;

function request(path: string, close: boolean): Buffer {
  return Buffer.from(`GET ${path} HTTP/1.1\r\nHost: bench\r\n${close ? 'Connection: close\r\n' : ''}\r\n`);
}

/** Reads HTTP/1.1 responses with Content-Length from a socket, one at a time. */
class ResponseReader {
  private buf: Buffer = Buffer.alloc(0);
  private waiting?: { resolve: () => void; reject: (e: Error) => void };
  constructor(private readonly sock: net.Socket) {
    sock.on('data', (d: Buffer) => {
      this.buf = this.buf.length ? Buffer.concat([this.buf, d]) : d;
      this.poke();
    });
    sock.on('error', (e) => this.waiting?.reject(e));
    sock.on('close', () => this.waiting?.reject(new Error('connection closed before the response ended')));
  }
  private complete(): number {
    const end = this.buf.indexOf('\r\n\r\n');
    if (end < 0) return -1;
    const m = /content-length:\s*(\d+)/i.exec(this.buf.subarray(0, end).toString('latin1'));
    const total = end + 4 + (m ? Number(m[1]) : 0);
    return this.buf.length >= total ? total : -1;
  }
  private poke(): void {
    if (!this.waiting) return;
    const n = this.complete();
    if (n < 0) return;
    this.buf = this.buf.subarray(n);
    const w = this.waiting;
    this.waiting = undefined;
    w.resolve();
  }
  next(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.waiting = { resolve, reject };
      this.poke();
    });
  }
}

function connect(port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, HOST);
    s.setNoDelay(true);
    s.once('connect', () => {
      s.off('error', reject);
      resolve(s);
    });
    s.once('error', reject);
  });
}

async function keepalive(port: number, requests: number, warmup: number): Promise<TaskResult> {
  const sock = await connect(port);
  const reader = new ResponseReader(sock);
  const req = request('/small', false);
  const ms: number[] = [];
  for (let i = 0; i < warmup + requests; i++) {
    const t0 = now();
    sock.write(req);
    await reader.next();
    if (i >= warmup) ms.push(now() - t0);
  }
  sock.destroy();
  return { kind: 'latencies', ms, errors: 0 };
}

/** connect → request → response → close, measured to the close. */
async function oneConnection(port: number): Promise<void> {
  const sock = await connect(port);
  const reader = new ResponseReader(sock);
  const closed = new Promise<void>((resolve) => sock.once('close', () => resolve()));
  sock.write(request('/small', true));
  await reader.next();
  sock.end();
  await closed;
}

async function newconn(port: number, connections: number, warmup: number): Promise<TaskResult> {
  const ms: number[] = [];
  let errors = 0;
  for (let i = 0; i < warmup + connections; i++) {
    const t0 = now();
    try {
      await oneConnection(port);
      if (i >= warmup) ms.push(now() - t0);
    } catch {
      errors++;
    }
  }
  return { kind: 'latencies', ms, errors };
}

async function burst(port: number, connections: number, rounds: number): Promise<TaskResult> {
  const out: number[][] = [];
  let errors = 0;
  for (let r = 0; r < rounds; r++) {
    const t0 = now();
    const done = await Promise.allSettled(
      Array.from({ length: connections }, () => oneConnection(port).then(() => now() - t0)),
    );
    const ms: number[] = [];
    for (const d of done)
      if (d.status === 'fulfilled') ms.push(d.value);
      else errors++;
    out.push(ms);
  }
  return { kind: 'rounds', rounds: out, errors };
}

async function udpSend(port: number, rate: number, seconds: number, size: number): Promise<TaskResult> {
  const sock = dgram.createSocket('udp4');
  await new Promise<void>((resolve) => sock.connect(port, HOST, resolve));
  const payload = Buffer.alloc(size, 0x61);
  const total = Math.round(rate * seconds);
  let sent = 0;
  let errors = 0;
  const t0 = now();
  await new Promise<void>((resolve) => {
    const tick = () => {
      const due = Math.min(total, Math.floor(((now() - t0) / 1000) * rate));
      while (sent < due) {
        sent++;
        sock.send(payload, (err) => {
          if (err) errors++;
        });
      }
      if (sent >= total) resolve();
      else setImmediate(tick);
    };
    tick();
  });
  const elapsed = (now() - t0) / 1000;
  await new Promise<void>((resolve) => sock.close(() => resolve()));
  return { kind: 'sent', sent, seconds: elapsed, errors };
}

async function udpRequestReply(port: number, queries: number, timeoutMs: number): Promise<TaskResult> {
  const ms: number[] = [];
  let errors = 0;
  for (let i = 0; i < queries; i++) {
    // A fresh socket per query, like a resolver: a new source port, so every query is a new exchange.
    const sock = dgram.createSocket('udp4');
    const t0 = now();
    const ok = await new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), timeoutMs);
      sock.once('message', () => {
        clearTimeout(timer);
        resolve(true);
      });
      sock.once('error', () => {
        clearTimeout(timer);
        resolve(false);
      });
      sock.send(Buffer.from(`q${i}`), port, HOST);
    });
    if (ok) ms.push(now() - t0);
    else errors++;
    sock.close();
  }
  return { kind: 'latencies', ms, errors };
}

async function runTask(t: Task): Promise<TaskResult> {
  switch (t.kind) {
    case 'keepalive':
      return keepalive(t.port, t.requests, t.warmup);
    case 'newconn':
      return newconn(t.port, t.connections, t.warmup);
    case 'burst':
      return burst(t.port, t.connections, t.rounds);
    case 'udp-send':
      return udpSend(t.port, t.rate, t.seconds, t.size);
    case 'udp-rr':
      return udpRequestReply(t.port, t.queries, t.timeoutMs);
  }
}

const isMain = process.argv[1] !== undefined && import.meta.url.endsWith(process.argv[1].replace(/^.*\//, '/'));
if (isMain) {
  const task = JSON.parse(process.argv[2] ?? '{}') as Task;
  runTask(task).then(
    (r) => {
      process.stdout.write(JSON.stringify(r) + '\n');
      process.exit(0);
    },
    (e: unknown) => {
      process.stderr.write(`client failed: ${e instanceof Error ? e.stack : String(e)}\n`);
      process.exit(1);
    },
  );
}
