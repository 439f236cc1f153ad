// A client that half-closes (sends its request, shuts down its sending side, then waits) must still
// get a reply that comes later than socat's default 0.5 s linger — through both halves of a TCP relay,
// built by the same argv builders the agent and the injector use.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { nodeArgv, resolveRelay, sidecarArgv, socketPath } from '../../../relay/index.js';
import { freePort } from '../../harness/ports.js';

const REPLY_DELAY_MS = 1500;

async function waitConnectable(connect: () => net.Socket, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const c = connect();
      c.once('connect', () => {
        c.destroy();
        resolve(true);
      });
      c.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > end) throw new Error('not connectable in time');
    await new Promise((r) => setTimeout(r, 50));
  }
}

test(
  `a half-closing client gets a reply sent ${REPLY_DELAY_MS} ms after its request, through both socat halves`,
  { timeout: 30_000 },
  async (t) => {
    const dir = mkdtempSync(path.join(tmpdir(), 'srhc-'));
    const procs: ChildProcess[] = [];
    // A service that answers only after the client's EOF, and late.
    const server = net.createServer({ allowHalfOpen: true }, (c) => {
      let req = '';
      c.on('data', (d) => {
        req += d.toString();
      });
      c.on('end', () => setTimeout(() => c.end(`reply to ${req}`), REPLY_DELAY_MS));
    });
    t.after(() => {
      for (const p of procs) p.kill('SIGKILL');
      server.close();
      rmSync(dir, { recursive: true, force: true });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const targetPort = (server.address() as net.AddressInfo).port;
    const listenPort = await freePort();
    const relay = resolveRelay({
      apiVersion: 'socat.io/v1alpha1',
      kind: 'Relay',
      metadata: { name: 'halfclose' },
      spec: {
        target: { host: '127.0.0.1', port: targetPort },
        listen: { port: listenPort },
        consumers: { namespaces: ['a'] },
      },
    });
    mkdirSync(path.join(dir, 'halfclose'));
    procs.push(spawn('socat', nodeArgv(relay, { socketDir: dir, socketGid: process.getgid!() }), { stdio: 'ignore' }));
    procs.push(spawn('socat', sidecarArgv(relay, { socketDir: dir }), { stdio: 'ignore' }));
    await waitConnectable(() => net.connect(socketPath(dir, 'halfclose')));
    await waitConnectable(() => net.connect(listenPort, '127.0.0.1'));

    const reply = await new Promise<string>((resolve, reject) => {
      const c = net.connect(listenPort, '127.0.0.1', () => c.end('ping')); // write, then half-close
      let got = '';
      c.on('data', (d) => {
        got += d.toString();
      });
      c.on('close', () => resolve(got));
      c.on('error', reject);
    });
    assert.equal(reply, 'reply to ping');
  },
);
