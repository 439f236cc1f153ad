// The "node's" loopback-only services a relay carries into pods: TCP (answers a greeting and echoes
// the first line), UDP one-way (records every datagram) and UDP request/reply (answers each datagram).
// All on 127.0.0.1 in the host's network namespace, which the pods cannot reach directly.
import dgram from 'node:dgram';
import net, { type AddressInfo } from 'node:net';

export const TCP_GREETING = 'hello from the node';

export interface NodeServices {
  tcpPort: number;
  udpSinkPort: number;
  udpEchoPort: number;
  /** Datagrams the one-way service received, as text. */
  received: string[];
  tcpConnections(): number;
  stop(): Promise<void>;
}

export async function startNodeServices(): Promise<NodeServices> {
  let connections = 0;
  const sockets = new Set<net.Socket>();
  const tcp = net.createServer((s) => {
    connections++;
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => undefined);
    s.setEncoding('utf8');
    let buf = '';
    s.on('data', (d: string) => {
      buf += d;
      const nl = buf.indexOf('\n');
      if (nl >= 0) s.end(`${TCP_GREETING}: ${buf.slice(0, nl)}\n`);
    });
  });
  await new Promise<void>((resolve, reject) => tcp.once('error', reject).listen(0, '127.0.0.1', () => resolve()));
  const received: string[] = [];
  const sink = dgram.createSocket('udp4');
  sink.on('message', (m) => received.push(m.toString('utf8')));
  await new Promise<void>((resolve) => sink.bind(0, '127.0.0.1', () => resolve()));
  const echo = dgram.createSocket('udp4');
  echo.on('message', (m, rinfo) => echo.send(`reply:${m.toString('utf8')}`, rinfo.port, rinfo.address));
  await new Promise<void>((resolve) => echo.bind(0, '127.0.0.1', () => resolve()));
  return {
    tcpPort: (tcp.address() as AddressInfo).port,
    udpSinkPort: sink.address().port,
    udpEchoPort: echo.address().port,
    received,
    tcpConnections: () => connections,
    async stop() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => tcp.close(() => resolve()));
      sink.close();
      echo.close();
    },
  };
}
