// The node agent with real socat processes on this machine: serving, supervision, config changes,
// bad files, removal, socket permissions, stale sockets, the CLI's SIGTERM and missing-socat paths.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { run as runAgent } from '../../../cli/agent.js';
import { socketPath } from '../../../relay/index.js';
import {
  defer,
  getViaSocket,
  httpService,
  isAlive,
  readStatusFile,
  socatUnavailable,
  SOCKET_GID,
  startAgent,
  tempDirs,
  waitFor,
  waitRunning,
  writeRelay,
} from '../../harness/agent.js';
import { required } from '../../harness/required.js';

const noSocat = socatUnavailable();
const notRoot = process.getuid?.() !== 0 ? 'needs root (chown of the socket to the socket group)' : null;
const skip = required(noSocat, notRoot);
const noSetpriv = spawnSync('setpriv', ['--version']).status !== 0 ? 'setpriv (util-linux) missing' : null;
const ROOT = path.resolve(import.meta.dirname, '../../..');

test(
  'a TCP relay serves the node service on its socket, mode 0660 with the socket group, folder 0750',
  { skip },
  async (t) => {
    const dirs = await tempDirs(t, 'agent-tcp');
    const svc = await httpService(t, 'sched');
    await writeRelay(dirs.configDir, 'sched', { target: { host: '127.0.0.1', port: svc.port } });
    await startAgent(t, dirs);
    const pid = await waitRunning(dirs.socketDir, 'sched');
    const sock = socketPath(dirs.socketDir, 'sched');
    await waitFor('socket', () => existsSync(sock));
    assert.equal(await getViaSocket(sock, '/metrics'), 'sched GET /metrics');
    const st = statSync(sock);
    assert.ok(st.isSocket());
    assert.equal(st.mode & 0o777, 0o660);
    assert.equal(st.gid, SOCKET_GID);
    const dir = statSync(path.dirname(sock));
    assert.equal(dir.mode & 0o777, 0o750);
    assert.equal(dir.gid, SOCKET_GID);
    assert.ok(isAlive(pid));
    await waitFor('a counted connection', () => (readStatusFile(dirs.socketDir).relays.sched?.connections ?? 0) >= 1);
  },
);

test('a socat killed with SIGKILL is back and serving within 2 s, with restarts = 1', { skip }, async (t) => {
  const dirs = await tempDirs(t, 'agent-kill');
  const svc = await httpService(t, 'k');
  await writeRelay(dirs.configDir, 'k', { target: { host: '127.0.0.1', port: svc.port } });
  const agent = await startAgent(t, dirs);
  const pid = await waitRunning(dirs.socketDir, 'k');
  const sock = socketPath(dirs.socketDir, 'k');
  await waitFor('first answer', () => getViaSocket(sock));
  const killedAt = Date.now();
  process.kill(pid, 'SIGKILL');
  const pid2 = await waitRunning(dirs.socketDir, 'k', pid, 2000);
  assert.equal(
    await waitFor('answer after the restart', () => getViaSocket(sock), 2000 - (Date.now() - killedAt)),
    'k GET /',
  );
  assert.ok(Date.now() - killedAt < 2000, `back after ${Date.now() - killedAt} ms`);
  assert.notEqual(pid2, pid);
  const st = readStatusFile(dirs.socketDir).relays.k!;
  assert.equal(st.restarts, 1);
  assert.match(st.lastError ?? '', /SIGKILL/);
  const metrics = await agent.registry.metrics();
  assert.match(metrics, /socat_relay_agent_restarts_total\{relay="k"\} 1/);
});

