// The scale benchmark. (1) One node agent with 200 relays: time from the config files being written to
// every socket accepting (agent already running), the same from a cold agent start, the agent's RSS and
// the socat processes' memory. (2) The reconcile with 1000 Relays in its own process (see reconcile.ts).
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { agentStatusPath, socketPath } from '../../relay/index.js';
import { nodeArgs } from '../lib/build.js';
import { figure, type Figure, type Goal } from '../lib/figures.js';
import { canConnect, freePort, waitUntil } from '../lib/net.js';
import { num } from '../lib/params.js';
import {
  Cleanup,
  descendants,
  processTable,
  rssOf,
  runCommand,
  startProcess,
  totalPss,
  totalRss,
  type Managed,
} from '../lib/proc.js';
import { median } from '../lib/stats.js';
import { startServices } from '../datapath/service.js';
import { writeRelayConfig } from '../datapath/topology.js';
import { generatedRelays } from './relays.js';

const MB = 1024 * 1024;
type Log = (s: string) => void;

export interface ScaleParams {
  runs: number;
  agentRelays: number;
  reconcileRelays: number;
}

export function scaleParams(env: NodeJS.ProcessEnv): ScaleParams {
  return {
    runs: num(env, 'BENCH_RUNS', 3, 1),
    agentRelays: num(env, 'BENCH_SCALE_AGENT_RELAYS', 200, 20),
    reconcileRelays: num(env, 'BENCH_SCALE_RECONCILE_RELAYS', 1000, 100),
  };
}

/** Paths of the Unix stream sockets in the listening state (/proc/net/unix flag __SO_ACCEPTCON). */
export function listeningUnixPaths(procNetUnix: string): Set<string> {
  const out = new Set<string>();
  for (const line of procNetUnix.split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    // Num RefCount Protocol Flags Type St Inode Path
    if (f.length < 8) continue;
    if ((parseInt(f[3] ?? '0', 16) & 0x10000) !== 0 && f[7]) out.add(f[7]);
  }
  return out;
}

/**
 * Waits until every socket listens. Read from /proc/net/unix rather than by connecting: a probe
 * connection makes the node-side socat fork, which would load the machine being measured.
 */
