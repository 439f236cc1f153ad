// The scrape benchmark: one real kube-scheduler serving its secure /metrics on the node's loopback
// only, scraped by a real Prometheus through each of the paths an operator can choose, all in the same
// window (each Prometheus scrapes its targets on its own schedule, so the paths interleave):
//   direct — Prometheus in the node's network namespace → 127.0.0.1:<scheduler> (what rebinding gives)
//   haproxy — a host-network HAProxy (TCP mode) listening on the node, in front of the loopback port
//   hack   — the socat DaemonSet hack: one host-network `socat TCP-LISTEN:…,fork,reuseaddr TCP:127.0.0.1:…`
//   relay  — Prometheus in its own network namespace behind the sidecar's argv (sidecarArgv, as injected),
//            node side run by the real `socat-relay agent` from the Relay's file
// Figures from Prometheus's own scrape_duration_seconds / up / scrape_samples_scraped and dialer counter,
// from /proc (CPU and RSS of each path's processes), from `ss` (what each path listens on in the node's
// namespace), and from curl on a fresh TLS connection per request (the scraper that does not keep one).
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { DEFAULT_SIDECAR_UID } from '../../relay/index.js';
import os from 'node:os';
import path from 'node:path';
import { figure, type Figure } from '../lib/figures.js';
import { canConnect, freePort, waitUntil } from '../lib/net.js';
import { createNetns, deleteNetns, netnsName } from '../lib/netns.js';
import { num } from '../lib/params.js';
import { Cleanup, descendants, processTable, runCommand, startProcess, totalRss, treeCpuMs } from '../lib/proc.js';
import { percentile, median } from '../lib/stats.js';
import { startAgent } from '../datapath/node-side.js';
import { benchRelay, startNodeSideSocat, startSidecar, type ArgvEdit } from '../datapath/topology.js';
import { exampleScraperToken, startControlPlane, startScheduler } from './cluster.js';
import { findScrapeParts, hackArgv, haproxyConfig, versionLine, type ScrapeJob } from './parts.js';
import { dialerConnections, query, startPrometheus, type Prometheus } from './prometheus.js';
import { exposedListeners, hostListeners } from './sockets.js';

type Log = (s: string) => void;
const MiB = 1 << 20;
/** The scheduler's port in the pod (kube-scheduler's default), where the sidecar listens. */
const POD_PORT = 10259;

export interface ScrapeParams {
  seconds: number;
  intervalSeconds: number;
  /** Requests per path on a fresh TLS connection each (curl), after the Prometheus window. */
  freshConnections: number;
  variants: string[];
}

export function scrapeParams(env: NodeJS.ProcessEnv): ScrapeParams {
  return {
    seconds: num(env, 'BENCH_SCRAPE_SECONDS', 300, 60),
    intervalSeconds: num(env, 'BENCH_SCRAPE_INTERVAL', 10, 5),
    freshConnections: num(env, 'BENCH_SCRAPE_FRESH', 30, 10),
    // BENCH_VARIANTS is shared with the data-path benchmark: names that are not scrape variants are its.
    variants: (env.BENCH_VARIANTS ?? '')
      .split(',')
      .map((s) => s.trim())
      .filter((v) => v in SCRAPE_VARIANTS),
  };
}

const withoutNodelay: ArgvEdit = (a) => a.map((x) => x.replace(/,nodelay(?=,|$)/, ''));

/**
 * Extra paths measured next to the four when named in BENCH_VARIANTS: a relay chain with edited argvs
 * (`relay-<variant>`), or the socat hack with an edited argv (`<variant>`, host network).
 */
export const SCRAPE_VARIANTS: Record<
  string,
  { describe: string; relay?: { node: ArgvEdit; sidecar: ArgvEdit }; hack?: ArgvEdit }
> = {
  'no-nodelay': {
    describe: 'the relay before the TCP_NODELAY fix: nodeArgv and sidecarArgv without ,nodelay',
    relay: { node: withoutNodelay, sidecar: withoutNodelay },
  },
  'hack-nodelay': {
    describe: 'the socat hack with ,nodelay on both addresses',
    hack: (a) => a.map((x) => `${x},nodelay`),
  },
  'hack-b128k': {
    describe: "the socat hack with the relay's -b131072 buffer, still without nodelay",
    hack: (a) => ['-b131072', ...a],
  },
};

/** CPU only: the relay's two socats without the agent. */
const RELAY_SOCATS = 'relay:socat';

