// The socket handoff's parts (node-agent/handoff.ts) and the agent's use of them: the temporary name, the
// argv it binds, the kernel's table read, the orphan rules around a running previous agent, and a real
// agent binding again a socket path someone removed.
import { required } from '../../harness/required.js';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync, statSync } from 'node:fs';
import { nodeArgv, resolveRelay, socketPath } from '../../../relay/index.js';
import {
  bindName,
  expectedOwnership,
  isBindNameOf,
  listenPath,
  unixTableReady,
  withBindPath,
} from '../../../node-agent/handoff.js';
import { agentRunning, orphanPids } from '../../../node-agent/orphans.js';
import type { AgentStatus } from '../../../node-contract/index.js';
import {
  getViaSocket,
  httpService,
  relayObject,
  socatUnavailable,
  startAgent,
  tempDirs,
  waitFor,
  writeRelay,
} from '../../harness/agent.js';

const SOCKET = '/run/socat-relay/web/0f3c/socket';

test('bindName: a hidden name beside the socket, 8 hex digits; isBindNameOf recognises only those', () => {
  assert.equal(bindName(SOCKET, '0123abcd'), '/run/socat-relay/web/0f3c/.socket.0123abcd');
  assert.match(bindName(SOCKET), /^\/run\/socat-relay\/web\/0f3c\/\.socket\.[0-9a-f]{8}$/);
  assert.notEqual(bindName(SOCKET), bindName(SOCKET));
  assert.ok(isBindNameOf(bindName(SOCKET), SOCKET));
  for (const other of [SOCKET, `${SOCKET}.0123abcd`, '/run/socat-relay/web/.socket.0123abcd', bindName(SOCKET, 'xyz')])
    assert.ok(!isBindNameOf(other, SOCKET), other);
});

const relay = (spec: object) =>
  resolveRelay(relayObject('web', { target: { host: '127.0.0.1', port: 8080 }, ...spec }));

test('withBindPath: the listening address of every node argv (TCP, UDP one-way, UDP request/reply) moves to the temporary name, options kept', () => {
  for (const spec of [{}, { protocol: 'UDP' }, { protocol: 'UDP', udp: { mode: 'RequestReply' } }]) {
    const argv = nodeArgv(relay(spec), { socketDir: '/run/socat-relay', socketGid: 65532 });
    const socket = socketPath('/run/socat-relay', 'web');
    assert.equal(listenPath(argv), socket, JSON.stringify(spec));
    const moved = withBindPath(argv, bindName(socket, '0123abcd'));
    const changed = moved.filter((a, i) => a !== argv[i]);
    assert.equal(changed.length, 1, JSON.stringify(moved));
    assert.equal(changed[0], argv.find((a) => a.includes(socket))!.replace(socket, bindName(socket, '0123abcd')));
    assert.deepEqual(expectedOwnership(argv), { mode: 0o660, gid: 65532 });
  }
  assert.equal(
    listenPath(['-u', 'UDP4-RECV:514', 'UNIX-SENDTO:/x/socket']),
    undefined,
    'a sidecar does not listen on a Unix socket',
  );
});

test('unixTableReady: a stream socket only once it listens (flag 00010000), a datagram socket once bound; only its exact path', () => {
  const table = [
    'Num       RefCount Protocol Flags    Type St Inode Path',
    '0000000000000000: 00000002 00000000 00000000 0001 01 100 /r/a/.socket.00000001',
    '0000000000000000: 00000002 00000000 00010000 0001 01 101 /r/b/.socket.00000002',
    '0000000000000000: 00000002 00000000 00000000 0002 01 102 /r/c/.socket.00000003',
  ].join('\n');
  assert.equal(unixTableReady(table, '/r/a/.socket.00000001'), false, 'bound, not yet listening');
  assert.equal(unixTableReady(table, '/r/b/.socket.00000002'), true);
  assert.equal(unixTableReady(table, '/r/c/.socket.00000003'), true, 'datagram');
  assert.equal(unixTableReady(table, '/r/b/.socket.0000000'), false);
});

const status = (pid: number, relays: AgentStatus['relays']): AgentStatus =>
  ({ agent: { pid }, relays }) as unknown as AgentStatus;

test('orphans: a socat bound at a temporary name of its socket counts; a previous agent that still runs keeps its socats', () => {
  const prev = status(100, { web: { running: true, pid: 7, socket: SOCKET } as never });
  const cmd: Record<number, string[]> = {
    7: ['/usr/bin/socat', '-d', '-d', `UNIX-LISTEN:${bindName(SOCKET, '0123abcd')},fork`, 'TCP4:127.0.0.1:8080'],
    100: ['node', '/app/dist/cli/main.js', 'agent', '--config-dir=/etc/socat-relay/relays.d'],
  };
  assert.deepEqual(
    orphanPids(prev, (p) => cmd[p], 999),
    [7],
  );
  assert.equal(
    agentRunning(prev, (p) => cmd[p], 999),
    true,
    'the rollout: the old agent runs',
  );
  assert.equal(
    agentRunning(prev, () => undefined, 999),
    false,
    'it is gone',
  );
  assert.equal(
    agentRunning(prev, (p) => cmd[p], 100),
    false,
    'its pid is this agent (another pid namespace)',
  );
  assert.equal(
    agentRunning(prev, () => ['/usr/bin/socat', 'agent'], 999),
    false,
    'a socat is no agent',
  );
  assert.equal(
    agentRunning(undefined, (p) => cmd[p], 999),
    false,
  );
});

test(
  'a socket path removed by someone else (an agent from before the handoff stopping) is bound again at once, each time',
  { skip: required(process.getuid?.() !== 0 && 'needs root (socket group)', socatUnavailable()) },
  async (t) => {
    const dirs = await tempDirs(t, 'agent-rebind');
    const svc = await httpService(t, 'node');
    await writeRelay(dirs.configDir, 'web', { target: { host: '127.0.0.1', port: svc.port } });
    await startAgent(t, dirs);
    const sock = socketPath(dirs.socketDir, 'web');
    await waitFor('the socket answers', () =>
      getViaSocket(sock).then(
        (b) => b === 'node GET /',
        () => false,
      ),
    );
    // The socket folder's watch finds the removal: the periodic check (every 5 s) is only its backstop,
    // so a rebind within a second shows the watch; twice, so the watch outlives the first rebind.
    for (const round of [1, 2]) {
      rmSync(sock);
      const t0 = Date.now();
      await waitFor(
        `the socket bound again (${round})`,
        () => statSync(sock, { throwIfNoEntry: false })?.isSocket(),
        4000,
      );
      const took = Date.now() - t0;
      // The path was removed, so whatever listens there now was bound again (a freed inode number may be
      // handed out again, so the inode says nothing).
      assert.equal(await getViaSocket(sock), 'node GET /');
      assert.ok(took < 1000, `round ${round}: ${took} ms`);
    }
  },
);
