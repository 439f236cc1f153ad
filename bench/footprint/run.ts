// The footprint of a worker node (npm run bench:footprint): the two socat-relay processes a node that
// only reconciles runs — the socat-relay-node DaemonSet's controller (SOCAT_RELAY_SERVE_ADMISSION=false)
// and its node agent, with one socat per Relay — idle, as RSS and CPU; and the agent pod's CSI plugin
// (its second container when csi.enabled), idle, with no volume. Every variant (how the code is loaded
// × Node/V8 flags: variants.ts) runs side by side in ONE run against one real API server, so all see the
// same machine load: per variant one node with its controller, agent and CSI plugin; one serving
// controller (the bundle, default flags) is elected beside them and writes the RelayNodes the node
// controllers follow; one simulator process keeps every Node Ready with kubelet heartbeats
// (bench/fleet/simulator.ts). After settling, resident memory is sampled every 5 s over the window
// (the figures: the means), split into private (RssAnon) and file-backed (RssFile: chiefly the node
// binary's pages, which the processes of one node share); CPU is the CPU time used over the window
// (the agent's includes its idle socats). The first variant is the baseline of the others.
//   BENCH_FOOTPRINT_VARIANTS  comma list of variants.ts's names (default: all)
//   BENCH_FOOTPRINT_REPLICAS (2): nodes per variant (the figures: their means)
//   BENCH_FOOTPRINT_RELAYS (3), BENCH_FOOTPRINT_SETTLE_SECONDS (30), BENCH_FOOTPRINT_WINDOW_SECONDS (120)
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { readFileSync } from 'node:fs';
import { POD_CONTROLLERS, installCrds, startControlPlane } from '../../test/harness/index.js';
import { bundleArgs, nodeArgs } from '../lib/build.js';
import { figure, type Figure } from '../lib/figures.js';
import { num } from '../lib/params.js';
import { freePort } from '../lib/net.js';
import { Cleanup, residentOf, startProcess, treeCpuMs, type Managed } from '../lib/proc.js';
import { startAgent, startFleetController, type FleetController } from '../fleet/processes.js';
import { startCountingProxy } from '../fleet/proxy.js';
import { createRelays, socatRssOf, startSimulator, waitSettled } from '../fleet/run.js';
import { VARIANTS, type Variant } from './variants.js';

const NS = 'socat-relay-system';
const MiB = 1024 * 1024;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface FootprintParams {
  variants: Variant[];
  relays: number;
  replicas: number;
  settleSeconds: number;
  windowSeconds: number;
}

export function footprintParams(env: NodeJS.ProcessEnv): FootprintParams {
  const raw = env.BENCH_FOOTPRINT_VARIANTS;
  const names = raw ? raw.split(',').map((s) => s.trim()) : VARIANTS.map((v) => v.name);
  const variants = names.map((n) => {
    const v = VARIANTS.find((x) => x.name === n);
    if (!v)
      throw new Error(
        `BENCH_FOOTPRINT_VARIANTS: unknown variant ${n} (known: ${VARIANTS.map((x) => x.name).join(', ')})`,
      );
    return v;
  });
  return {
    variants,
    relays: Math.round(num(env, 'BENCH_FOOTPRINT_RELAYS', 3)),
    replicas: Math.round(num(env, 'BENCH_FOOTPRINT_REPLICAS', 2, 1)),
    settleSeconds: num(env, 'BENCH_FOOTPRINT_SETTLE_SECONDS', 30, 15),
    windowSeconds: num(env, 'BENCH_FOOTPRINT_WINDOW_SECONDS', 120, 40),
  };
}

async function cliOf(v: Variant): Promise<string[]> {
  return [...v.flags, ...(v.code === 'bundle' ? await bundleArgs(v.commit) : await nodeArgs('cli/main.ts'))];
}

/** Resident memory, bytes, the mean over the window's samples. */
export interface Resident {
  rss: number;
  /** Private (RssAnon): heap, stacks. */
  anon: number;
  /** File-backed (RssFile): mostly the node binary's pages, shared by every process running it. */
  file: number;
}

/** The CSI plugin as the agent pod's csi container runs it, with a kubelet folder of its own (idle: no volume). */
async function startCsi(dir: string, node: string, cli: string[], cleanup: Cleanup): Promise<Managed> {
  const kubelet = path.join(dir, 'kubelet');
  await mkdir(kubelet, { recursive: true });
  return startProcess(
    process.execPath,
    [
      ...cli,
      'csi',
      `--config-dir=${path.join(dir, 'relays.d')}`,
      `--socket-dir=${path.join(dir, 'run')}`,
      `--kubelet-dir=${kubelet}`,
      `--node-id=${node}`,
      `--health-listen=127.0.0.1:${await freePort()}`,
      '--log-level=warn',
    ],
    cleanup,
    { env: { PATH: process.env.PATH, HOME: process.env.HOME, NODE_ENV: 'production' }, cwd: dir },
  );
}