/** What was measured on one path over the window. */
export interface PathStats {
  durationsMs: number[];
  up: number[];
  samples: number[];
  cpuMs: number;
  /** TCP connections Prometheus opened for this job over the window. */
  connections: number;
  rssBytes: number;
  /** Non-loopback listening sockets of its processes in the node's network namespace (null: not measured). */
  exposed: number | null;
  /** curl's time_total of GET /metrics on a new TLS connection each, ms. */
  freshMs: number[];
}

async function versions(parts: { prometheus: string; haproxy: string }): Promise<string> {
  const prom = await runCommand(parts.prometheus, ['--version'], { timeoutMs: 10_000, allowFail: true });
  const hap = await runCommand(parts.haproxy, ['-v'], { timeoutMs: 10_000, allowFail: true });
  return `Prometheus ${versionLine(prom.stdout + prom.stderr)}; ${versionLine(hap.stdout + hap.stderr)}`;
}

export async function benchScrape(p: ScrapeParams, log: Log): Promise<Figure[]> {
  const found = findScrapeParts();
  if (!found.parts) throw new Error(`scrape benchmark: ${found.missing}`);
  const parts = found.parts;
  const cleanup = new Cleanup();
  try {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'srb-scrape-'));
    await chmod(dir, 0o755); // the sidecar (uid 65532) must reach the relay's socket below it
    cleanup.add('remove temp dir', () => rm(dir, { recursive: true, force: true }));
    log('[scrape] starting the test control plane');
    const cp = await startControlPlane();
    cleanup.add('stop control plane', () => cp.stop());
    const tokenFile = path.join(dir, 'token');
    await exampleScraperToken(cp, tokenFile);
    const sched = await startScheduler(parts, cp, dir, tokenFile, cleanup);
    const recorded = `${sched.version}; ${await versions(parts)}`;
    log(`[scrape] ${recorded}; scheduler on 127.0.0.1:${sched.port}`);

    // haproxy and the hack, each on its own port on every address of the node.
    const haproxyPort = await freePort('0.0.0.0');
    await writeFile(path.join(dir, 'haproxy.cfg'), haproxyConfig({ listenPort: haproxyPort, targetPort: sched.port }));
    const haproxy = startProcess(parts.haproxy, ['-db', '-f', path.join(dir, 'haproxy.cfg')], cleanup);
    const hackPort = await freePort('0.0.0.0');
    const hack = startProcess('socat', hackArgv({ listenPort: hackPort, targetPort: sched.port }), cleanup);
    for (const port of [haproxyPort, hackPort])
      await waitUntil(`proxy on :${port}`, () => canConnect({ port }), 15_000);

    // The relay: the agent's node side, the sidecar in the pod's network namespace.
    const socketDir = path.join(dir, 'run');
    const ns = netnsName('srb-scrape');
    await createNetns(ns);
    cleanup.add(`delete netns ${ns}`, () => deleteNetns(ns));
    const relay = benchRelay('kube-scheduler', 'TCP', sched.port, { listen: { port: POD_PORT } });
    const { agent, statusPids } = await startAgent([relay], socketDir, cleanup);
    const nodeSocatPids = await statusPids();
    // The sidecar as injected: its argv (sidecarArgv) as the pod's uid and group 65532 (the socket's group).
    const sidecar = await startSidecar(relay.resolved, socketDir, ns, cleanup, undefined, { uid: DEFAULT_SIDECAR_UID });
    const sidecarPid = await ipNetnsChild(ns, 'socat', POD_PORT);
    const extra: { name: string; port: number; roots: number[] }[] = [];
    const hackExtra: { name: string; port: number; roots: number[] }[] = [];
    for (const [i, v] of p.variants.entries()) {
      const def = SCRAPE_VARIANTS[v]!;
      if (def.hack) {
        const port = await freePort('0.0.0.0');
        const proc = startProcess('socat', def.hack(hackArgv({ listenPort: port, targetPort: sched.port })), cleanup);
        await waitUntil(`${v} on :${port}`, () => canConnect({ port }), 15_000);
        hackExtra.push({ name: v, port, roots: [proc.pid] });
        log(`[scrape] variant ${v}: ${def.describe}`);
        continue;
      }
      if (!def.relay) continue;
      const r = benchRelay(`kube-scheduler-${v}`, 'TCP', sched.port, { listen: { port: POD_PORT + 1 + i } });
      const node = await startNodeSideSocat(r.resolved, socketDir, cleanup, def.relay.node);
      await startSidecar(r.resolved, socketDir, ns, cleanup, def.relay.sidecar, { uid: DEFAULT_SIDECAR_UID });
      extra.push({
        name: `relay-${v}`,
        port: POD_PORT + 1 + i,
        roots: [node.pid, await ipNetnsChild(ns, 'socat', POD_PORT + 1 + i)],
      });
      log(`[scrape] variant relay-${v}: ${def.describe}`);
    }

    const job = (name: string, port: number): ScrapeJob => ({ name, target: `127.0.0.1:${port}`, tokenFile });
    const hostProm = await startPrometheus(
      {
        binary: parts.prometheus,
        dir: path.join(dir, 'prom-node'),
        intervalSeconds: p.intervalSeconds,
        port: await freePort(),
        jobs: [
          job('direct', sched.port),
          job('haproxy', haproxyPort),
          job('hack', hackPort),
          ...hackExtra.map((e) => job(e.name, e.port)),
        ],
      },
      cleanup,
    );
    const podProm = await startPrometheus(
      {
        binary: parts.prometheus,
        dir: path.join(dir, 'prom-pod'),
        intervalSeconds: p.intervalSeconds,
        port: 9090,
        netns: ns,
        jobs: [job('relay', sidecar.port), ...extra.map((e) => job(e.name, e.port))],
      },
      cleanup,
    );
    const promOf: Record<string, Prometheus> = { direct: hostProm, haproxy: hostProm, hack: hostProm, relay: podProm };
    for (const e of extra) promOf[e.name] = podProm;
    for (const e of hackExtra) promOf[e.name] = hostProm;

    // Which processes make up each path (their whole trees: socat's per-connection children included).
    const roots: Record<string, number[]> = {
      direct: [],
      haproxy: [haproxy.pid],
      hack: [hack.pid],
      relay: [sidecarPid, agent.pid],
      [RELAY_SOCATS]: [sidecarPid, ...nodeSocatPids],
    };
    for (const e of [...extra, ...hackExtra]) roots[e.name] = e.roots;
    /** RSS leaves the agent out (one per node, shared by every relay; reported on its own). */
    const rssRoots = (n: string, table: Map<number, { ppid: number }>) =>
      n === 'relay'
        ? [sidecarPid, ...descendants(table, agent.pid)]
        : (roots[n] ?? []).flatMap((r) => [r, ...descendants(table, r)]);
    const names = Object.keys(roots).filter((n) => n !== RELAY_SOCATS);

    const warmup = Math.max(5, 3 * p.intervalSeconds);
    log(
      `[scrape] warm-up ${warmup} s, then ${p.seconds} s of scrapes every ${p.intervalSeconds} s on ${names.join(', ')}`,
    );
    await new Promise((r) => setTimeout(r, warmup * 1000));
    const conns = async () => ({ ...(await dialerConnections(hostProm)), ...(await dialerConnections(podProm)) });
    const conn0 = await conns();
    const cpu0 = await cpuOf(roots);
    const t0 = Date.now() / 1000;
    const rss: Record<string, number> = Object.fromEntries(names.map((n) => [n, 0]));
    while (Date.now() / 1000 < t0 + p.seconds) {
      const table = await processTable();
      for (const n of names) {
        rss[n] = Math.max(rss[n] ?? 0, await totalRss(rssRoots(n, table)));
      }
      await new Promise((r) => setTimeout(r, 1000));
    }
    const t1 = Date.now() / 1000;
    const cpu1 = await cpuOf(roots);
    const conn1 = await conns();
    const listeners = await hostListeners();
    const table = await processTable();

    // What a scraper that does not keep its connection pays: a TLS handshake per scrape. Round-robin over the paths.
    const token = (await readFile(tokenFile, 'utf8')).trim();
    const where: Record<string, { port: number; netns?: string }> = {
      direct: { port: sched.port },
      haproxy: { port: haproxyPort },
      hack: { port: hackPort },
      relay: { port: sidecar.port, netns: ns },
    };
    for (const e of extra) where[e.name] = { port: e.port, netns: ns };
    for (const e of hackExtra) where[e.name] = { port: e.port };
    const fresh: Record<string, number[]> = Object.fromEntries(names.map((n) => [n, []]));
    for (let i = 0; i < p.freshConnections; i++) {
      for (const n of names) {
        const w = where[n]!;
        const curl = [
          'curl',
          '-sk',
          '-o',
          '/dev/null',
          '-w',
          '%{http_code} %{time_total}',
          '-H',
          `Authorization: Bearer ${token}`,
          '-H',
          'Accept-Encoding: gzip',
          `https://127.0.0.1:${w.port}/metrics`,
        ];
        const r = await runCommand(
          w.netns ? 'ip' : 'curl',
          w.netns ? ['netns', 'exec', w.netns, ...curl] : curl.slice(1),
          { timeoutMs: 30_000, allowFail: true },
        );
        const [code, secs] = r.stdout.trim().split(' ');
        if (code === '200') fresh[n]?.push(Number(secs) * 1000);
      }
    }

    const stats: Record<string, PathStats> = {};
    for (const n of names) {
      const prom = promOf[n]!;
      const window = `[${Math.floor(t1 - t0)}s]`;
      const series = async (metric: string) =>
        (await query(prom, `${metric}{job="${n}"}${window}`, t1))[0]?.values.map(([, v]) => v) ?? [];
      const pids = new Set((roots[n] ?? []).flatMap((r) => [r, ...descendants(table, r)]));
      const exposed = n === 'direct' ? null : exposedListeners(listeners, pids).length;
      stats[n] = {
        durationsMs: (await series('scrape_duration_seconds')).map((s) => s * 1000),
        up: await series('up'),
        samples: await series('scrape_samples_scraped'),
        cpuMs: (cpu1[n] ?? 0) - (cpu0[n] ?? 0),
        connections: (conn1[n] ?? Number.NaN) - (conn0[n] ?? Number.NaN),
        rssBytes: rss[n] ?? 0,
        exposed,
        freshMs: fresh[n] ?? [],
      };
      log(
        `[scrape] ${n}: ${stats[n].durationsMs.length} scrapes, p50 ${percentile(stats[n].durationsMs, 50).toFixed(1)} ms, CPU ${stats[n].cpuMs} ms`,
      );
    }
    const agentRss = await totalRss([agent.pid]);
    const relaySocatCpuMs = (cpu1[RELAY_SOCATS] ?? 0) - (cpu0[RELAY_SOCATS] ?? 0);
    return scrapeFigures(stats, { ...p, window: t1 - t0, recorded, agentRssBytes: agentRss, relaySocatCpuMs });
  } finally {
    await cleanup.run();
  }
}