test("changing one relay's target port restarts only that relay; the other keeps its pid", { skip }, async (t) => {
  const dirs = await tempDirs(t, 'agent-change');
  const [one, two, three] = [await httpService(t, 'one'), await httpService(t, 'two'), await httpService(t, 'three')];
  await writeRelay(dirs.configDir, 'a', { target: { host: '127.0.0.1', port: one.port } });
  await writeRelay(dirs.configDir, 'b', { target: { host: '127.0.0.1', port: three.port } });
  await startAgent(t, dirs);
  const a1 = await waitRunning(dirs.socketDir, 'a');
  const b1 = await waitRunning(dirs.socketDir, 'b');
  assert.equal(await waitFor('a answers', () => getViaSocket(socketPath(dirs.socketDir, 'a'))), 'one GET /');
  await writeRelay(dirs.configDir, 'a', { target: { host: '127.0.0.1', port: two.port } });
  const a2 = await waitRunning(dirs.socketDir, 'a', a1);
  assert.notEqual(a2, a1);
  assert.equal(
    await waitFor('a answers from the new port', () => getViaSocket(socketPath(dirs.socketDir, 'a'))),
    'two GET /',
  );
  const st = readStatusFile(dirs.socketDir);
  assert.equal(st.relays.b!.pid, b1, 'b was not restarted');
  assert.ok(isAlive(b1));
  assert.equal(st.relays.a!.restarts, 0, 'a config change is a new start, not a crash restart');
  // Rewriting a file with the same content restarts nothing.
  await writeRelay(dirs.configDir, 'a', { target: { host: '127.0.0.1', port: two.port } });
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(readStatusFile(dirs.socketDir).relays.a!.pid, a2);
});

test('a corrupt file is reported in status.json and skipped; the running relay keeps its pid', { skip }, async (t) => {
  const dirs = await tempDirs(t, 'agent-corrupt');
  const svc = await httpService(t, 'ok');
  await writeRelay(dirs.configDir, 'ok', { target: { host: '127.0.0.1', port: svc.port } });
  const agent = await startAgent(t, dirs);
  const pid = await waitRunning(dirs.socketDir, 'ok');
  await writeFile(
    path.join(dirs.configDir, 'broken.yaml'),
    'apiVersion: socat.io/v1alpha1\nkind: Relay\nmetadata: {name: broken\n',
  );
  await writeRelay(dirs.configDir, 'meta', { target: { host: '169.254.169.254', port: 80 } });
  const st = await waitFor('both files reported', () => {
    const s = readStatusFile(dirs.socketDir);
    return s.files['broken.yaml'] && s.files['meta.yaml'] ? s : undefined;
  });
  assert.match(st.files['meta.yaml']!.error, /spec\.target\.host/);
  assert.equal(st.files['meta.yaml']!.relay, 'meta');
  assert.deepEqual(Object.keys(st.relays), ['ok']);
  assert.equal(st.relays.ok!.pid, pid);
  assert.equal(await getViaSocket(socketPath(dirs.socketDir, 'ok')), 'ok GET /');
  assert.match(await agent.registry.metrics(), /socat_relay_agent_config_file_errors 2/);
});

test(
  "removing a relay's file stops its socat and removes its socket; the folder stays for mounted consumers",
  { skip },
  async (t) => {
    const dirs = await tempDirs(t, 'agent-remove');
    const svc = await httpService(t, 'gone');
    const file = await writeRelay(dirs.configDir, 'gone', { target: { host: '127.0.0.1', port: svc.port } });
    await startAgent(t, dirs);
    const pid = await waitRunning(dirs.socketDir, 'gone');
    const sock = socketPath(dirs.socketDir, 'gone');
    await waitFor('socket', () => existsSync(sock));
    await rm(file);
    await waitFor('relay gone from status', () => readStatusFile(dirs.socketDir).relays.gone === undefined);
    await waitFor('socat gone', () => !isAlive(pid));
    assert.equal(existsSync(sock), false);
    assert.equal(existsSync(path.dirname(sock)), true);
  },
);