export interface VariantResult {
  variant: Variant;
  controller: Resident;
  agent: Resident;
  /** The CSI plugin (the agent pod's second container when csi.enabled). */
  csi: Resident;
  csiMc: number;
  socatRss: number;
  controllerMc: number;
  agentMc: number;
  /** Each replica's controller and agent (the figures are their means). */
  replicas?: { controller: Resident; agent: Resident }[];
}

export function footprintFigures(results: readonly VariantResult[]): Figure[] {
  const base = results[0];
  const out: Figure[] = [];
  const mib = (x: number) => (x / MiB).toFixed(1);
  // The worker's memory when its two processes share the node binary's pages: both private parts, the
  // file-backed part once.
  const distinct = (r: VariantResult) => r.controller.anon + r.agent.anon + Math.max(r.controller.file, r.agent.file);
  for (const r of results) {
    const b = r === base ? undefined : base;
    const what = [r.variant.code, r.variant.commit ? `of ${r.variant.commit}` : '', ...r.variant.flags]
      .filter(Boolean)
      .join(' ');
    const split = (x: Resident) => `${mib(x.anon)} MiB private + ${mib(x.file)} MiB file-backed`;
    const range = (f: (x: { controller: Resident; agent: Resident }) => number) => {
      const xs = (r.replicas ?? []).map(f);
      return xs.length > 1 ? `; replicas ${xs.map((x) => mib(x)).join(', ')} MiB` : '';
    };
    out.push(
      figure({
        name: `${r.variant.name}: controller RSS`,
        unit: 'MiB',
        value: r.controller.rss / MiB,
        ...(b ? { baseline: b.controller.rss / MiB } : {}),
        note: `${what}; ${split(r.controller)}${range((x) => x.controller.rss)}`,
      }),
      figure({
        name: `${r.variant.name}: agent RSS`,
        unit: 'MiB',
        value: r.agent.rss / MiB,
        ...(b ? { baseline: b.agent.rss / MiB } : {}),
        note: `${split(r.agent)}; its socat children ${mib(r.socatRss)} MiB more`,
      }),
      figure({
        name: `${r.variant.name}: worker RSS (controller + agent)`,
        unit: 'MiB',
        value: (r.controller.rss + r.agent.rss) / MiB,
        ...(b ? { baseline: (b.controller.rss + b.agent.rss) / MiB } : {}),
        goal: { on: 'value', op: '<=', target: 128 },
        note: `${what}${range((x) => x.controller.rss + x.agent.rss)}`,
      }),
      figure({
        name: `${r.variant.name}: worker memory, shared pages once`,
        unit: 'MiB',
        value: distinct(r) / MiB,
        ...(b ? { baseline: distinct(b) / MiB } : {}),
        note: 'both private parts + the larger file-backed part (the node binary is mapped by both)',
      }),
      figure({
        name: `${r.variant.name}: CSI plugin RSS`,
        unit: 'MiB',
        value: r.csi.rss / MiB,
        ...(b ? { baseline: b.csi.rss / MiB } : {}),
        note: `${split(r.csi)}; ${r.csiMc.toFixed(2)} millicores`,
      }),
      figure({
        name: `${r.variant.name}: worker with the CSI plugin, shared pages once`,
        unit: 'MiB',
        value: (distinct(r) + r.csi.anon + Math.max(0, r.csi.file - Math.max(r.controller.file, r.agent.file))) / MiB,
        note: 'controller + agent + CSI plugin: the three private parts + the largest file-backed part',
      }),
      figure({
        name: `${r.variant.name}: worker CPU (controller + agent)`,
        unit: 'millicores',
        value: r.controllerMc + r.agentMc,
        ...(b ? { baseline: b.controllerMc + b.agentMc } : {}),
        goal: { on: 'value', op: '<=', target: 2 },
        note: `controller ${r.controllerMc.toFixed(2)}, agent ${r.agentMc.toFixed(2)} millicores`,
      }),
    );
  }
  return out;
}

