// A service or client that sends in several small writes (Go's TLS handshake and HTTP responses do:
// kube-scheduler, Prometheus) must not wait for a delayed ACK at each socat hop. Without TCP_NODELAY on
// the relay's TCP sockets, Nagle holds the second small segment until the first is acknowledged, and the
// peer delays that ACK by 40 ms because it is still waiting for the rest: every such exchange through
// the relay costs ≥ 40 ms per direction (BENCHMARKS.md: the scrape's `no-nodelay` variant).
// Here: a "node" service and a "pod" client in its own network namespace, and request/response rounds
// where each side sends its message in two small writes a few milliseconds apart, through two relays
// side by side to the same service:
//   - "chatty", as shipped: the node side run by the real agent, the sidecar run exactly as injected;
//   - "chatty-nagle", the baseline: the same two socat command lines (the agent's nodeArgv and the
//     injected sidecar's command) with only the nodelay option taken out, by the benchmark's own
//     `no-nodelay` variant (bench/datapath/run.ts).
// The baseline must show the stall and the shipped relay must not: the test compares the two medians
// of the same run (a busy machine slows both), it sets no absolute time.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, chmod, chown, mkdir, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { TestContext } from 'node:test';
import { nodeArgv, resolveRelay, type Relay } from '../../../relay/index.js';
import { VARIANTS } from '../../../bench/datapath/run.js';
import { NetNs, netnsUnavailable } from '../../harness/netns.js';
import { required } from '../../harness/required.js';
import {
  relayObject,
  socatUnavailable,
  SOCKET_GID,
  startAgent,
  waitFor,
  waitRunning,
  writeRelay,
  type Dirs,
} from '../../harness/agent.js';
import { injectSidecars, startSidecar, waitListening, type InjectedSidecar } from '../../harness/pod-netns.js';

const skip = required(netnsUnavailable(), socatUnavailable());
const PREFIX = 'sr-sw';
const SHIPPED_PORT = 18090;
const BASELINE_PORT = 18091;
const ROUNDS = 30;
const PIECE = 100; // bytes per write: far below the MSS, as a TLS record header or an HTTP header block
const GAP_MS = 3; // between the two writes, so socat has relayed the first before the second arrives
/**
 * The baseline's median round over the shipped relay's, at least. A delayed ACK costs 40 ms per
 * direction (Linux's minimum), a round through the shipped relay a few ms (the two 3 ms gaps and the
 * hops): about 80 / 8. Four leaves room for a busy machine, and fails if either direction still stalls.
 */
const MIN_RATIO = 4;
const NO_NODELAY = VARIANTS['no-nodelay']!;

let ns: NetNs;
const cleanups: (() => unknown)[] = [];
const ctx = { after: (fn: () => unknown) => cleanups.push(fn) } as unknown as TestContext;
/** The baseline's two command lines, kept for the failure messages. */
let baselineArgv: { node: string[]; sidecar: string[] };

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

/** `argv` with nodelay taken out by the benchmark's variant; fails unless exactly that option went. */
function withoutNodelay(argv: string[], edit: (a: string[]) => string[], half: string): string[] {
  const edited = edit([...argv]);
  const changed = argv.map((a, i) => [a, edited[i]] as const).filter(([a, b]) => a !== b);
  assert.equal(edited.length, argv.length, `${half}: the variant keeps every argument`);
  assert.equal(changed.length, 1, `${half}: one address loses nodelay (${argv.join(' ')})`);
  assert.equal(changed[0]![0].replace(',nodelay', ''), changed[0]![1], `${half}: only ",nodelay" goes`);
  return edited;
}