test(
  'a socat that keeps exiting is restarted with doubling delays, and its error is reported',
  { skip: required(noSocat) },
  async (t) => {
    const dirs = await tempDirs(t, 'agent-backoff');
    await writeRelay(dirs.configDir, 'flaky', { target: { host: '127.0.0.1', port: 9 } });
    const delays: number[] = [];
    // Every timer of the agent goes through this seam; only the restart delays are recorded: the
    // others (debounce and status pause 50, orphan poll 20, stop grace and a missing folder's tick 1000,
    // resync 2000, socket check 5000, a watched folder's tick 10 000) run as asked.
    const others = new Set([1000, 2000, 5000, 10_000]);
    const schedule = (fn: () => void, ms: number): (() => void) => {
      if (ms < 200 || others.has(ms)) {
        const h = setTimeout(fn, ms);
        return () => clearTimeout(h);
      }
      delays.push(ms);
      if (delays.length > 4) return () => undefined; // hold the 5th restart: the relay stays down
      const h = setTimeout(fn, 5); // run restarts quickly; the requested delays are what is checked
      return () => clearTimeout(h);
    };
    // /bin/false stands in for a socat that fails at once (e.g. a bad address).
    await startAgent(t, dirs, { socatPath: '/bin/false', schedule });
    await waitFor('four restarts and a fifth exit in the status file', () => {
      const r = readStatusFile(dirs.socketDir).relays.flaky;
      return delays.length === 5 && r?.running === false && r.restarts === 4;
    });
    assert.deepEqual(delays, [200, 400, 800, 1600, 3200]);
    const st = readStatusFile(dirs.socketDir).relays.flaky!;
    assert.equal(st.running, false);
    assert.match(st.lastError ?? '', /exited with code 1/);
  },
);

const permCases: { name: string; groups: string; connects: boolean }[] = [
  { name: 'a non-root user outside the socket group is refused', groups: '--clear-groups', connects: false },
  {
    name: 'a non-root user holding the socket group as a supplementary group connects',
    groups: `--groups=${SOCKET_GID}`,
    connects: true,
  },
];
for (const c of permCases) {
  test(`socket permissions: ${c.name}`, { skip: required(noSocat, notRoot, noSetpriv) }, async (t) => {
    const dirs = await tempDirs(t, 'agent-perm');
    const svc = await httpService(t, 'perm');
    await writeRelay(dirs.configDir, 'perm', { target: { host: '127.0.0.1', port: svc.port } });
    await startAgent(t, dirs);
    await waitRunning(dirs.socketDir, 'perm');
    const sock = socketPath(dirs.socketDir, 'perm');
    await waitFor('socket', () => existsSync(sock));
    // Asynchronously: the node service lives in this process, so a blocking spawnSync would starve it.
    const r = await runAsync(
      'setpriv',
      ['--reuid=65533', '--regid=65533', c.groups, 'socat', '-t3', '-T5', '-', `UNIX-CONNECT:${sock}`],
      'GET /p HTTP/1.0\r\n\r\n',
    );
    if (c.connects) {
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stdout, /perm GET \/p/, `stderr: ${r.stderr}`);
    } else {
      assert.notEqual(r.status, 0);
      assert.match(r.stderr, /Permission denied/);
    }
  });
}

test(
  "on start, stale sockets are handled: a configured relay starts over its old socket, an unconfigured relay's folder is emptied",
  { skip },
  async (t) => {
    const dirs = await tempDirs(t, 'agent-stale');
    const svc = await httpService(t, 'live');
    await writeRelay(dirs.configDir, 'live', { target: { host: '127.0.0.1', port: svc.port } });
    // Leftovers of a crashed agent: a stale socket file for each relay folder.
    for (const r of ['live', 'old']) {
      await mkdir(path.join(dirs.socketDir, r), { recursive: true });
      spawnSync('socat', [`UNIX-LISTEN:${socketPath(dirs.socketDir, r)}`, 'STDIO'], {
        timeout: 300,
        killSignal: 'SIGKILL',
        input: '',
      });
      assert.ok(statSync(socketPath(dirs.socketDir, r)).isSocket(), 'a stale socket was left behind');
      await writeFile(path.join(dirs.socketDir, r, 'leftover'), 'x');
    }
    await writeFile(path.join(dirs.socketDir, 'not-a-relay.txt'), 'keep me');
    await startAgent(t, dirs);
    await waitRunning(dirs.socketDir, 'live');
    assert.equal(await waitFor('live answers', () => getViaSocket(socketPath(dirs.socketDir, 'live'))), 'live GET /');
    assert.equal(existsSync(socketPath(dirs.socketDir, 'old')), false);
    assert.equal(existsSync(path.join(dirs.socketDir, 'old', 'leftover')), false);
    assert.equal(existsSync(path.join(dirs.socketDir, 'not-a-relay.txt')), true);
  },
);

