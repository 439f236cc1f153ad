// 100 relays on one real agent: concurrent traffic on all of them for a bounded time (no exchange lost,
// no file-descriptor or process leak), then the agent killed with SIGKILL and restarted (every relay
// back, stale sockets do not block the restart). Sizes: RESILIENCE_RELAYS (100), RESILIENCE_LOAD_SECONDS
// (20), RESILIENCE_CLIENTS_PER_RELAY (2).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import net from 'node:net';
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
import { exchange, startEcho, type EchoServer } from '../../harness/net.js';
import {
  childrenOf,
  descendants,
  describePids,
  fdCount,
  forkedChildren,
  killPids,
  pidsMentioning,
} from '../../harness/proc.js';

const RELAYS = Number(process.env.RESILIENCE_RELAYS ?? 100);
const LOAD_SECONDS = Number(process.env.RESILIENCE_LOAD_SECONDS ?? 20);
const CLIENTS = Number(process.env.RESILIENCE_CLIENTS_PER_RELAY ?? 2);
const names = Array.from({ length: RELAYS }, (_, i) => `r${String(i).padStart(3, '0')}`);

let dirs: AgentDirs;
let echo: EchoServer;
let agent: AgentProcess;

before(async () => {
  dirs = agentDirs('agent100');
  echo = await startEcho();
  for (const n of names) writeRelay(dirs, n, echo.port);
  const t0 = Date.now();
  agent = await startAgentProcess(dirs, { resyncSeconds: 30 });
  await agent.waitStatus(`${RELAYS} relays running`, (s) => runningCount(s) === RELAYS, 120_000);
  console.log(`[agent-100] ${RELAYS} relays running ${Date.now() - t0} ms after the agent started`);
});

after(async () => {
  await agent?.stop();
  await echo?.close();
  cleanupDirs(dirs);
});

/** Socat processes under the agent: the 100 listeners plus one fork per open connection. */
const socats = (pid: number) => descendants(pid).length;

async function allEcho(): Promise<string[]> {
  const bad: string[] = [];
  await Promise.all(
    names.map(async (n) => {
      const p = randomBytes(64);
      try {
        if (!(await exchange(sock(dirs, n), p, 10_000)).equals(p)) bad.push(`${n}: wrong echo`);
      } catch (e) {
        bad.push(`${n}: ${(e as Error).message}`);
      }
    }),
  );
  return bad;
}

test(
  `load: ${RELAYS} relays × ${CLIENTS} clients for ${LOAD_SECONDS} s — no exchange lost, no fd or process leak in the agent`,
  { timeout: (LOAD_SECONDS + 120) * 1000 },
  async () => {
    assert.deepEqual(await allEcho(), [], 'warm-up exchange on every relay');
    await waitFor('forks of the warm-up gone', () => forkedChildren(agent.pid).length === 0, {
      timeoutMs: 20_000,
    }).catch((e: Error) => {
      throw new Error(
        `${e.message}\nlingering forks:\n${describePids(forkedChildren(agent.pid)).join('\n')}\nchildren: ${childrenOf(agent.pid).length}`,
      );
    });
    assert.equal(childrenOf(agent.pid).length, RELAYS, `children:\n${describePids(childrenOf(agent.pid)).join('\n')}`);
    const fdBefore = fdCount(agent.pid);
    const procsBefore = socats(agent.pid);
    const stats = { exchanges: 0, bytes: 0, failures: [] as string[] };
    let peakForks = 0;
    const deadline = Date.now() + LOAD_SECONDS * 1000;
    const sampler = setInterval(() => {
      peakForks = Math.max(peakForks, socats(agent.pid) - RELAYS);
    }, 500);
    const worker = async (n: string, w: number) => {
      let i = 0;
      while (Date.now() < deadline) {
        const payload = randomBytes(1024 + ((i * 7919 + w) % 15_360));
        i++;
        try {
          const back = await exchange(sock(dirs, n), payload, 15_000);
          if (!back.equals(payload)) stats.failures.push(`${n}#${w}: echoed ${back.length} of ${payload.length} bytes`);
          else {
            stats.exchanges++;
            stats.bytes += payload.length;
          }
        } catch (e) {
          stats.failures.push(`${n}#${w}: ${(e as Error).message}`);
        }
      }
    };
    const t0 = Date.now();
    await Promise.all(names.flatMap((n) => Array.from({ length: CLIENTS }, (_, w) => worker(n, w))));
    const elapsed = (Date.now() - t0) / 1000;
    clearInterval(sampler);
    // Every fork exits when its connection closes; the agent's descriptors return to where they were.
    const procsAfter = await waitFor(
      'per-connection forks gone',
      () => {
        const c = socats(agent.pid);
        return c === procsBefore ? c : undefined;
      },
      { timeoutMs: 30_000 },
    ).catch(() => socats(agent.pid));
    const fdAfter = fdCount(agent.pid);
    const st = agent.status();
    const restarts = Object.values(st?.relays ?? {}).reduce((a, r) => a + r.restarts, 0);
    console.log(
      `[agent-100] ${stats.exchanges} exchanges (${(stats.bytes / 2 ** 20).toFixed(1)} MiB echoed) in ${elapsed.toFixed(1)} s = ${(stats.exchanges / elapsed).toFixed(0)}/s over ${RELAYS * CLIENTS} clients; failures ${stats.failures.length}; peak concurrent forks ${peakForks}`,
    );
    console.log(
      `[agent-100] agent fds before/after ${fdBefore}/${fdAfter}; socat processes before/after ${procsBefore}/${procsAfter}; restarts ${restarts}; target accepted ${echo.accepted()} connections`,
    );
    assert.deepEqual(stats.failures.slice(0, 10), []);
    assert.ok(stats.exchanges >= RELAYS * CLIENTS, 'fewer exchanges than clients: the load did not run');
    assert.equal(procsAfter, procsBefore, 'socat process leak');
    assert.ok(fdAfter <= fdBefore, `fd leak in the agent: ${fdBefore} → ${fdAfter}`);
    assert.equal(restarts, 0);
  },
);

