// A service or client that sends in several small writes (Go's TLS handshake and HTTP responses do:
// kube-scheduler, Prometheus) must not wait for a delayed ACK at each socat hop. Without TCP_NODELAY on
// the relay's TCP sockets, Nagle holds the second small segment until the first is acknowledged, and the
// peer delays that ACK by 40 ms because it is still waiting for the rest: every such exchange through
// the relay costs ≥ 40 ms per direction (a fresh TLS scrape of kube-scheduler: 59 ms instead of 10 ms).
// Here: a "node" service and a "pod" client in its own network namespace, the node side run by the real
// agent and the sidecar run exactly as injected, and request/response rounds where each side sends its
// message in two small writes a few milliseconds apart.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, chmod, mkdir, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { TestContext } from 'node:test';
import { NetNs, netnsUnavailable } from '../support/netns.js';
import { required } from '../support/required.js';
import { relayObject, socatUnavailable, startAgent, waitRunning, writeRelay, type Dirs } from '../agent/harness.js';
import { injectSidecars, startSidecar, waitListening } from './pod.js';

const skip = required(netnsUnavailable() ?? socatUnavailable());
const PREFIX = 'sr-sw';
const LISTEN_PORT = 18090;
const ROUNDS = 30;
const PIECE = 100; // bytes per write: far below the MSS, as a TLS record header or an HTTP header block
const GAP_MS = 3; // between the two writes, so socat has relayed the first before the second arrives
/** One round without the fix waits ≥ 40 ms (one delayed ACK per direction); with it, a few ms. */
const MEDIAN_ROUND_LIMIT_MS = 20;

let ns: NetNs;
const cleanups: (() => unknown)[] = [];
const ctx = { after: (fn: () => unknown) => cleanups.push(fn) } as unknown as TestContext;
let servicePort: number;

/** The "node" service: TCP_NODELAY like Go's, answers each 2×PIECE request with two PIECE writes. */
async function twoWriteService(): Promise<number> {
  const server = net.createServer({ noDelay: true }, (s) => {
    let pending = 0;
    s.on('data', (d) => {
      pending += d.length;
      while (pending >= 2 * PIECE) {
        pending -= 2 * PIECE;
        s.write('A'.repeat(PIECE));
        setTimeout(() => s.write('B'.repeat(PIECE)), GAP_MS);
      }
    });
    s.on('error', () => s.destroy());
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  cleanups.push(() => new Promise((r) => server.close(r)));
  return (server.address() as net.AddressInfo).port;
}

before(async () => {
  if (skip) return;
  const root = await mkdtemp(path.join(os.tmpdir(), `${PREFIX}-`));
  await chmod(root, 0o755);
  cleanups.push(() => rm(root, { recursive: true, force: true }));
  const dirs: Dirs = { root, configDir: path.join(root, 'config'), socketDir: path.join(root, 'run') };
  await mkdir(dirs.configDir);
  await mkdir(dirs.socketDir, { mode: 0o755 });
  servicePort = await twoWriteService();
  const spec = { target: { host: '127.0.0.1', port: servicePort }, listen: { port: LISTEN_PORT } };
  await writeRelay(dirs.configDir, 'chatty', spec);
  await startAgent(ctx, dirs);
  await waitRunning(dirs.socketDir, 'chatty');
  const [sidecar] = await injectSidecars(root, [relayObject('chatty', spec)], ['chatty'], dirs.socketDir);
  ns = NetNs.create(PREFIX);
  cleanups.push(() => ns.delete());
  startSidecar(ns, sidecar!);
  await waitListening(ns, 'tcp', LISTEN_PORT);
});

after(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

/** Runs in the pod: one connection, ROUNDS rounds of (two writes → read 2×PIECE); prints each round's ms. */
const CLIENT = `
  const net = require('node:net');
  const { port, rounds, piece, gap } = JSON.parse(process.argv[1]);
  const s = net.connect({ port, host: '127.0.0.1', noDelay: true });
  s.once('error', (e) => { console.error(e.message); process.exit(1); });
  s.once('connect', async () => {
    const times = [];
    for (let i = 0; i < rounds; i++) {
      const t0 = performance.now();
      await new Promise((resolve) => {
        let got = 0;
        const on = (d) => { got += d.length; if (got >= 2 * piece) { s.off('data', on); resolve(); } };
        s.on('data', on);
        s.write('a'.repeat(piece));
        setTimeout(() => s.write('b'.repeat(piece)), gap);
      });
      times.push(performance.now() - t0);
    }
    console.log(JSON.stringify(times));
    s.destroy();
  });`;

test(`${ROUNDS} rounds of two-write request / two-write response through the relay: no delayed-ACK stall (median round < ${MEDIAN_ROUND_LIMIT_MS} ms)`, { skip }, async (t) => {
  const r = await ns.run(process.execPath, ['-e', CLIENT, JSON.stringify({ port: LISTEN_PORT, rounds: ROUNDS, piece: PIECE, gap: GAP_MS })], { timeoutMs: 30_000 });
  assert.equal(r.code, 0, r.stderr);
  const times = (JSON.parse(r.stdout) as number[]).sort((a, b) => a - b);
  assert.equal(times.length, ROUNDS);
  const median = times[Math.floor(ROUNDS / 2)]!;
  const total = times.reduce((a, b) => a + b, 0);
  t.diagnostic(`median round ${median.toFixed(1)} ms, total ${total.toFixed(0)} ms`);
  assert.ok(median < MEDIAN_ROUND_LIMIT_MS,
    `median round ${median.toFixed(1)} ms (total ${total.toFixed(0)} ms for ${ROUNDS}): ~40 ms or more per round is Nagle + delayed ACK on a relay TCP socket without nodelay`);
});
