// Faults around a running agent: the target service goes down and comes back (the relay recovers by
// itself: socat connects per connection, nothing to restart), and the config folder is deleted and
// re-created (relays stop with their files, come back with them, and the folder watch is re-armed).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, rmSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { waitFor } from '../../harness/wait.js';
import {
  agentDirs,
  cleanupDirs,
  runningCount,
  sock,
  startAgentProcess,
  writeRelay,
  type AgentDirs,
  type AgentProcess,
} from '../../harness/agent-process.js';
import { echoes, startEcho, type EchoServer } from '../../harness/net.js';

const RESYNC_SECONDS = 8;
let dirs: AgentDirs;
let echo: EchoServer;
let agent: AgentProcess;

before(async () => {
  dirs = agentDirs('faults');
  echo = await startEcho();
  for (const n of ['alpha', 'beta', 'gamma']) writeRelay(dirs, n, echo.port);
  agent = await startAgentProcess(dirs, { resyncSeconds: RESYNC_SECONDS });
  await agent.waitStatus('3 relays running', (s) => runningCount(s) === 3);
  await waitFor('alpha answers', () => echoes(sock(dirs, 'alpha'), Buffer.from('x')), { timeoutMs: 10_000 });
});

after(async () => {
  await agent?.stop();
  await echo?.close();
  cleanupDirs(dirs);
});

test(
  'target service down and back on the same port: exchanges fail while it is down, the relay recovers by itself without a restart',
  { timeout: 60_000 },
  async () => {
    const pidBefore = agent.status()?.relays.alpha?.pid;
    const port = echo.port;
    await echo.close();
    const whileDown = await echoes(sock(dirs, 'alpha'), randomBytes(32), 3000);
    const tDown = Date.now();
    echo = await startEcho(port);
    const recovered = await waitFor('alpha answers again', () => echoes(sock(dirs, 'alpha'), randomBytes(32), 3000), {
      timeoutMs: 20_000,
      intervalMs: 50,
    });
    const ms = Date.now() - tDown;
    // Several in a row, to show it is steady.
    const steady = await Promise.all(
      Array.from({ length: 20 }, () => echoes(sock(dirs, 'alpha'), randomBytes(512), 5000)),
    );
    const st = agent.status()!;
    console.log(
      `[agent-faults] target down: exchange ${whileDown ? 'succeeded?!' : 'failed as expected'}; back on :${port}: first echo ${ms} ms after restart, ${steady.filter(Boolean).length}/20 steady; socat pid ${pidBefore} → ${st.relays.alpha?.pid}, restarts ${st.relays.alpha?.restarts}`,
    );
    assert.equal(whileDown, false);
    assert.equal(recovered, true);
    assert.equal(steady.filter(Boolean).length, 20);
    assert.equal(st.relays.alpha?.pid, pidBefore, 'the relay was restarted (it should not need to be)');
  },
);

test(
  'config folder deleted: its relays stop and their sockets go; re-created: they come back',
  { timeout: 90_000 },
  async () => {
    // Baseline: how fast a new file runs while the folder is watched.
    writeRelay(dirs, 'pre', echo.port);
    const tb = Date.now();
    await agent.waitStatus('pre running', (s) => s.relays.pre?.running === true, 30_000);
    baselineMs = Date.now() - tb;
    rmSync(dirs.configDir, { recursive: true, force: true });
    const t0 = Date.now();
    await agent.waitStatus('no relay after the folder is gone', (s) => Object.keys(s.relays).length === 0, 30_000);
    const goneMs = Date.now() - t0;
    const socketGone = !(await echoes(sock(dirs, 'alpha'), Buffer.from('x'), 2000));
    mkdirSync(dirs.configDir);
    for (const n of ['alpha', 'beta', 'gamma']) writeRelay(dirs, n, echo.port);
    const t1 = Date.now();
    await agent.waitStatus('3 relays back', (s) => runningCount(s) === 3, 30_000);
    await waitFor('alpha answers', () => echoes(sock(dirs, 'alpha'), Buffer.from('y')), { timeoutMs: 10_000 });
    const backMs = Date.now() - t1;
    console.log(
      `[agent-faults] folder deleted: relays stopped after ${goneMs} ms (socket refused: ${socketGone}); re-created: 3 relays answering after ${backMs} ms (resync ${RESYNC_SECONDS} s)`,
    );
    assert.equal(socketGone, true);
  },
);

let baselineMs = 0;

test(
  'after the folder was re-created, a new file is seen through the folder watch again (not only at the next resync)',
  { timeout: 90_000 },
  async () => {
    // Give the resync time to re-arm a watch if it is going to.
    await new Promise((r) => setTimeout(r, (RESYNC_SECONDS + 1) * 1000));
    const samples: number[] = [];
    for (const n of ['delta', 'epsilon']) {
      writeRelay(dirs, n, echo.port);
      const t = Date.now();
      await agent.waitStatus(`${n} running`, (s) => s.relays[n]?.running === true, 30_000);
      samples.push(Date.now() - t);
    }
    console.log(
      `[agent-faults] new file → running: ${baselineMs} ms before the deletion, ${samples.join(' and ')} ms after the re-creation (resync ${RESYNC_SECONDS} s)`,
    );
    assert.ok(
      Math.max(...samples) < Math.max(1500, baselineMs * 3),
      `new files took ${samples.join('/')} ms against ${baselineMs} ms before`,
    );
  },
);

test(
  'an agent with --listen off and no relay keeps running until it is told to stop',
  { timeout: 30_000 },
  async () => {
    const own = agentDirs('listenoff');
    try {
      const a = await startAgentProcess(own, { listen: 'off', logName: 'off.log' });
      // Once it has started (status written) — or died trying.
      await a.waitStatus('agent started', () => true, 30_000).catch(() => undefined);
      const exited = await Promise.race([
        a.process.exited.then((e) => `exited (code ${e.code})`),
        new Promise<string>((r) => setTimeout(() => r('running'), 4000)),
      ]);
      console.log(`[agent-faults] --listen off, empty folder: after 4 s the agent is ${exited}`);
      await a.stop();
      assert.equal(exited, 'running');
    } finally {
      cleanupDirs(own);
    }
  },
);