/** The pid of the process listening on `port` inside the namespace (the sidecar's socat). */
async function ipNetnsChild(ns: string, comm: string, port: number): Promise<number> {
  let pid = 0;
  await waitUntil(
    `${comm} listening on :${port} in ${ns}`,
    async () => {
      const r = await runCommand('ip', ['netns', 'exec', ns, 'ss', '-Hltnp', `sport = :${port}`], {
        timeoutMs: 5000,
        allowFail: true,
      });
      const m = new RegExp(`"${comm}",pid=(\\d+)`).exec(r.stdout);
      pid = m ? Number(m[1]) : 0;
      return pid > 0;
    },
    15_000,
    50,
  );
  return pid;
}

async function cpuOf(roots: Record<string, number[]>): Promise<Record<string, number>> {
  const table = await processTable();
  const out: Record<string, number> = {};
  for (const [n, rs] of Object.entries(roots)) {
    let sum = 0;
    for (const r of rs) sum += await treeCpuMs(r, table);
    out[n] = sum;
  }
  return out;
}

/** Pure: the figures (and their goals) from what each path measured. */
export function scrapeFigures(
  s: Record<string, PathStats>,
  p: ScrapeParams & { window: number; recorded: string; agentRssBytes: number; relaySocatCpuMs?: number },
): Figure[] {
  const d = s.direct;
  if (!d) throw new Error('no direct path measured');
  const p50 = (n: string) => percentile(s[n]?.durationsMs ?? [], 50);
  const p99 = (n: string) => percentile(s[n]?.durationsMs ?? [], 99);
  const perScrape = (n: string) =>
    s[n]?.durationsMs.length ? (s[n]?.cpuMs ?? 0) / s[n].durationsMs.length : Number.NaN;
  const upFraction = (n: string) => {
    const u = s[n]?.up ?? [];
    return u.length ? u.filter((x) => x === 1).length / u.length : Number.NaN;
  };
  const samplesDiffPct = (n: string) => Math.abs(median(s[n]?.samples ?? []) / median(d.samples) - 1) * 100;
  const names = Object.keys(s);
  const f: Figure[] = [];
  for (const n of names) {
    const count = s[n]?.durationsMs.length ?? 0;
    f.push(
      figure({
        name: n === 'direct' ? 'scrape p50, direct' : `scrape p50, ${n} / direct`,
        unit: 'ms',
        value: p50(n),
        ...(n === 'direct' ? {} : { baseline: p50('direct') }),
        ...(n === 'relay' ? { goal: { on: 'ratio' as const, op: '<=' as const, target: 1.5 } } : {}),
        note:
          n === 'direct'
            ? `scrape_duration_seconds over ${Math.round(p.window)} s, one scrape every ${p.intervalSeconds} s per path (${count} scrapes); ${p.recorded}`
            : `${count} scrapes`,
      }),
      figure({
        name: n === 'direct' ? 'scrape p99, direct' : `scrape p99, ${n} / direct`,
        unit: 'ms',
        value: p99(n),
        ...(n === 'direct' ? {} : { baseline: p99('direct') }),
      }),
      figure({
        name:
          n === 'direct'
            ? 'fresh TLS connection + GET /metrics p50, direct'
            : `fresh TLS connection + GET /metrics p50, ${n} / direct`,
        unit: 'ms',
        value: percentile(s[n]?.freshMs ?? [], 50),
        ...(n === 'direct' ? {} : { baseline: percentile(d.freshMs, 50) }),
        note: `curl, a new connection and TLS handshake per request, ${s[n]?.freshMs.length ?? 0} answered with 200 (Prometheus kept its connections alive; this is the scraper that does not)`,
      }),
      figure({
        name: `new connections per scrape, ${n}`,
        unit: 'count',
        value: count ? (s[n]?.connections ?? Number.NaN) / count : Number.NaN,
        note: "Prometheus's own net_conntrack_dialer_conn_established_total for the job",
      }),
      figure({ name: `up, ${n}`, unit: 'fraction', value: upFraction(n), goal: { on: 'value', op: '>=', target: 1 } }),
    );
    if (n !== 'direct') {
      f.push(
        figure({
          name: `samples scraped, ${n} vs direct`,
          unit: '% apart',
          value: samplesDiffPct(n),
          goal: { on: 'value', op: '<=', target: 1 },
          note: `medians ${median(s[n]?.samples ?? [])} vs ${median(d.samples)}`,
        }),
      );
    }
  }
  for (const n of names.filter((x) => x !== 'direct')) {
    const relay = n.startsWith('relay');
    f.push(
      figure({
        name: `CPU per scrape, ${n}${relay ? ' / haproxy' : ''}`,
        unit: 'ms',
        value: perScrape(n),
        ...(relay ? { baseline: perScrape('haproxy') } : {}),
        ...(n === 'relay' ? { goal: { on: 'ratio' as const, op: '<=' as const, target: 1 } } : {}),
        note: relay
          ? "sidecar socat + node-side socat + the agent (which reads the node socat's connection log), forked children included"
          : n.startsWith('hack')
            ? 'the listening socat and its forked children'
            : 'the haproxy process',
      }),
    );
    if (n === 'relay') {
      f.push(
        figure({
          name: 'CPU per scrape, relay / hack',
          unit: 'ms',
          value: perScrape('relay'),
          baseline: perScrape('hack'),
          goal: { on: 'ratio', op: '<=', target: 2 },
        }),
      );
      const count = s.relay?.durationsMs.length ?? 0;
      if (p.relaySocatCpuMs !== undefined && count) {
        f.push(
          figure({
            name: "CPU per scrape, relay's two socats only / haproxy",
            unit: 'ms',
            value: p.relaySocatCpuMs / count,
            baseline: perScrape('haproxy'),
            note: 'the same without the agent',
          }),
        );
      }
    }
    f.push(
      figure({
        name: `RSS of the path's processes, ${n}`,
        unit: 'MiB',
        value: (s[n]?.rssBytes ?? 0) / MiB,
        ...(relay
          ? {
              note: `peak of 1 s samples; sidecar + node-side socat${n === 'relay' ? ` (the agent, shared by every relay of the node, held ${(p.agentRssBytes / MiB).toFixed(0)} MiB more)` : ''}`,
            }
          : { note: 'peak of 1 s samples' }),
      }),
    );
    f.push(
      figure({
        name: `listening sockets on the node's network (not loopback), ${n}`,
        unit: 'count',
        value: s[n]?.exposed ?? Number.NaN,
        ...(n === 'relay' ? { goal: { on: 'value' as const, op: '<=' as const, target: 0 } } : {}),
      }),
    );
  }
  return f;
}

export async function main(env: NodeJS.ProcessEnv, log: Log): Promise<Figure[]> {
  return benchScrape(scrapeParams(env), log);
}
