// The node side's socat command lines, written out in full for each kind of relay and each target
// family: what the agent runs on the host network. Every UDP address binds the loopback address of its
// target's family (without bind= the kernel binds the socket to 0.0.0.0:<ephemeral> at the first
// send); TCP connects to a loopback target and so gets a loopback source (no bind=: see relay/socat.ts).
// test/host/security/node-addresses.test.ts checks the resulting sockets with real socat.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { nodeArgv, resolveRelay } from '../../../relay/index.js';

const relay = (host: string, spec: Record<string, unknown> = {}) =>
  resolveRelay({
    apiVersion: 'socat.io/v1alpha1',
    kind: 'Relay',
    metadata: { name: 'r' },
    spec: { target: { host, port: 514 }, consumers: { namespaces: ['monitoring'] }, ...spec },
  });
const OPTS = { socketDir: '/run/socat-relay', socketGid: 65532 };
const LISTEN = 'UNIX-LISTEN:/run/socat-relay/r/socket,fork,unlink-early,mode=0660,group=65532,backlog=1024';
const RECV = 'UNIX-RECV:/run/socat-relay/r/socket,unlink-early,mode=0660,group=65532,rcvbuf=4194304';
const ONE_WAY = { protocol: 'UDP', udp: { mode: 'OneWay' } };
const REQ_REP = { protocol: 'UDP', udp: { mode: 'RequestReply', replyTimeoutSeconds: 5 } };

const CASES: [string, string, Record<string, unknown>, string[]][] = [
  ['TCP to 127.0.0.1', '127.0.0.1', {}, ['-t10', '-b131072', LISTEN, 'TCP4:127.0.0.1:514,nodelay']],
  ['TCP to ::1', '::1', {}, ['-t10', '-b131072', LISTEN, 'TCP6:[::1]:514,nodelay']],
  ['TCP to localhost (never resolved)', 'localhost', {}, ['-t10', '-b131072', LISTEN, 'TCP4:127.0.0.1:514,nodelay']],
  [
    'UDP one-way to 127.0.0.1',
    '127.0.0.1',
    ONE_WAY,
    ['-b65536', '-u', RECV, 'UDP4-SENDTO:127.0.0.1:514,bind=127.0.0.1'],
  ],
  [
    'UDP one-way to another 127/8 address',
    '127.0.0.53',
    ONE_WAY,
    ['-b65536', '-u', RECV, 'UDP4-SENDTO:127.0.0.53:514,bind=127.0.0.1'],
  ],
  ['UDP one-way to ::1', '::1', ONE_WAY, ['-b65536', '-u', RECV, 'UDP6-SENDTO:[::1]:514,bind=[::1]']],
  [
    'UDP one-way to localhost',
    'localhost',
    ONE_WAY,
    ['-b65536', '-u', RECV, 'UDP4-SENDTO:127.0.0.1:514,bind=127.0.0.1'],
  ],
  [
    'UDP request-reply to 127.0.0.1',
    '127.0.0.1',
    REQ_REP,
    ['-t5', '-b65536', LISTEN, 'UDP4:127.0.0.1:514,bind=127.0.0.1'],
  ],
  ['UDP request-reply to ::1', '::1', REQ_REP, ['-t5', '-b65536', LISTEN, 'UDP6:[::1]:514,bind=[::1]']],
];

for (const [name, host, spec, argv] of CASES) {
  test(`node argv: ${name}`, () => {
    assert.deepEqual(nodeArgv(relay(host, spec), OPTS), argv);
  });
}

test('node argv: UDP without a mode is one-way, and binds loopback too', () => {
  assert.deepEqual(
    nodeArgv(relay('127.0.0.1', { protocol: 'UDP' }), OPTS).at(-1),
    'UDP4-SENDTO:127.0.0.1:514,bind=127.0.0.1',
  );
});