function runAsync(
  cmd: string,
  args: string[],
  input: string,
): Promise<{ status: number | null; stdout: string; stderr: string }> {
  const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => {
    stdout += d.toString();
  });
  child.stderr.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  child.stdin.end(input);
  const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
  return new Promise((resolve) =>
    child.once('close', (status) => {
      clearTimeout(timer);
      resolve({ status, stdout, stderr });
    }),
  );
}

/**
 * Stops an agent process gracefully (SIGTERM stops its socats, which run in their own process groups), SIGKILL after 5
 * s.
 */
async function stopCli(child: ReturnType<typeof spawn>): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
  await exited;
  clearTimeout(timer);
}

function runCli(args: string[], env: NodeJS.ProcessEnv): ReturnType<typeof spawn> {
  return spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'cli/main.ts'), ...args], {
    cwd: ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

test('a config folder that does not exist at start is picked up once it appears (resync)', { skip }, async (t) => {
  const dirs = await tempDirs(t, 'agent-late');
  await rm(dirs.configDir, { recursive: true });
  const svc = await httpService(t, 'late');
  const agent = await startAgent(t, dirs, { resyncMs: 200 });
  assert.deepEqual(agent.status()?.relays, {});
  await mkdir(dirs.configDir);
  await writeRelay(dirs.configDir, 'late', { target: { host: '127.0.0.1', port: svc.port } });
  await waitRunning(dirs.socketDir, 'late');
  assert.equal(await waitFor('late answers', () => getViaSocket(socketPath(dirs.socketDir, 'late'))), 'late GET /');
});

test('socat-relay agent: SIGTERM stops every socat and exits 0', { skip }, async (t) => {
  const dirs = await tempDirs(t, 'agent-cli');
  const svc = await httpService(t, 'cli');
  await writeRelay(dirs.configDir, 'c1', { target: { host: '127.0.0.1', port: svc.port } });
  await writeRelay(dirs.configDir, 'c2', { protocol: 'UDP', target: { host: '127.0.0.1', port: 5514 } });
  const child = runCli(
    ['agent', '--config-dir', dirs.configDir, '--socket-dir', dirs.socketDir, '--listen', '127.0.0.1:0'],
    process.env,
  );
  defer(t, () => stopCli(child));
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  const pids = [
    await waitRunning(dirs.socketDir, 'c1', undefined, 15_000),
    await waitRunning(dirs.socketDir, 'c2', undefined, 15_000),
  ];
  child.kill('SIGTERM');
  assert.equal(await exited, 0, stderr);
  for (const p of pids) assert.equal(isAlive(p), false, `socat ${p} still running`);
  assert.equal(existsSync(socketPath(dirs.socketDir, 'c1')), false);
  const st = readStatusFile(dirs.socketDir);
  assert.equal(st.relays.c1?.running, false);
});

test(
  "a second agent on the same listen address (a rollout's new pod) shares it and takes the socket over; the first, stopped, leaves it in place",
  { skip },
  async (t) => {
    const dirs = await tempDirs(t, 'agent-twice');
    const svc = await httpService(t, 'first');
    await writeRelay(dirs.configDir, 'one', { target: { host: '127.0.0.1', port: svc.port } });
    const first = runCli(
      ['agent', '--config-dir', dirs.configDir, '--socket-dir', dirs.socketDir, '--listen', '127.0.0.1:0'],
      process.env,
    );
    defer(t, () => stopCli(first));
    let log = '';
    first.stdout?.on('data', (d: Buffer) => {
      log += d.toString();
    });
    const pid = await waitRunning(dirs.socketDir, 'one', undefined, 15_000);
    const port = await waitFor("the first agent's port", () => /"address":"127\.0\.0\.1:(\d+)"/.exec(log)?.[1]);
    const sock = socketPath(dirs.socketDir, 'one');
    await waitFor('socket', () => existsSync(sock));
    const inode = statSync(sock).ino;
    const second = runCli(
      ['agent', '--config-dir', dirs.configDir, '--socket-dir', dirs.socketDir, '--listen', `127.0.0.1:${port}`],
      process.env,
    );
    defer(t, () => stopCli(second));
    const taken = await waitFor(
      'the second agent took the socket over',
      () => statSync(sock).ino !== inode && statSync(sock).ino,
      15_000,
    );
    assert.ok(isAlive(pid), "the first agent's socat keeps running until its agent stops");
    first.kill('SIGTERM');
    assert.equal(await new Promise<number | null>((r) => first.once('exit', (c) => r(c))), 0);
    assert.equal(statSync(sock).ino, taken, "the first agent's exit left the second's socket in place");
    assert.equal(await getViaSocket(sock), 'first GET /');
  },
);

test(
  'an agent killed with SIGKILL leaves its socat running; the next agent stops it and serves with its own',
  { skip },
  async (t) => {
    const dirs = await tempDirs(t, 'agent-orphan');
    const svc = await httpService(t, 'orphan');
    await writeRelay(dirs.configDir, 'o', { target: { host: '127.0.0.1', port: svc.port } });
    const first = runCli(
      ['agent', '--config-dir', dirs.configDir, '--socket-dir', dirs.socketDir, '--listen', 'off'],
      process.env,
    );
    defer(t, () => stopCli(first));
    const old = await waitRunning(dirs.socketDir, 'o', undefined, 15_000);
    defer(t, () => {
      try {
        process.kill(old, 'SIGKILL');
      } catch {
        /* gone, as expected */
      }
    });
    first.kill('SIGKILL');
    await new Promise((r) => first.once('exit', r));
    assert.ok(isAlive(old), 'socat runs in its own process group and outlives a killed agent');
    const second = runCli(
      ['agent', '--config-dir', dirs.configDir, '--socket-dir', dirs.socketDir, '--listen', 'off'],
      process.env,
    );
    defer(t, () => stopCli(second));
    const fresh = await waitRunning(dirs.socketDir, 'o', old, 15_000);
    await waitFor(
      'the orphan gone',
      () => !isAlive(old) || /State:\s+Z/.test(readFileSync(`/proc/${old}/status`, 'utf8')),
    );
    assert.notEqual(fresh, old);
    assert.equal(
      await waitFor('an answer from the new socat', () => getViaSocket(socketPath(dirs.socketDir, 'o'))),
      'orphan GET /',
    );
  },
);

test('socat-relay agent without socat on PATH exits 1 saying how to install it', async (t) => {
  const dirs = await tempDirs(t, 'agent-nosocat');
  const child = runCli(['agent', '--config-dir', dirs.configDir, '--socket-dir', dirs.socketDir, '--listen', 'off'], {
    ...process.env,
    PATH: dirs.root,
  });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  const code = await new Promise<number | null>((r) => child.once('exit', (c) => r(c)));
  assert.equal(code, 1);
  assert.match(stderr, /socat not found on PATH/);
  assert.match(stderr, /apt-get install socat/);
});

test(
  'the status file is a heartbeat: rewritten at every resync with heartbeatSeconds, also when nothing changed',
  { skip: required(noSocat) },
  async (t) => {
    const dirs = await tempDirs(t, 'hb');
    await startAgent(t, dirs, { resyncMs: 500 });
    const first = await waitFor('a status file', () => {
      try {
        return readStatusFile(dirs.socketDir);
      } catch {
        return undefined;
      }
    });
    assert.equal(first.agent.heartbeatSeconds, 0.5);
    const later = await waitFor(
      'updatedAt to move',
      () => {
        const s = readStatusFile(dirs.socketDir);
        return Date.parse(s.agent.updatedAt) > Date.parse(first.agent.updatedAt) ? s : undefined;
      },
      5000,
    );
    assert.deepEqual(later.relays, first.relays);
  },
);

test('socat-relay agent with a bad --listen exits 2, naming the flag, before touching anything', async () => {
  let stderr = '';
  const io = {
    stdin: process.stdin,
    stdout: { write: () => true },
    stderr: {
      write: (x: string) => {
        stderr += x;
        return true;
      },
    },
    env: {},
  };
  assert.equal(await runAgent(['--config-dir', '/nonexistent/relays.d', '--listen', '127.0.0.1:99999'], io), 2);
  assert.match(
    stderr,
    /^agent: invalid agent settings:\n {2}--listen: expected HOST:PORT, e\.g\. 127\.0\.0\.1:9465 .*, got "127\.0\.0\.1:99999"\n/,
  );
});
