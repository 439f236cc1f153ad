// The whole data path with real processes: a "node" service on 127.0.0.1, the agent's socat on the
// node side, and a "pod" in its own network namespace running the injected sidecar command. TCP (HTTP),
// UDP one-way (boundaries kept up to 60000 bytes) and UDP request/response (slow replies included), plus
// an agent restart under a running sidecar.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { mkdtemp, chmod, mkdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { TestContext } from 'node:test';
import { NetNs, netnsUnavailable } from '../../harness/netns.js';
import { required } from '../../harness/required.js';
import {
  httpService,
  relayObject,
  socatUnavailable,
  startAgent,
  udpService,
  waitFor,
  waitRunning,
  writeRelay,
  isAlive,
  type Dirs,
} from '../../harness/agent.js';
import type { Agent } from '../../../node-agent/agent.js';
import { injectSidecars, startSidecar, waitListening, type InjectedSidecar } from '../../harness/pod-netns.js';

const skip = required(netnsUnavailable() ?? socatUnavailable());
const PREFIX = 'sr-dp';
const HTTP_PORT = 18080;
const SYSLOG_PORT = 15514;
const DNS_PORT = 15353;

// One shared setup for the file: node services, the agent, the pod and its sidecars.
let ns: NetNs;
let dirs: Dirs;
let sidecars: Map<string, InjectedSidecar>;
let agent: Agent;
/** The sidecars' pids (`ip netns exec`, sh and setpriv all exec, so this is socat itself). */
const sidecarPids: number[] = [];
const cleanups: (() => unknown)[] = [];

// node:test's before() gets no TestContext for t.after; a small stand-in collects cleanups instead.
const ctx = { after: (fn: () => unknown) => cleanups.push(fn) } as unknown as TestContext;

let http: { port: number };
let syslog: Awaited<ReturnType<typeof udpService>>;
let dns: Awaited<ReturnType<typeof udpService>>;

before(async () => {
  if (skip) return;
  const root = await mkdtemp(path.join(os.tmpdir(), `${PREFIX}-`));
  await chmod(root, 0o755);
  cleanups.push(() => rm(root, { recursive: true, force: true }));
  dirs = { root, configDir: path.join(root, 'config'), socketDir: path.join(root, 'run') };
  await mkdir(dirs.configDir);
  await mkdir(dirs.socketDir, { mode: 0o755 });
  http = await httpService(ctx, 'node-http');
  syslog = await udpService(ctx);
  dns = await udpService(ctx, (msg) => ({
    data: Buffer.concat([Buffer.from('answer:'), msg]),
    delayMs: msg.toString().startsWith('slow') ? 800 : 0,
  }));
  const relays = [
    relayObject('web', { target: { host: '127.0.0.1', port: http.port }, listen: { port: HTTP_PORT } }),
    relayObject('syslog', {
      protocol: 'UDP',
      target: { host: '127.0.0.1', port: syslog.port },
      listen: { port: SYSLOG_PORT },
    }),
    relayObject('dns', {
      protocol: 'UDP',
      udp: { mode: 'RequestReply', replyTimeoutSeconds: 3 },
      target: { host: '127.0.0.1', port: dns.port },
      listen: { port: DNS_PORT },
    }),
  ];
  await writeRelay(dirs.configDir, 'web', {
    target: { host: '127.0.0.1', port: http.port },
    listen: { port: HTTP_PORT },
  });
  await writeRelay(dirs.configDir, 'syslog', {
    protocol: 'UDP',
    target: { host: '127.0.0.1', port: syslog.port },
    listen: { port: SYSLOG_PORT },
  });
  await writeRelay(dirs.configDir, 'dns', {
    protocol: 'UDP',
    udp: { mode: 'RequestReply', replyTimeoutSeconds: 3 },
    target: { host: '127.0.0.1', port: dns.port },
    listen: { port: DNS_PORT },
  });
  agent = await startAgent(ctx, dirs);
  for (const r of ['web', 'syslog', 'dns']) await waitRunning(dirs.socketDir, r);

  const injected = await injectSidecars(root, relays, ['web', 'syslog', 'dns'], dirs.socketDir);
  sidecars = new Map(injected.map((s) => [s.name, s]));
  assert.deepEqual([...sidecars.keys()].sort(), ['socat-dns', 'socat-syslog', 'socat-web']);
  for (const [relay, sc] of [...sidecars].map(([n, sc]) => [n.slice('socat-'.length), sc] as const)) {
    assert.equal(sc.command[0], 'socat');
    assert.deepEqual([sc.uid, sc.gid], [65532, 65532], 'the sidecar runs as the socket group, not root');
    assert.equal(sc.hostPath, `${dirs.socketDir}/${relay}`, "the volume is the relay's folder, not the socket file");
  }
  ns = NetNs.create(PREFIX);
  cleanups.push(() => ns.delete());
  for (const [relay, port, proto] of [
    ['web', HTTP_PORT, 'tcp'],
    ['syslog', SYSLOG_PORT, 'udp'],
    ['dns', DNS_PORT, 'udp'],
  ] as const) {
    const child = startSidecar(ns, sidecars.get(`socat-${relay}`)!);
    sidecarPids.push(child.pid!);
    await waitListening(ns, proto, port);
  }
});

