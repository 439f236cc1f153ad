// Nothing of ours is bound to an address of the node's network: the agent runs in the node's network
// namespace (hostNetwork), so a socket it or its socat leave unbound, or bound to 0.0.0.0 / ::, is a
// port open on every address of the node. A real agent (`socat-relay agent`) runs every kind of relay
// with real socat — TCP, UDP one-way and UDP request-reply, to IPv4, IPv6 and `localhost` targets —
// each relay carries traffic and holds its connection open, and the sockets of the agent and of all its
// socat processes (forked children included) are read from /proc (test/harness/node-sockets.ts):
// every one must be bound to 127.0.0.0/8 or ::1. Before the fix, one-way UDP (`UDP4-SENDTO:` without
// `bind=`) held 0.0.0.0:<ephemeral> after its first datagram.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { waitFor } from '../../harness/wait.js';
import { socatUnavailable } from '../../harness/agent.js';
import { required } from '../../harness/required.js';
import {
  describeSockets,
  offLoopback,
  socketsOf,
  withDescendants,
  type BoundSocket,
} from '../../harness/node-sockets.js';
import {
  agentDirs,
  cleanupDirs,
  sock,
  startAgentProcess,
  writeRelay,
  type AgentDirs,
  type AgentProcess,
} from '../../harness/agent-process.js';

const ipv6Missing = (): string | null => {
  const probe = spawnSync('ip', ['-6', 'addr', 'show', 'dev', 'lo'], { encoding: 'utf8' });
  return probe.stdout?.includes('::1/128') ? null : 'the loopback interface has no ::1 (IPv6 disabled)';
};
const skip = required(socatUnavailable() ?? ipv6Missing());

type Kind = 'tcp' | 'oneway' | 'reqrep';
interface Case {
  relay: string;
  kind: Kind;
  host: string;
}
const CASES: Case[] = [
  { relay: 'tcp4', kind: 'tcp', host: '127.0.0.1' },
  { relay: 'tcp6', kind: 'tcp', host: '::1' },
  { relay: 'tcp-localhost', kind: 'tcp', host: 'localhost' },
  { relay: 'oneway4', kind: 'oneway', host: '127.0.0.1' },
  { relay: 'oneway6', kind: 'oneway', host: '::1' },
  { relay: 'oneway-localhost', kind: 'oneway', host: 'localhost' },
  { relay: 'reqrep4', kind: 'reqrep', host: '127.0.0.1' },
  { relay: 'reqrep6', kind: 'reqrep', host: '::1' },
];

let dirs: AgentDirs;
let agent: AgentProcess;
const servers: Server[] = [];
const udp: Record<'4' | '6', { socket: UdpSocket; port: number; received: string[] }> = {} as never;
const open: net.Socket[] = [];

async function httpOn(host: string): Promise<number> {
  const s = createServer((req, res) => res.end(`node-http ${req.url}`));
  await new Promise<void>((r) => s.listen(0, host, r));
  servers.push(s);
  return (s.address() as AddressInfo).port;
}

async function udpOn(family: '4' | '6'): Promise<void> {
  const socket = createSocket(`udp${family}`);
  const received: string[] = [];
  socket.on('message', (msg, rinfo) => {
    received.push(msg.toString());
    if (msg.toString().startsWith('q:')) socket.send(`answer:${msg.toString()}`, rinfo.port, rinfo.address);
  });
  await new Promise<void>((r) => socket.bind(0, family === '4' ? '127.0.0.1' : '::1', r));
  udp[family] = { socket, port: socket.address().port, received };
}

const familyOf = (host: string): '4' | '6' => (host === '::1' ? '6' : '4');

before(async () => {
  if (skip) return;
  dirs = agentDirs('addresses');
  const http4 = await httpOn('127.0.0.1');
  const http6 = await httpOn('::1');
  await udpOn('4');
  await udpOn('6');
  for (const c of CASES) {
    const port = c.kind === 'tcp' ? (familyOf(c.host) === '6' ? http6 : http4) : udp[familyOf(c.host)].port;
    const extra: Record<string, unknown> = { target: { host: c.host, port } };
    if (c.kind !== 'tcp') extra.protocol = 'UDP';
    if (c.kind === 'reqrep') extra.udp = { mode: 'RequestReply', replyTimeoutSeconds: 30 };
    writeRelay(dirs, c.relay, port, extra);
  }
  agent = await startAgentProcess(dirs);
  await agent.waitStatus('every relay running', (s) => CASES.every((c) => s.relays[c.relay]?.running === true));
});

