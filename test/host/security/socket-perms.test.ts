// The relay socket is not world-connectable: a real agent makes the socket (mode 0660, group 65532) in
// a folder of mode 0750 owned by that group; real connections from other uids (setpriv): a non-root
// process outside the group is refused, the same uid holding the supplementary group 65532 (what the
// sidecar runs as) gets through, and a listing of the socket root shows nothing to an outsider.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { statSync } from 'node:fs';
import path from 'node:path';
import { waitFor } from '../../harness/wait.js';
import {
  agentDirs,
  cleanupDirs,
  sock,
  startAgentProcess,
  writeRelay,
  type AgentDirs,
  type AgentProcess,
} from '../../harness/agent-process.js';
import { startEcho, type EchoServer } from '../../harness/net.js';

const GID = 65532;
const OUTSIDER = 65533;
let dirs: AgentDirs;
let echo: EchoServer;
let agent: AgentProcess;

before(async () => {
  dirs = agentDirs('perms');
  echo = await startEcho();
  writeRelay(dirs, 'guarded', echo.port);
  agent = await startAgentProcess(dirs);
  await agent.waitStatus('guarded running', (s) => s.relays.guarded?.running === true);
  await waitFor(
    'the socket bound',
    () => {
      try {
        return statSync(sock(dirs, 'guarded')).isSocket();
      } catch {
        return false;
      }
    },
    { timeoutMs: 10_000 },
  );
});

after(async () => {
  await agent?.stop();
  await echo?.close();
  cleanupDirs(dirs);
});

/**
 * One request/response through the socket as another user: `setpriv … socat - UNIX-CONNECT:…`, run
 * asynchronously (the echo target lives in this process and must keep answering).
 */
async function connectAs(uid: number, groups: number[] | 'clear'): Promise<{ ok: boolean; out: string; err: string }> {
  const g = groups === 'clear' ? ['--clear-groups'] : [`--groups=${groups.join(',')}`];
  const child = spawn(
    'setpriv',
    [`--reuid=${uid}`, `--regid=${uid}`, ...g, 'socat', '-t2', '-', `UNIX-CONNECT:${sock(dirs, 'guarded')}`],
    { stdio: ['pipe', 'pipe', 'pipe'] },
  );
  let out = '';
  let err = '';
  child.stdout.on('data', (c: Buffer) => {
    out += c.toString();
  });
  child.stderr.on('data', (c: Buffer) => {
    err += c.toString();
  });
  child.stdin.on('error', () => undefined); // a refused socat may exit before it reads its input (EPIPE)
  child.stdin.end('hello\n');
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  const [code] = (await once(child, 'exit')) as [number | null];
  clearTimeout(timer);
  return { ok: code === 0 && out === 'hello\n', out, err: err.trim().split('\n').at(-1) ?? '' };
}

test('the socket is 0660 root:65532 and its folder 0750 root:65532', () => {
  const s = statSync(sock(dirs, 'guarded'));
  const d = statSync(path.dirname(sock(dirs, 'guarded')));
  console.log(
    `[socket-perms] socket mode ${(s.mode & 0o777).toString(8)} uid ${s.uid} gid ${s.gid}; folder mode ${(d.mode & 0o777).toString(8)} gid ${d.gid}`,
  );
  assert.ok(s.isSocket());
  assert.equal(s.mode & 0o777, 0o660);
  assert.equal(s.gid, GID);
  assert.equal(d.mode & 0o007, 0, 'the relay folder is open to others');
  assert.equal(d.gid, GID);
});

test(`a non-root process outside the socket group (uid ${OUTSIDER}, no groups) is refused`, async () => {
  const r = await connectAs(OUTSIDER, 'clear');
  console.log(`[socket-perms] uid ${OUTSIDER} without group: ${r.ok ? 'CONNECTED' : `refused (${r.err})`}`);
  assert.equal(r.ok, false);
  assert.match(r.err, /Permission denied/);
});

test(`a non-root process outside the group but with another supplementary group (65534) is refused`, async () => {
  const r = await connectAs(OUTSIDER, [65534]);
  assert.equal(r.ok, false);
  assert.match(r.err, /Permission denied/);
});

test(`the same uid holding group ${GID} (as the sidecar does) connects and gets its echo`, async () => {
  const r = await connectAs(OUTSIDER, [GID]);
  console.log(`[socket-perms] uid ${OUTSIDER} with group ${GID}: ${r.ok ? 'connected, echo ok' : `failed (${r.err})`}`);
  assert.equal(r.ok, true, r.err);
});