export async function main(env: NodeJS.ProcessEnv, log: (s: string) => void): Promise<Figure[]> {
  const p = footprintParams(env);
  log(`[footprint] ${JSON.stringify({ ...p, variants: p.variants.map((v) => v.name) })}`);
  const cleanup = new Cleanup();
  const dir = await mkdtemp(path.join(os.tmpdir(), 'socat-relay-footprint-'));
  cleanup.add(`remove ${dir}`, () => rm(dir, { recursive: true, force: true }));
  try {
    const cp = await startControlPlane({ controllers: POD_CONTROLLERS, namespaces: [NS, 'monitoring'] });
    cleanup.add('control plane', () => cp.stop());
    await installCrds(cp.client);
    const relays = await createRelays(cp, p.relays);
    const serving = 'node-serving';
    // R nodes per variant: one process's memory depends on when its last full GC ran, so the figures
    // are means over the replicas and the notes give their range.
    const slots = p.variants.flatMap((_, i) =>
      Array.from({ length: p.replicas }, (_, r) => ({ i, node: `node-${i}-${r}` })),
    );
    const nodes = [serving, ...slots.map((x) => x.node)];
    const user = cp.kc.getCurrentUser();
    const b64 = (s: string | undefined) => Buffer.from(s ?? '', 'base64').toString('utf8');
    const upstream = {
      url: cp.url,
      ca: readFileSync(path.join(cp.dir, 'ca.crt'), 'utf8'),
      cert: b64(user?.certData),
      key: b64(user?.keyData),
    };
    await startSimulator(
      {
        server: cp.url,
        ...upstream,
        nodes,
        controllers: [],
        mode: 'new',
        namespace: NS,
        relays,
        heartbeatSeconds: 10,
        statusSeconds: 60,
        concurrency: 4,
      },
      dir,
      cleanup,
      log,
    );
    const start = async (node: string, serves: boolean, cli: string[]): Promise<FleetController> => {
      const proxy = await startCountingProxy(upstream);
      cleanup.add(`proxy of ${node}`, () => proxy.close());
      return startFleetController(
        { design: 'new', node, serving: serves, namespace: NS, dir: path.join(dir, node), proxyPort: proxy.port, cli },
        cleanup,
      );
    };
    await start(serving, true, await bundleArgs());
    // All at once, as a DaemonSet's pods start (each controller takes about a minute to /readyz here).
    const clis = await Promise.all(p.variants.map(cliOf));
    const agents: Managed[] = [];
    for (const x of slots) agents.push(await startAgent('new', undefined, path.join(dir, x.node), cleanup, clis[x.i]));
    const csis: Managed[] = [];
    for (const x of slots) csis.push(await startCsi(path.join(dir, x.node), x.node, clis[x.i]!, cleanup));
    const controllers = await Promise.all(slots.map((x) => start(x.node, false, clis[x.i]!)));
    log(`[footprint] ${slots.length} controllers, agents and CSI plugins started`);
    const settled = await waitSettled(cp, 'new', relays, nodes.length, 180_000);
    log(`[footprint] ${settled ? 'settled' : 'NOT settled'}; idle ${p.settleSeconds} s more`);
    await sleep(p.settleSeconds * 1000);

    const pids = [...controllers.map((c) => c.proc.pid), ...agents.map((a) => a.pid), ...csis.map((c) => c.pid)];
    const cpu0 = await Promise.all(pids.map((pid) => treeCpuMs(pid)));
    const t0 = Date.now();
    const samples: Resident[][] = pids.map(() => []);
    while (Date.now() - t0 < p.windowSeconds * 1000) {
      for (const [i, pid] of pids.entries()) samples[i]!.push(await residentOf(pid));
      await sleep(5000);
    }
    const cpu1 = await Promise.all(pids.map((pid) => treeCpuMs(pid)));
    const secs = (Date.now() - t0) / 1000;
    const mean = (xs: Resident[]): Resident => {
      const m = (f: (x: Resident) => number) => xs.reduce((s, x) => s + f(x), 0) / Math.max(1, xs.length);
      return { rss: m((x) => x.rss), anon: m((x) => x.anon), file: m((x) => x.file) };
    };
    const k = slots.length;
    const perSlot = slots.map((x, j) => {
      const procs: [string, Managed][] = [
        ['controller', controllers[j]!.proc],
        ['agent', agents[j]!],
        ['CSI plugin', csis[j]!],
      ];
      for (const [n, [what, proc]] of procs.entries())
        if (samples[n * k + j]!.some((y) => y.rss === 0))
          throw new Error(`${x.node}: the ${what} exited during the window: ${proc.stderr().slice(-1500)}`);
      const mc = (n: number) => (cpu1[n * k + j]! - cpu0[n * k + j]!) / secs;
      return {
        controller: mean(samples[j]!),
        agent: mean(samples[k + j]!),
        csi: mean(samples[2 * k + j]!),
        controllerMc: mc(0),
        agentMc: mc(1),
        csiMc: mc(2),
      };
    });
    const results: VariantResult[] = [];
    for (const [i, v] of p.variants.entries()) {
      const mine = perSlot.filter((_, j) => slots[j]!.i === i);
      const avg = (f: (x: (typeof mine)[number]) => number) => mine.reduce((a, x) => a + f(x), 0) / mine.length;
      results.push({
        variant: v,
        controller: mean(mine.map((x) => x.controller)),
        agent: mean(mine.map((x) => x.agent)),
        csi: mean(mine.map((x) => x.csi)),
        csiMc: avg((x) => x.csiMc),
        socatRss: await socatRssOf(agents[slots.findIndex((x) => x.i === i)]!.pid),
        controllerMc: avg((x) => x.controllerMc),
        agentMc: avg((x) => x.agentMc),
        replicas: mine.map((x) => ({ controller: x.controller, agent: x.agent })),
      });
      log(`[footprint] ${v.name}: ${JSON.stringify(results.at(-1))}`);
    }
    return footprintFigures(results);
  } finally {
    await cleanup.run();
  }
}