after(async () => {
  for (const s of open) s.destroy();
  await agent?.stop();
  for (const s of servers) {
    s.closeAllConnections();
    s.close();
  }
  for (const u of Object.values(udp)) u.socket.close();
  if (dirs) cleanupDirs(dirs);
});

/** Opens a stream to the relay's socket, writes `data` and resolves with the first answer; the stream stays open. */
async function exchange(path: string, data: string): Promise<string> {
  const c = net.connect({ path });
  open.push(c);
  await once(c, 'connect');
  c.write(data);
  const [chunk] = (await once(c, 'data')) as [Buffer];
  return chunk.toString();
}

/** Carries traffic through each relay, leaving its connection (and so socat's forked child) open. */
async function carryTraffic(c: Case): Promise<void> {
  const socket = sock(dirs, c.relay);
  if (c.kind === 'tcp') {
    const answer = await exchange(socket, `GET /${c.relay} HTTP/1.1\r\nHost: x\r\n\r\n`);
    assert.match(answer, new RegExp(`node-http /${c.relay}$`), `${c.relay}: the HTTP answer`);
  } else if (c.kind === 'reqrep') {
    assert.equal(await exchange(socket, `q:${c.relay}`), `answer:q:${c.relay}`, `${c.relay}: the reply`);
  } else {
    const sent = spawnSync('socat', ['-u', '-', `UNIX-SENDTO:${socket}`], {
      input: `d:${c.relay}`,
      encoding: 'utf8',
      timeout: 5000,
    });
    assert.equal(sent.status, 0, sent.stderr);
    await waitFor(
      `${c.relay}'s datagram at the service`,
      () => udp[familyOf(c.host)].received.includes(`d:${c.relay}`),
      5000,
    );
  }
}

test(
  'every kind of relay, IPv4, IPv6 and localhost targets: no socket of the agent or of its socat is bound off loopback',
  { skip },
  async () => {
    for (const c of CASES) await carryTraffic(c);
    const status = agent.status()!;
    const sockets = socketsOf(withDescendants([agent.pid]));
    const shown = describeSockets(sockets);
    // Not vacuous: each relay's socat holds the socket that reaches its target, of the target's family.
    const bySocat = (c: Case): BoundSocket[] => {
      const pids = new Set(withDescendants([status.relays[c.relay]!.pid!]));
      return sockets.filter((s) => pids.has(s.pid));
    };
    for (const c of CASES) {
      const own = bySocat(c);
      const proto = `${c.kind === 'tcp' ? 'tcp' : 'udp'}${familyOf(c.host) === '6' ? '6' : ''}`;
      assert.ok(
        own.some((s) => s.proto === proto),
        `${c.relay}: no ${proto} socket of its socat seen:\n${shown}`,
      );
    }
    assert.deepEqual(
      offLoopback(sockets),
      [],
      `sockets bound off loopback:\n${describeSockets(offLoopback(sockets))}\nall:\n${shown}`,
    );
    // The one-way relays' sockets carry the loopback address of their target's family, not a wildcard.
    for (const c of CASES.filter((x) => x.kind === 'oneway')) {
      assert.deepEqual(
        bySocat(c).map((s) => s.local.ip),
        [familyOf(c.host) === '6' ? '::1' : '127.0.0.1'],
        c.relay,
      );
    }
  },
);

test('the /proc reading agrees with ss -tuanp for the socat processes', { skip }, () => {
  const ss = spawnSync('ss', ['-tuanpH'], { encoding: 'utf8' });
  if (ss.status !== 0) return; // ss (iproute2) missing: the /proc reading above stands alone
  const status = agent.status()!;
  const pids = new Set(withDescendants(CASES.map((c) => status.relays[c.relay]!.pid!)));
  const mine = socketsOf(pids);
  const fromSs = ss.stdout.split('\n').filter((l) => [...pids].some((p) => l.includes(`pid=${p},`)));
  for (const s of mine) {
    const local = `${s.local.ip.includes(':') ? `[${s.local.ip}]` : s.local.ip}:${s.local.port}`;
    // ss writes the IPv6 wildcard [::] as *.
    const ssLocal = (l: string) => l.split(/\s+/)[4]?.replace(/^\*:/, '[::]:');
    assert.ok(
      fromSs.some((l) => ssLocal(l) === local),
      `ss does not show ${local} of pid ${s.pid}:\n${fromSs.join('\n')}`,
    );
  }
});