after(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

/** An HTTP/1.0 GET from inside the pod with socat as the client. */
async function podGet(port: number, urlPath: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return ns.run('socat', ['-t3', '-T5', '-', `TCP4:127.0.0.1:${port}`], {
    input: `GET ${urlPath} HTTP/1.0\r\nHost: x\r\n\r\n`,
    timeoutMs: 8000,
  });
}

/** A node script run inside the pod's namespace (node is on this machine; the pod is only a netns). */
function podNode(script: string, arg: unknown, timeoutMs = 10_000) {
  return ns.run(process.execPath, ['-e', script, JSON.stringify(arg)], { timeoutMs });
}

test("the pod cannot reach the node's 127.0.0.1 service directly", { skip }, async () => {
  const r = await podGet(http.port, '/direct');
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /Connection refused/);
  assert.doesNotMatch(r.stdout, /node-http/);
});

test('TCP: an HTTP request through the injected sidecar reaches the node service', { skip }, async () => {
  const r = await podGet(HTTP_PORT, '/metrics');
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^HTTP\/1\.1 200/);
  assert.match(r.stdout, /node-http GET \/metrics$/);
});

const SIZES = Array.from({ length: 50 }, (_, i) => (i === 10 ? 9000 : i === 20 ? 60000 : i === 30 ? 1 : 100 + i * 37));

test('UDP one-way: 50 datagrams (1 B to 60000 B) arrive as 50 datagrams, none merged or cut', { skip }, async () => {
  syslog.received.length = 0;
  const script = `
    const dgram = require('node:dgram');
    const { port, sizes } = JSON.parse(process.argv[1]);
    const s = dgram.createSocket('udp4');
    (async () => {
      for (let i = 0; i < sizes.length; i++) {
        const b = Buffer.alloc(sizes[i], i % 251);
        if (b.length >= 4) b.writeUInt32BE(i, 0);
        await new Promise((r, j) => s.send(b, port, '127.0.0.1', (e) => (e ? j(e) : r())));
        await new Promise((r) => setTimeout(r, 3));
      }
      s.close();
    })().catch((e) => { console.error(e); process.exit(1); });`;
  const r = await podNode(script, { port: SYSLOG_PORT, sizes: SIZES });
  assert.equal(r.code, 0, r.stderr);
  await waitFor('50 datagrams', () => syslog.received.length >= SIZES.length, 5000);
  await new Promise((res) => setTimeout(res, 100)); // would a merged or extra datagram still show up?
  assert.deepEqual(
    syslog.received.map((b) => b.length),
    SIZES,
  );
  syslog.received.forEach((b, i) => {
    if (b.length >= 4) assert.equal(b.readUInt32BE(0), i, `datagram ${i} in order`);
    if (b.length > 4 || b.length === 1) assert.equal(b[b.length - 1], i % 251, `datagram ${i} intact to its last byte`);
  });
});

test('UDP request/response: replies reach the sender, including one slower than 0.5 s', { skip }, async () => {
  const script = `
    const dgram = require('node:dgram');
    const { port, queries } = JSON.parse(process.argv[1]);
    const ask = (q) => new Promise((resolve, reject) => {
      const s = dgram.createSocket('udp4');
      const t = setTimeout(() => { s.close(); reject(new Error('no reply to ' + q)); }, 4000);
      s.on('message', (m) => { clearTimeout(t); s.close(); resolve(m.toString()); });
      s.send(Buffer.from(q), port, '127.0.0.1');
    });
    Promise.all(queries.map(ask)).then((a) => console.log(JSON.stringify(a)), (e) => { console.error(e.message); process.exit(1); });`;
  const queries = ['q1', 'q2', 'q3', 'q4', 'q5', 'slow-1'];
  const started = Date.now();
  const r = await podNode(script, { port: DNS_PORT, queries });
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(
    JSON.parse(r.stdout),
    queries.map((q) => `answer:${q}`),
  );
  assert.ok(Date.now() - started >= 800, 'the slow reply really was slow');
});

test(
  'restarting the agent re-creates the sockets and the running sidecar keeps serving without a restart (the folder, not the socket, is mounted)',
  { skip },
  async (t) => {
    for (const p of sidecarPids) assert.equal(readFileSync(`/proc/${p}/comm`, 'utf8').trim(), 'socat');
    const before = await waitRunning(dirs.socketDir, 'web');
    // Stop the shared agent like a SIGTERM would (its socat removes the socket) and start a new one.
    await agent.stop();
    assert.equal(isAlive(before), false, 'the old socat is gone');
    const r1 = await podGet(HTTP_PORT, '/while-down');
    assert.doesNotMatch(r1.stdout, /node-http/, 'nothing answers while the agent is down');
    await startAgent(t, dirs);
    const after = await waitRunning(dirs.socketDir, 'web');
    assert.notEqual(after, before);
    const r2 = await waitFor('an answer through the same sidecar', async () => {
      const r = await podGet(HTTP_PORT, '/after-restart');
      return /node-http GET \/after-restart/.test(r.stdout) ? r : undefined;
    });
    assert.match(r2.stdout, /^HTTP\/1\.1 200/);
    for (const p of sidecarPids) assert.ok(isAlive(p), `sidecar process ${p} was not restarted`);
  },
);
