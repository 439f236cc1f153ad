// The agent pod's HTTP listeners on the node's loopback (the agent's /healthz + /metrics, the CSI
// container's /healthz, node-agent/http.ts) under abuse from whatever else runs on the node (a
// hostNetwork pod, a process): connections that never finish their request line, a header of 1 MiB,
// a burst. The kubelet's liveness probe must still get its answer — a probe that times out restarts
// the container, so a local user could otherwise keep the CSI plugin restarting.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { AgentHttpServer } from '../../../node-agent/http.js';

let server: AgentHttpServer;
let port: number;
const idle: net.Socket[] = [];

before(async () => {
  server = new AgentHttpServer({ host: '127.0.0.1', port: 0, unhealthy: () => null });
  port = (await server.start()).port;
});
after(async () => {
  for (const s of idle) s.destroy();
  await server.stop();
});

/** The status line of one raw request's answer, or the error that ended the connection. */
function raw(request: string): Promise<string> {
  return new Promise((resolve) => {
    const c = net.connect(port, '127.0.0.1');
    let out = '';
    c.on('data', (d) => {
      out += d.toString('latin1');
    });
    c.on('error', (e) => resolve(out.split('\r\n')[0] || `error ${e.message}`));
    c.on('close', () => resolve(out.split('\r\n')[0] ?? ''));
    c.end(request);
  });
}

test('2000 connections that never finish their headers (slowloris) leave /healthz answering 200', async () => {
  for (let i = 0; i < 2000; i++) {
    const c = net.connect(port, '127.0.0.1');
    c.on('error', () => undefined);
    c.write('GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ');
    idle.push(c);
  }
  await new Promise((r) => setTimeout(r, 500));
  const res = await fetch(`http://127.0.0.1:${port}/healthz`, { signal: AbortSignal.timeout(5000) });
  assert.equal(res.status, 200);
  assert.equal(await res.text(), 'ok\n');
});

test('a 1 MiB header is refused (431 or a reset), and the server keeps answering', async () => {
  const answer = await raw(`GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(1 << 20)}\r\n\r\n`);
  assert.match(answer, /^HTTP\/1\.1 431|^error (read|write) (ECONNRESET|EPIPE)/, answer);
  assert.match(await raw('GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'), /^HTTP\/1\.1 200 OK/);
});

test('a burst of 500 requests is answered 200, every one', async () => {
  const statuses = await Promise.all(
    Array.from({ length: 500 }, () =>
      fetch(`http://127.0.0.1:${port}/healthz`, { signal: AbortSignal.timeout(10_000) }).then((r) => r.status),
    ),
  );
  assert.deepEqual([...new Set(statuses)], [200]);
});

test('anything but GET /healthz (and /metrics when given a registry) is refused without a body', async () => {
  assert.match(await raw('GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'), /^HTTP\/1\.1 404/);
  assert.match(
    await raw('POST /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n'),
    /^HTTP\/1\.1 405/,
  );
  assert.match(await raw('GET /../../etc/passwd HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'), /^HTTP\/1\.1 404/);
  assert.match(await raw('garbage\r\n\r\n'), /^HTTP\/1\.1 400|^$/);
});