/** The baseline relay's node side: socat on the host with the agent's argv minus nodelay, in a folder of its own. */
async function startBaselineNodeSide(relay: Relay, socketDir: string): Promise<void> {
  await mkdir(path.join(socketDir, relay.metadata.name), { recursive: true, mode: 0o750 });
  // the sidecar's group may enter, as the agent sets it
  await chown(path.join(socketDir, relay.metadata.name), 0, SOCKET_GID);
  const argv = nodeArgv(resolveRelay(relay), { socketDir, socketGid: SOCKET_GID });
  baselineArgv.node = withoutNodelay(argv, NO_NODELAY.node, 'node side');
  const child = spawn('socat', baselineArgv.node, { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  cleanups.push(() => {
    child.kill('SIGKILL');
  });
  const sock = path.join(socketDir, relay.metadata.name, 'socket');
  await waitFor(`the baseline's socket ${sock}`, () => {
    if (child.exitCode !== null)
      throw new Error(`socat ${baselineArgv.node.join(' ')} exited ${child.exitCode}: ${stderr}`);
    return existsSync(sock);
  });
}

before(async () => {
  if (skip) return;
  const root = await mkdtemp(path.join(os.tmpdir(), `${PREFIX}-`));
  await chmod(root, 0o755);
  cleanups.push(() => rm(root, { recursive: true, force: true }));
  const dirs: Dirs = { root, configDir: path.join(root, 'config'), socketDir: path.join(root, 'run') };
  const baselineDir = path.join(root, 'run-nagle');
  for (const d of [dirs.configDir, dirs.socketDir, baselineDir, path.join(root, 'inject-nagle')])
    await mkdir(d, { mode: 0o755 });
  const target = { host: '127.0.0.1', port: await twoWriteService() };
  baselineArgv = { node: [], sidecar: [] };

  // As shipped: the agent runs the node side.
  const shipped = { target, listen: { port: SHIPPED_PORT } };
  await writeRelay(dirs.configDir, 'chatty', shipped);
  await startAgent(ctx, dirs);
  await waitRunning(dirs.socketDir, 'chatty');
  const [sidecar] = await injectSidecars(root, [relayObject('chatty', shipped)], ['chatty'], dirs.socketDir);

  // The baseline: the same command lines without nodelay, the node side outside the agent's folder.
  const nagle = relayObject('chatty-nagle', { target, listen: { port: BASELINE_PORT } }) as Relay;
  await startBaselineNodeSide(nagle, baselineDir);
  const [injected] = await injectSidecars(path.join(root, 'inject-nagle'), [nagle], ['chatty-nagle'], baselineDir);
  assert.equal(injected!.command[0], 'socat');
  baselineArgv.sidecar = ['socat', ...withoutNodelay(injected!.command.slice(1), NO_NODELAY.sidecar, 'sidecar')];
  const baselineSidecar: InjectedSidecar = { ...injected!, command: baselineArgv.sidecar };

  ns = NetNs.create(PREFIX);
  cleanups.push(() => ns.delete());
  startSidecar(ns, sidecar!);
  startSidecar(ns, baselineSidecar);
  await waitListening(ns, 'tcp', SHIPPED_PORT);
  await waitListening(ns, 'tcp', BASELINE_PORT);
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

/** The median round, in ms, of ROUNDS rounds from the pod to 127.0.0.1:port. */
async function medianRound(port: number): Promise<number> {
  const r = await ns.run(
    process.execPath,
    ['-e', CLIENT, JSON.stringify({ port, rounds: ROUNDS, piece: PIECE, gap: GAP_MS })],
    { timeoutMs: 60_000 },
  );
  assert.equal(r.code, 0, r.stderr);
  const times = (JSON.parse(r.stdout) as number[]).sort((a, b) => a - b);
  assert.equal(times.length, ROUNDS);
  return times[Math.floor(ROUNDS / 2)]!;
}

test(
  `${ROUNDS} rounds of two-write request / two-write response: without nodelay each round stalls on delayed ACKs, through the shipped relay it does not (medians ≥ ${MIN_RATIO}× apart)`,
  { skip, timeout: 120_000 },
  async (t) => {
    const baseline = await medianRound(BASELINE_PORT);
    const shipped = await medianRound(SHIPPED_PORT);
    t.diagnostic(
      `median round: without nodelay ${baseline.toFixed(1)} ms, as shipped ${shipped.toFixed(1)} ms (${(baseline / shipped).toFixed(1)}×)`,
    );
    assert.ok(
      baseline / shipped >= MIN_RATIO,
      `median round without nodelay ${baseline.toFixed(1)} ms, as shipped ${shipped.toFixed(1)} ms: expected the baseline ≥ ${MIN_RATIO}× slower ` +
        `(Nagle + delayed ACK cost ~40 ms per direction without nodelay; a stall in the shipped relay, or none in the baseline, fails this).\n` +
        `baseline node side: socat ${baselineArgv.node.join(' ')}\nbaseline sidecar: ${baselineArgv.sidecar.join(' ')}`,
    );
  },
);