async function allAccepting(sockets: string[], timeoutMs: number): Promise<void> {
  const { readFile } = await import('node:fs/promises');
  const end = Date.now() + timeoutMs;
  for (;;) {
    const listening = listeningUnixPaths(await readFile('/proc/net/unix', 'utf8'));
    const pending = sockets.filter((s) => !listening.has(s));
    if (!pending.length) break;
    if (Date.now() > end)
      throw new Error(`${pending.length} of ${sockets.length} sockets still not listening after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
  // And one real connection to each of a few, so "listening" is proven to mean "accepting".
  for (const s of sockets.slice(0, 3))
    if (!(await canConnect({ path: s }))) throw new Error(`${s} listens but refuses connections`);
}

async function startAgentProcess(configDir: string, socketDir: string, cleanup: Cleanup): Promise<Managed> {
  const agent = startProcess(
    process.execPath,
    [
      ...(await nodeArgs('cli/main.ts')),
      'agent',
      '--config-dir',
      configDir,
      '--socket-dir',
      socketDir,
      '--listen',
      `127.0.0.1:${await freePort()}`,
      '--log-level',
      'warn',
    ],
    cleanup,
  );
  await waitUntil(
    `agent status file (stderr: ${agent.stderr().slice(-300)})`,
    async () => canRead(agentStatusPath(socketDir)),
    30_000,
    20,
  );
  return agent;
}

async function canRead(file: string): Promise<boolean> {
  const { access } = await import('node:fs/promises');
  return access(file).then(
    () => true,
    () => false,
  );
}

async function socatMemory(agentPid: number): Promise<{ count: number; rss: number; pss: number }> {
  const table = await processTable();
  const pids = descendants(table, agentPid).filter((p) => table.get(p)?.comm === 'socat');
  return { count: pids.length, rss: await totalRss(pids), pss: await totalPss(pids) };
}

/** 1000 Relays reconciled to files in ≤ 1 s: 1 ms per relay, whatever BENCH_SCALE_RECONCILE_RELAYS is. */
export function reconcileGoal(relays: number): Goal {
  return { on: 'value', op: '<=', target: relays };
}

export async function benchScale(p: ScaleParams, log: Log): Promise<Figure[]> {
  const cleanup = new Cleanup();
  try {
    const services = await startServices();
    cleanup.add('close services', () => services.close());
    const warm: number[] = [];
    const cold: number[] = [];
    const writeMs: number[] = [];
    const direct: number[] = [];
    const agentRss: number[] = [];
    const socat: { count: number; rss: number; pss: number }[] = [];
    for (let run = 1; run <= p.runs; run++) {
      const dir = await mkdtemp(path.join(os.tmpdir(), 'srb-scale-'));
      cleanup.add('remove scale dir', () => rm(dir, { recursive: true, force: true }));
      const configDir = path.join(dir, 'relays.d');
      const socketDir = path.join(dir, 'run');
      const relays = generatedRelays(p.agentRelays, () => services.httpPort);
      const sockets = relays.map((r) => socketPath(socketDir, r.metadata.name));
      const { mkdir } = await import('node:fs/promises');
      await mkdir(configDir, { recursive: true });

      // Agent running on an empty folder; then the files arrive (what the reconcile does).
      let agent = await startAgentProcess(configDir, socketDir, cleanup);
      const t0 = performance.now();
      for (const r of relays) await writeRelayConfig(configDir, r);
      writeMs.push(performance.now() - t0);
      await allAccepting(sockets, 120_000);
      warm.push((performance.now() - t0) / 1000);
      await waitUntil(
        'all socat processes started',
        async () => (await socatMemory(agent.pid)).count >= p.agentRelays,
        30_000,
        50,
      );
      agentRss.push(await rssOf(agent.pid));
      socat.push(await socatMemory(agent.pid));
      await agent.stop(10_000);

      // Cold start: the agent starts with every file already there.
      const t1 = performance.now();
      agent = await startAgentProcess(configDir, socketDir, cleanup);
      await allAccepting(sockets, 120_000);
      cold.push((performance.now() - t1) / 1000);
      await agent.stop(10_000);
      log(
        `[scale] run ${run}: ${p.agentRelays} relays accepting ${warm.at(-1)?.toFixed(2)} s after the files (written in ${writeMs.at(-1)?.toFixed(0)} ms), cold start ${cold.at(-1)?.toFixed(2)} s; agent RSS ${((agentRss.at(-1) ?? 0) / MB).toFixed(1)} MiB, ${socat.at(-1)?.count} socat RSS ${((socat.at(-1)?.rss ?? 0) / MB).toFixed(1)} MiB PSS ${((socat.at(-1)?.pss ?? 0) / MB).toFixed(1)} MiB`,
      );
      // Baseline: the same socat command lines started by the benchmark itself, all at once, no agent.
      const { nodeArgv } = await import('../../relay/index.js');
      const { validateRelay } = await import('../../relay/index.js');
      const baseDir = path.join(dir, 'direct');
      const group = new Cleanup();
      try {
        const argvs = relays.map((r) => {
          const res = validateRelay(r).resolved;
          if (!res) throw new Error(`generated relay ${r.metadata.name} is invalid`);
          return { name: r.metadata.name, argv: nodeArgv(res, { socketDir: baseDir }) };
        });
        for (const a of argvs) await mkdir(path.join(baseDir, a.name), { recursive: true });
        const t2 = performance.now();
        for (const a of argvs) startProcess('socat', a.argv, group);
        await allAccepting(
          argvs.map((a) => socketPath(baseDir, a.name)),
          120_000,
        );
        direct.push((performance.now() - t2) / 1000);
      } finally {
        await group.run();
      }
      log(
        `[scale] run ${run}: the same ${p.agentRelays} socat started by the benchmark itself: all listening after ${direct.at(-1)?.toFixed(2)} s`,
      );
      await rm(dir, { recursive: true, force: true });
    }

    const rdir = await mkdtemp(path.join(os.tmpdir(), 'srb-reconcile-'));
    cleanup.add('remove reconcile dir', () => rm(rdir, { recursive: true, force: true }));
    const r = await runCommand(
      process.execPath,
      [
        '--expose-gc',
        ...(await nodeArgs('bench/scale/reconcile.ts')),
        JSON.stringify({ relays: p.reconcileRelays, runs: p.runs, dir: rdir }),
      ],
      { timeoutMs: 300_000 },
    );
    const rec = JSON.parse(r.stdout.trim().split('\n').pop() ?? '{}') as {
      coreMs: number[];
      steadyMs: number;
      reconcileMs: number;
      files: number;
      applies: number;
      rss: number;
      heap: number;
    };
    log(
      `[scale] reconcile ${p.reconcileRelays}: core ${rec.coreMs.map((x) => x.toFixed(0)).join('/')} ms, steady pass ${rec.steadyMs.toFixed(0)} ms, startReconcile ${rec.reconcileMs.toFixed(0)} ms (${rec.files} files, ${rec.applies} status applies), RSS ${(rec.rss / MB).toFixed(1)} MiB`,
    );

    const n = p.agentRelays;
    const m = p.reconcileRelays;
    const sm = (k: 'count' | 'rss' | 'pss') => median(socat.map((s) => s[k]));
    return [
      figure({
        name: `agent, ${n} relays: files written → all sockets accepting`,
        unit: 's',
        value: median(warm),
        baseline: median(direct),
        goal: { on: 'ratio', op: '<=', target: 1.3 },
        note:
          `baseline: the same ${n} socat command lines spawned at once by the benchmark (no agent, no files); ` +
          `agent already running on the folder; files written one by one, atomically (${median(writeMs).toFixed(0)} ms for all); sockets seen listening in /proc/net/unix (polled every 20 ms), 3 checked by connecting; median of ${p.runs}`,
      }),
      figure({
        name: `agent, ${n} relays: cold start → all sockets accepting`,
        unit: 's',
        value: median(cold),
        baseline: median(direct),
        goal: { on: 'ratio', op: '<=', target: 1.3 },
      }),
      figure({
        name: `agent RSS with ${n} relays`,
        unit: 'MiB',
        value: median(agentRss) / MB,
        note: 'the node process only (plain node, transpiled sources)',
      }),
      figure({
        name: `socat processes with ${n} relays: total RSS`,
        unit: 'MiB',
        value: sm('rss') / MB,
        note: `${sm('count')} socat processes; RSS counts shared pages once per process`,
      }),
      figure({
        name: `socat processes with ${n} relays: total PSS`,
        unit: 'MiB',
        value: sm('pss') / MB,
        note: 'proportional set size: shared pages split among the processes (the real cost)',
      }),
      figure({
        name: 'socat PSS per idle relay',
        unit: 'KiB',
        value: sm('pss') / Math.max(1, sm('count')) / 1024,
        goal: { on: 'value', op: '<=', target: 1024 },
      }),
      figure({
        name: `reconcile, ${m} relays: pure core + file writer, empty folder → all files`,
        unit: 'ms',
        value: median(rec.coreMs),
        goal: reconcileGoal(m),
        note: `desiredFiles → readConfigFiles → diffFiles → applyFileDiff into a temp folder; ${rec.files} files`,
      }),
      figure({
        name: `reconcile, ${m} relays: pass over an up-to-date folder`,
        unit: 'ms',
        value: rec.steadyMs,
        note: 'what each resync costs when nothing changed',
      }),
      figure({
        name: `startReconcile, ${m} relays (API stubbed): start → files written and queue idle`,
        unit: 'ms',
        value: rec.reconcileMs,
        goal: reconcileGoal(m),
        note: `${rec.applies} status applies answered in memory`,
      }),
      figure({
        name: `reconcile process RSS with ${m} relays`,
        unit: 'MiB',
        value: rec.rss / MB,
        note: `after a full GC; heap used ${(rec.heap / MB).toFixed(1)} MiB; the process loads client-node, prom-client, pino (not express)`,
      }),
    ];
  } finally {
    await cleanup.run();
  }
}

export async function main(env: NodeJS.ProcessEnv, log: Log): Promise<Figure[]> {
  return benchScale(scaleParams(env), log);
}