test(
  `SIGKILL: the agent and its socats killed (as the kubelet does to a static pod), restarted: all ${RELAYS} relays back over the stale sockets`,
  { timeout: 180_000 },
  async () => {
    const children = descendants(agent.pid);
    assert.equal(childrenOf(agent.pid).length, RELAYS, describePids(childrenOf(agent.pid)).join('\n'));
    // The container runtime SIGKILLs the whole cgroup: the socats first here, so none can clean up its
    // socket on the parent-death signal the agent gives them.
    killPids(children);
    await agent.kill();
    await waitFor('old socats gone', () => pidsMentioning(dirs.root).length === 0, { timeoutMs: 10_000 });
    const stale = names.filter((n) => existsSync(sock(dirs, n)));
    const refused = await new Promise<string | undefined>((resolve) => {
      const s = net.createConnection(sock(dirs, names[0]!));
      s.on('connect', () => {
        s.destroy();
        resolve('connected');
      });
      s.on('error', (e: NodeJS.ErrnoException) => resolve(e.code));
    });
    const t0 = Date.now();
    agent = await startAgentProcess(dirs, { resyncSeconds: 30, logName: 'agent-2.log' });
    await agent.waitStatus(`${RELAYS} relays running again`, (s) => runningCount(s) === RELAYS, 120_000);
    const back = Date.now() - t0;
    const bad = await allEcho();
    console.log(
      `[agent-100] after SIGKILL: ${stale.length} stale socket files left (connect: ${refused}); restarted agent had ${RELAYS} relays running after ${back} ms; ${RELAYS - bad.length}/${RELAYS} echo`,
    );
    assert.equal(stale.length, RELAYS, 'expected the stale sockets to be there (else the test proves nothing)');
    assert.equal(refused, 'ECONNREFUSED');
    assert.deepEqual(bad, []);
  },
);

test(
  'SIGKILL of the agent alone (plain process, no container): its socat children do not outlive it',
  { timeout: 180_000 },
  async () => {
    const children = descendants(agent.pid);
    await agent.kill();
    await new Promise((r) => setTimeout(r, 1000));
    const orphans = children.filter((p) => existsSync(`/proc/${p}`) && pidsMentioning(dirs.root).includes(p));
    agent = await startAgentProcess(dirs, { resyncSeconds: 30, logName: 'agent-3.log' });
    await agent.waitStatus(`${RELAYS} relays running again`, (s) => runningCount(s) === RELAYS, 120_000);
    const bad = await allEcho();
    console.log(
      `[agent-100] agent alone SIGKILLed: ${orphans.length}/${children.length} socat children still alive 1 s later; restarted agent serves ${RELAYS - bad.length}/${RELAYS}`,
    );
    killPids(orphans);
    assert.deepEqual(bad, []);
    assert.equal(orphans.length, 0);
  },
);
