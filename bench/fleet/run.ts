// The fleet benchmark (npm run bench:fleet): what one node's controller costs the cluster as the cluster
// grows, on the real API server. For each N: a fresh control plane (etcd + kube-apiserver +
// kube-controller-manager from .testbin/), the CRDs, R Relays selecting every node, ONE simulator process
// (simulator.ts) standing for N nodes (Nodes, kubelet node-Lease heartbeats every 10 s, Node status, and
// the socat-relay Lease and report of every node without a real controller), then K reconcile-only
// controllers plus one serving (elected) controller as real processes, each with its node agent, each
// behind a counting proxy (proxy.ts: what the controller receives and sends, measured on its side).
// Idle for a window: per controller watch events, bytes and requests per second; the API server's
// /metrics; a Relay's and a RelayNode's stored size (kubectl get -o json | wc -c); RSS and CPU of the
// processes. Then a rollout: every controller stopped and started again at once, its requests counted.
// The same runs with the design before RelayNodes (its code from git history, processes.ts) at the
// N of BENCH_FLEET_OLD_N, in the same benchmark run, as the baseline.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { readFileSync } from 'node:fs';
import { parseAllDocuments } from 'yaml';
import {
  DEFAULT_TESTBIN,
  POD_CONTROLLERS,
  installCrds,
  startControlPlane,
  waitForCrdEstablished,
  type ControlPlane,
  type KubeObject,
} from '../../test/harness/index.js';
import { nodeArgs } from '../lib/build.js';
import { figure, type Figure, type Goal } from '../lib/figures.js';
import { list, num, str } from '../lib/params.js';
import {
  Cleanup,
  cpuMsOf,
  descendants,
  processTable,
  rssOf,
  runCommand,
  startProcess,
  type Managed,
} from '../lib/proc.js';
import { flatWithin, growthExponent, parsePrometheus, ratePerSecond, total, type Sample } from './measure.js';
import { prepareOldTree, startAgent, startFleetController, type Design, type FleetController } from './processes.js';
import { startCountingProxy, type CountingProxy, type ProxyCounts } from './proxy.js';
import type { SimulatorConfig } from './simulator.js';

const NS = 'socat-relay-system';
/** The last commit before the RelayNode topology (508791a): every controller watched every Node and Lease. */
const OLD_COMMIT = '26c9f1781da2c332d6003f9a71359d380b3f4ec6';

export interface FleetParams {
  ns: number[];
  oldNs: number[];
  oldCommit: string;
  /** Reconcile-only controllers (the socat-relay-node DaemonSet); one serving controller is added. */
  k: number;
  relays: number;
  windowSeconds: number;
  settleSeconds: number;
  rolloutSeconds: number;
  concurrency: number;
  statusSeconds: number;
}

export function fleetParams(env: NodeJS.ProcessEnv): FleetParams {
  const old = str(env, 'BENCH_FLEET_OLD', ['1', '0'], '1');
  return {
    ns: list(env, 'BENCH_FLEET_N', [100, 1000, 5000], [100]),
    oldNs: old === '0' ? [] : list(env, 'BENCH_FLEET_OLD_N', [100, 1000], [100]),
    oldCommit: env.BENCH_FLEET_OLD_COMMIT || OLD_COMMIT,
    k: Math.max(5, Math.round(num(env, 'BENCH_FLEET_K', 5))),
    relays: Math.round(num(env, 'BENCH_FLEET_RELAYS', 3)),
    windowSeconds: num(env, 'BENCH_FLEET_WINDOW_SECONDS', 120, 40),
    settleSeconds: num(env, 'BENCH_FLEET_SETTLE_SECONDS', 30, 15),
    rolloutSeconds: num(env, 'BENCH_FLEET_ROLLOUT_SECONDS', 30, 20),
    concurrency: Math.round(num(env, 'BENCH_FLEET_CONCURRENCY', 16)),
    statusSeconds: num(env, 'BENCH_FLEET_NODE_STATUS_SECONDS', 60),
  };
}

/** One controller's traffic over a window, from its proxy. */
export interface Traffic {
  eventsPerSecond: number;
  /** Of the events, the API server's BOOKMARKs (no object changed: a watch's progress marker). */
  bookmarksPerSecond?: number;
  bytesPerSecond: number;
  requestsPerSecond: number;
}

export function traffic(before: ProxyCounts, after: ProxyCounts, seconds: number): Traffic {
  return {
    eventsPerSecond: ratePerSecond(before.watchEvents, after.watchEvents, seconds),
    bookmarksPerSecond: ratePerSecond(before.bookmarks, after.bookmarks, seconds),
    bytesPerSecond: ratePerSecond(before.bytesIn, after.bytesIn, seconds),
    requestsPerSecond: ratePerSecond(before.requests, after.requests, seconds),
  };
}

export function meanTraffic(ts: readonly Traffic[]): Traffic {
  const m = (f: (t: Traffic) => number) => ts.reduce((s, t) => s + f(t), 0) / Math.max(1, ts.length);
  return {
    eventsPerSecond: m((t) => t.eventsPerSecond),
    bookmarksPerSecond: m((t) => t.bookmarksPerSecond ?? 0),
    bytesPerSecond: m((t) => t.bytesPerSecond),
    requestsPerSecond: m((t) => t.requestsPerSecond),
  };
}

export interface ApiserverRates {
  watchEventsPerSecond: number;
  /** Of them, events of Relays (each Relay change, sent to every node's Relay watch). */
  relayWatchEventsPerSecond?: number;
  watchBytesPerSecond: number;
  requestsPerSecond: number;
  etcdMeanMs: number;
}

const relays = (l: Record<string, string>) => l.resource === 'relays';

/** The API server's own view over a window, from two scrapes of its /metrics. */
export function apiserverRates(before: readonly Sample[], after: readonly Sample[], seconds: number): ApiserverRates {
  const d = (name: string) => ratePerSecond(total(before, name), total(after, name), seconds);
  const etcdSum =
    total(after, 'etcd_request_duration_seconds_sum') - total(before, 'etcd_request_duration_seconds_sum');
  const etcdCount =
    total(after, 'etcd_request_duration_seconds_count') - total(before, 'etcd_request_duration_seconds_count');
  return {
    watchEventsPerSecond: d('apiserver_watch_events_total'),
    relayWatchEventsPerSecond: ratePerSecond(
      total(before, 'apiserver_watch_events_total', relays),
      total(after, 'apiserver_watch_events_total', relays),
      seconds,
    ),
    watchBytesPerSecond: d('apiserver_watch_events_sizes_sum'),
    requestsPerSecond: d('apiserver_request_total'),
    etcdMeanMs: etcdCount > 0 ? (etcdSum / etcdCount) * 1000 : Number.NaN,
  };
}

export interface Point {
  design: Design;
  n: number;
  /** Each reconcile-only controller (the old design: every controller but the first). */
  nodes: Traffic[];
  /** The serving controller (the new design's elected one; the old design's first). */
  serving: Traffic;
  apiserver: ApiserverRates;
  relayBytes: number;
  relayNodeBytes: number;
  footprint: { controllerRss: number; agentRss: number; socatRss: number; controllerMc: number; agentMc: number };
  servingRss: number;
  servingMc: number;
  rollout: { requests: number; bytes: number; peakPerSecond: number; seconds: number; readySeconds: number };
  simulator: { writesPerSecond: number; failed: number; late: number; lastError: string };
  settledAfterSeconds: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function apiserverMetrics(cp: ControlPlane): Promise<Sample[]> {
  const r = await cp.client.raw('GET', '/metrics', { accept: 'text/plain' });
  return parsePrometheus(typeof r.body === 'string' ? r.body : '');
}

/** `kubectl get <kind> <name> -o json | wc -c` (0 when it does not exist). */
async function storedBytes(cp: ControlPlane, kind: string, name: string): Promise<number> {
  const kubectl = path.join(DEFAULT_TESTBIN, 'kubectl');
  const r = await runCommand(kubectl, ['--kubeconfig', cp.kubeconfigPath, 'get', kind, name, '-o', 'json'], {
    allowFail: true,
    timeoutMs: 60_000,
  });
  return r.code === 0 ? Buffer.byteLength(r.stdout) : 0;
}

async function installOldCrds(cp: ControlPlane, oldRoot: string): Promise<void> {
  const file = path.join(oldRoot, 'manifests', 'crd', 'relays.socat.io.yaml');
  const crds = parseAllDocuments(readFileSync(file, 'utf8'))
    .map((d) => d.toJS() as KubeObject)
    .filter((o) => o?.kind === 'CustomResourceDefinition');
  for (const c of crds) await cp.client.apply(c);
  for (const c of crds) await waitForCrdEstablished(cp.client, c.metadata.name);
}

interface SimulatorHandle {
  proc: Managed;
  lastStats(): { writesPerSecond: number; failed: number; late: number; lastError: string };
}

export async function startSimulator(
  cfg: SimulatorConfig,
  dir: string,
  cleanup: Cleanup,
  log: (s: string) => void,
): Promise<SimulatorHandle> {
  const file = path.join(dir, 'simulator.json');
  await writeFile(file, JSON.stringify(cfg), { mode: 0o600 });
  const proc = startProcess(process.execPath, [...(await nodeArgs('bench/fleet/simulator.ts')), file], cleanup);
  let stats = { writesPerSecond: Number.NaN, failed: 0, late: 0, lastError: '' };
  let running = false;
  let seen = 0;
  const poll = setInterval(() => {
    const lines = proc.stdout().split('\n').filter(Boolean);
    for (const line of lines.slice(seen)) {
      try {
        const o = JSON.parse(line) as { phase: string } & typeof stats;
        if (o.phase === 'running') running = true;
        if (o.phase === 'stats') stats = o;
        if (o.phase !== 'stats') log(`[fleet]   simulator: ${line}`);
      } catch {
        /* a partial line: read again next time */
      }
    }
    seen = lines.length;
  }, 500);
  cleanup.add('simulator poll', () => clearInterval(poll));
  const t0 = Date.now();
  while (!running) {
    if (proc.child.exitCode !== null) throw new Error(`the simulator exited: ${proc.stderr().slice(-1500)}`);
    if (Date.now() - t0 > 30 * 60_000) throw new Error('the simulator did not register its nodes in 30 minutes');
    await sleep(500);
  }
  return { proc, lastStats: () => stats };
}

export interface RelayRef {
  name: string;
  uid: string;
  generation: number;
}

export async function createRelays(cp: ControlPlane, count: number): Promise<RelayRef[]> {
  const out: RelayRef[] = [];
  for (let i = 0; i < count; i++) {
    const name = `fleet-${i}`;
    const r = await cp.client.apply<KubeObject>({
      apiVersion: 'socat.io/v1alpha1',
      kind: 'Relay',
      metadata: { name },
      spec: { target: { host: '127.0.0.1', port: 19100 + i }, consumers: { namespaces: ['monitoring'] } },
    });
    out.push({
      name,
      uid: typeof r.metadata.uid === 'string' ? r.metadata.uid : '',
      generation: typeof r.metadata.generation === 'number' ? r.metadata.generation : 1,
    });
  }
  return out;
}

/** Until every Relay's status counts every node (the elected summary, or the old status.nodes), or the timeout. */
export async function waitSettled(
  cp: ControlPlane,
  design: Design,
  relays: RelayRef[],
  n: number,
  timeoutMs: number,
): Promise<boolean> {
  const t0 = Date.now();
  while (Date.now() - t0 < timeoutMs) {
    let done = true;
    for (const r of relays) {
      const x = await cp.client.getOrUndefined<KubeObject & { status?: { desiredNodes?: number; nodes?: unknown[] } }>(
        'socat.io/v1alpha1',
        'Relay',
        r.name,
      );
      const count = design === 'new' ? x?.status?.desiredNodes : x?.status?.nodes?.length;
      if (count !== n) done = false;
    }
    if (done) return true;
    await sleep(2000);
  }
  return false;
}

export async function cpuOfTree(pid: number): Promise<number> {
  const table = await processTable();
  let sum = 0;
  for (const p of [pid, ...descendants(table, pid)]) sum += await cpuMsOf(p);
  return sum;
}

export async function socatRssOf(agentPid: number): Promise<number> {
  const table = await processTable();
  let sum = 0;
  for (const p of descendants(table, agentPid)) sum += await rssOf(p);
  return sum;
}

export async function leaderNode(cp: ControlPlane): Promise<string | undefined> {
  const l = await cp.client.getOrUndefined<KubeObject & { spec?: { holderIdentity?: string } }>(
    'coordination.k8s.io/v1',
    'Lease',
    'socat-relay-leader',
    NS,
  );
  const holder = l?.spec?.holderIdentity;
  return holder ? holder.split('/')[0] : undefined;
}

/** One design at one N: set up, settle, measure idle, roll out, tear down. */
async function runPoint(
  design: Design,
  n: number,
  p: FleetParams,
  oldRoot: string | undefined,
  log: (s: string) => void,
): Promise<Point> {
  const cleanup = new Cleanup();
  const dir = await mkdtemp(path.join(os.tmpdir(), `socat-relay-fleet-${design}-${n}-`));
  cleanup.add(`remove ${dir}`, () => rm(dir, { recursive: true, force: true }));
  try {
    log(`[fleet] ${design} design, N=${n}: control plane`);
    const cp = await startControlPlane({ controllers: POD_CONTROLLERS, namespaces: [NS, 'monitoring'] });
    cleanup.add('control plane', () => cp.stop());
    if (design === 'new') await installCrds(cp.client);
    else await installOldCrds(cp, oldRoot!);
    const relays = await createRelays(cp, p.relays);
    const names = Array.from({ length: n }, (_, i) => `node-${String(i).padStart(5, '0')}`);
    const real = names.slice(0, p.k + 1);
    const user = cp.kc.getCurrentUser();
    const b64 = (s: string | undefined) => Buffer.from(s ?? '', 'base64').toString('utf8');
    const upstream = {
      url: cp.url,
      ca: readFileSync(path.join(cp.dir, 'ca.crt'), 'utf8'),
      cert: b64(user?.certData),
      key: b64(user?.keyData),
    };
    log(`[fleet] ${design} N=${n}: simulator registers ${n} nodes`);
    const t0 = Date.now();
    const sim = await startSimulator(
      {
        server: cp.url,
        ...upstream,
        nodes: names,
        controllers: names.slice(p.k + 1),
        mode: design,
        namespace: NS,
        relays,
        heartbeatSeconds: 10,
        statusSeconds: p.statusSeconds,
        concurrency: p.concurrency,
      },
      dir,
      cleanup,
      log,
    );
    log(`[fleet] ${design} N=${n}: simulator running after ${((Date.now() - t0) / 1000).toFixed(0)} s`);
    const proxies: CountingProxy[] = [];
    const agents: Managed[] = [];
    for (const node of real) {
      const proxy = await startCountingProxy(upstream);
      cleanup.add(`proxy of ${node}`, () => proxy.close());
      proxies.push(proxy);
      agents.push(await startAgent(design, oldRoot, path.join(dir, node), cleanup));
    }
    // All at once, as a DaemonSet's pods start on a new cluster.
    const controllers: FleetController[] = await Promise.all(
      real.map((node, i) =>
        startFleetController(
          {
            design,
            oldRoot,
            node,
            serving: i === 0,
            namespace: NS,
            dir: path.join(dir, node),
            proxyPort: proxies[i]!.port,
          },
          cleanup,
        ),
      ),
    );
    const tSettle = Date.now();
    const settled = await waitSettled(cp, design, relays, n, Math.max(120_000, n * 60));
    const settledAfterSeconds = (Date.now() - tSettle) / 1000;
    log(
      `[fleet] ${design} N=${n}: ${settled ? 'settled' : 'NOT settled'} after ${settledAfterSeconds.toFixed(0)} s; idle ${p.settleSeconds} s more`,
    );
    await sleep(p.settleSeconds * 1000);

    // The idle window.
    const snap = async () => ({
      t: Date.now(),
      counts: proxies.map((x) => x.counts()),
      metrics: await apiserverMetrics(cp),
      cpu: await Promise.all([...controllers.map((c) => cpuOfTree(c.proc.pid)), ...agents.map((a) => cpuMsOf(a.pid))]),
    });
    const a = await snap();
    await sleep(p.windowSeconds * 1000);
    const b = await snap();
    const secs = (b.t - a.t) / 1000;
    const per = controllers.map((_, i) => traffic(a.counts[i]!, b.counts[i]!, secs));
    const mc = (i: number) => (b.cpu[i]! - a.cpu[i]!) / secs; // ms per s = millicores
    const leader = design === 'new' ? await leaderNode(cp) : real[0];
    const servingIndex = Math.max(0, real.indexOf(leader ?? real[0]!));
    const nodeIndexes = real.map((_, i) => i).filter((i) => i !== servingIndex);
    const worker = nodeIndexes[0]!;
    const point: Point = {
      design,
      n,
      nodes: nodeIndexes.map((i) => per[i]!),
      serving: per[servingIndex]!,
      apiserver: apiserverRates(a.metrics, b.metrics, secs),
      relayBytes: await storedBytes(cp, 'relays.socat.io', relays[0]!.name),
      relayNodeBytes: design === 'new' ? await storedBytes(cp, 'relaynodes.socat.io', real[worker]!) : 0,
      footprint: {
        controllerRss: await rssOf(controllers[worker]!.proc.pid),
        agentRss: await rssOf(agents[worker]!.pid),
        socatRss: await socatRssOf(agents[worker]!.pid),
        controllerMc: mc(worker),
        agentMc: mc(controllers.length + worker),
      },
      servingRss: await rssOf(controllers[servingIndex]!.proc.pid),
      servingMc: mc(servingIndex),
      rollout: { requests: 0, bytes: 0, peakPerSecond: 0, seconds: 0, readySeconds: 0 },
      simulator: sim.lastStats(),
      settledAfterSeconds: settled ? settledAfterSeconds : Number.NaN,
    };
    log(
      `[fleet] ${design} N=${n}: idle ${JSON.stringify({ nodes: point.nodes, serving: point.serving, apiserver: point.apiserver })}`,
    );

    // The rollout: every controller stopped, then all started again at once (a DaemonSet update).
    await Promise.all(controllers.map((c) => c.proc.stop(10_000)));
    const r0 = proxies.map((x) => x.counts());
    const restarted = Promise.all(
      controllers.map((c) =>
        startFleetController(c.spec, cleanup).catch((e: unknown) => log(`[fleet] restart: ${String(e)}`)),
      ),
    );
    let ready = false;
    void restarted.then(() => (ready = true));
    let readyAt: number | undefined;
    const t1 = Date.now();
    let prev = r0.reduce((s, c) => s + c.requests, 0);
    // Until every controller is ready again, then rolloutSeconds more: the start's requests, all of them.
    while (readyAt === undefined || Date.now() - readyAt < p.rolloutSeconds * 1000) {
      await sleep(1000);
      if (ready) readyAt ??= Date.now();
      const now = proxies.reduce((s, x) => s + x.counts().requests, 0);
      point.rollout.peakPerSecond = Math.max(point.rollout.peakPerSecond, now - prev);
      prev = now;
    }
    point.rollout.seconds = Math.round((Date.now() - t1) / 1000);
    point.rollout.readySeconds = Math.round(((readyAt ?? Date.now()) - t1) / 1000);
    const r1 = proxies.map((x) => x.counts());
    point.rollout.requests = r1.reduce((s, c, i) => s + c.requests - r0[i]!.requests, 0);
    point.rollout.bytes = r1.reduce((s, c, i) => s + c.bytesIn - r0[i]!.bytesIn, 0);
    log(`[fleet] ${design} N=${n}: rollout ${JSON.stringify(point.rollout)}`);
    return point;
  } finally {
    await cleanup.run();
  }
}

const KIB = 1024;
const MIB = 1024 * 1024;
const le = (target: number): Goal => ({ on: 'value', op: '<=', target });

/** The figures of every point, the goals of issue 19 judged on the new design, the old one as the baseline. */
export function fleetFigures(points: readonly Point[], k: number): Figure[] {
  const out: Figure[] = [];
  const news = points.filter((x) => x.design === 'new').sort((x, y) => x.n - y.n);
  const olds = points.filter((x) => x.design === 'old');
  const oldAt = (n: number) => olds.find((x) => x.n === n);
  const nMax = news.at(-1)?.n;
  for (const x of [...news, ...olds.sort((a, b) => a.n - b.n)]) {
    const base = x.design === 'new' ? oldAt(x.n) : undefined;
    const tag = `${x.design === 'new' ? 'now' : 'before'} N=${x.n}`;
    const node = meanTraffic(x.nodes);
    const bn = base ? meanTraffic(base.nodes) : undefined;
    const goalsHere = x.design === 'new';
    const atMax = goalsHere && x.n === nMax;
    out.push(
      figure({
        name: `${tag}: node controller watch events`,
        unit: 'events/s',
        value: node.eventsPerSecond,
        ...(bn ? { baseline: bn.eventsPerSecond } : {}),
        ...(atMax ? { goal: le(0.1) } : {}),
        note: `mean of ${x.nodes.length} reconcile-only controllers, of which bookmarks ${(node.bookmarksPerSecond ?? 0).toFixed(3)}/s; each: ${x.nodes.map((t) => t.eventsPerSecond.toFixed(3)).join(', ')}`,
      }),
      figure({
        name: `${tag}: node controller received`,
        unit: 'B/s',
        value: node.bytesPerSecond,
        ...(bn ? { baseline: bn.bytesPerSecond } : {}),
        ...(atMax ? { goal: le(KIB) } : {}),
      }),
      figure({
        name: `${tag}: node controller requests`,
        unit: 'req/s',
        value: node.requestsPerSecond,
        ...(bn ? { baseline: bn.requestsPerSecond } : {}),
      }),
      figure({
        name: `${tag}: ${x.design === 'new' ? 'elected' : 'serving'} controller watch events`,
        unit: 'events/s',
        value: x.serving.eventsPerSecond,
        ...(base ? { baseline: base.serving.eventsPerSecond } : {}),
      }),
      figure({
        name: `${tag}: ${x.design === 'new' ? 'elected' : 'serving'} controller received`,
        unit: 'B/s',
        value: x.serving.bytesPerSecond,
        ...(base ? { baseline: base.serving.bytesPerSecond } : {}),
      }),
      figure({
        name: `${tag}: ${x.design === 'new' ? 'elected' : 'serving'} controller requests`,
        unit: 'req/s',
        value: x.serving.requestsPerSecond,
        ...(base ? { baseline: base.serving.requestsPerSecond } : {}),
      }),
      figure({
        name: `${tag}: ${x.design === 'new' ? 'elected' : 'serving'} controller RSS`,
        unit: 'MiB',
        value: x.servingRss / MIB,
        ...(base ? { baseline: base.servingRss / MIB } : {}),
      }),
      figure({
        name: `${tag}: API server watch events sent`,
        unit: 'events/s',
        value: x.apiserver.watchEventsPerSecond,
        ...(base ? { baseline: base.apiserver.watchEventsPerSecond } : {}),
        note: `of which Relay events ${(x.apiserver.relayWatchEventsPerSecond ?? Number.NaN).toFixed(3)}/s`,
      }),
      figure({
        name: `${tag}: API server watch bytes sent`,
        unit: 'B/s',
        value: x.apiserver.watchBytesPerSecond,
        ...(base ? { baseline: base.apiserver.watchBytesPerSecond } : {}),
      }),
      figure({
        name: `${tag}: API server requests`,
        unit: 'req/s',
        value: x.apiserver.requestsPerSecond,
        ...(base ? { baseline: base.apiserver.requestsPerSecond } : {}),
        note: `the simulator sent ${x.simulator.writesPerSecond.toFixed(1)} writes/s (failed ${x.simulator.failed}, late ${x.simulator.late}${x.simulator.lastError ? `; last error: ${x.simulator.lastError.slice(0, 160)}` : ''})`,
      }),
      figure({
        name: `${tag}: etcd request mean`,
        unit: 'ms',
        value: x.apiserver.etcdMeanMs,
        ...(base ? { baseline: base.apiserver.etcdMeanMs } : {}),
      }),
      figure({
        name: `${tag}: Relay stored size`,
        unit: 'bytes',
        value: x.relayBytes,
        ...(base ? { baseline: base.relayBytes } : {}),
        ...(atMax ? { goal: le(16 * KIB) } : {}),
        note: 'kubectl get relays.socat.io <name> -o json | wc -c',
      }),
      ...(x.design === 'new'
        ? [
            figure({
              name: `${tag}: RelayNode stored size`,
              unit: 'bytes',
              value: x.relayNodeBytes,
              note: `${k} relays select the node`,
            }),
          ]
        : []),
      figure({
        name: `${tag}: rollout of ${x.nodes.length + 1} controllers, peak`,
        unit: 'req/s',
        value: x.rollout.peakPerSecond,
        ...(base ? { baseline: base.rollout.peakPerSecond } : {}),
        ...(goalsHere ? { goal: le(10 * (x.nodes.length + 1)) } : {}),
        note: `${x.rollout.requests} requests and ${(x.rollout.bytes / KIB).toFixed(0)} KiB received in the ${x.rollout.seconds} s after all were started at once (all ready after ${x.rollout.readySeconds} s)`,
      }),
      figure({
        name: `${tag}: rollout received`,
        unit: 'KiB',
        value: x.rollout.bytes / KIB,
        ...(base ? { baseline: base.rollout.bytes / KIB } : {}),
      }),
    );
  }
  // Flat in N, linear in N: judged between the smallest and the largest N of the new design.
  const lo = news[0];
  const hi = news.at(-1);
  if (lo && hi && hi.n > lo.n) {
    const ln = meanTraffic(lo.nodes);
    const hn = meanTraffic(hi.nodes);
    const dev = (a: number, b: number) => (a === 0 ? (b === 0 ? 0 : Number.POSITIVE_INFINITY) : Math.abs(b / a - 1));
    out.push(
      figure({
        name: `node controller events/s, N=${hi.n} vs N=${lo.n}: |ratio − 1|`,
        unit: '',
        value: dev(ln.eventsPerSecond, hn.eventsPerSecond),
        goal: le(0.2),
        note: flatWithin(ln.eventsPerSecond, hn.eventsPerSecond, 0.2) ? 'flat in N' : 'not within 20 %',
      }),
      figure({
        name: `node controller bytes/s, N=${hi.n} vs N=${lo.n}: |ratio − 1|`,
        unit: '',
        value: dev(ln.bytesPerSecond, hn.bytesPerSecond),
        goal: le(0.2),
      }),
    );
    const exp = (f: (x: Point) => number) => growthExponent(news.map((x) => ({ n: x.n, value: f(x) })));
    out.push(
      figure({
        name: `elected controller events/s ∝ N^k: k`,
        unit: '',
        value: exp((x) => x.serving.eventsPerSecond),
        goal: le(1.2),
        note: '1 = linear, 2 = quadratic',
      }),
      figure({
        name: `elected controller bytes/s ∝ N^k: k`,
        unit: '',
        value: exp((x) => x.serving.bytesPerSecond),
        goal: le(1.2),
      }),
      figure({
        name: `API server watch bytes/s ∝ N^k: k`,
        unit: '',
        value: exp((x) => x.apiserver.watchBytesPerSecond),
        goal: le(1.2),
      }),
    );
  }
  // The footprint of a worker: the reconcile-only controller and its agent, idle, at the largest N.
  if (hi) {
    const f = hi.footprint;
    out.push(
      figure({
        name: `worker footprint RSS (controller + agent), N=${hi.n}`,
        unit: 'MiB',
        value: (f.controllerRss + f.agentRss) / MIB,
        goal: le(128),
        note: `controller ${(f.controllerRss / MIB).toFixed(1)} MiB, agent ${(f.agentRss / MIB).toFixed(1)} MiB, its socat children ${(f.socatRss / MIB).toFixed(1)} MiB more`,
      }),
      figure({
        name: `worker footprint CPU (controller + agent), N=${hi.n}`,
        unit: 'millicores',
        value: f.controllerMc + f.agentMc,
        goal: le(2),
        note: `controller ${f.controllerMc.toFixed(2)}, agent ${f.agentMc.toFixed(2)} millicores (CPU time over the idle window)`,
      }),
    );
  }
  return out;
}

/**
 * The size of the image the Dockerfile's default target builds (scripts/build-image.sh), by `podman
 * image inspect`: this tree's tag, else the newest localhost/socat-relay image (named in the note); none
 * is built here (a few minutes of both cores, and not this benchmark's job).
 */
async function imageSize(log: (s: string) => void): Promise<{ bytes: number; tag: string } | undefined> {
  const tags = await runCommand('bash', ['scripts/build-image.sh', '--print'], { allowFail: true, timeoutMs: 60_000 });
  const own = /localhost\/socat-relay:[^\s"']+/.exec(tags.stdout)?.[0];
  const inspect = (tag: string) =>
    runCommand('podman', ['image', 'inspect', '--format', '{{.Size}}', tag], { allowFail: true, timeoutMs: 60_000 });
  if (own) {
    const r = await inspect(own);
    if (r.code === 0) return { bytes: Number(r.stdout.trim()), tag: own };
  }
  const list = await runCommand(
    'podman',
    ['images', '--sort', 'created', '--format', '{{.Repository}}:{{.Tag}}', 'localhost/socat-relay'],
    { allowFail: true, timeoutMs: 60_000 },
  );
  const newest = list.stdout.split('\n').find((l) => l.startsWith('localhost/socat-relay:'));
  if (!newest) {
    log('[fleet] no localhost/socat-relay image (scripts/build-image.sh builds it): its size is not measured');
    return undefined;
  }
  const r = await inspect(newest);
  return r.code === 0 ? { bytes: Number(r.stdout.trim()), tag: newest } : undefined;
}

export async function main(env: NodeJS.ProcessEnv, log: (s: string) => void): Promise<Figure[]> {
  const p = fleetParams(env);
  log(`[fleet] ${JSON.stringify(p)}`);
  const oldRoot = p.oldNs.length ? await prepareOldTree(p.oldCommit) : undefined;
  const points: Point[] = [];
  const order: [Design, number][] = [];
  for (const n of [...new Set([...p.ns, ...p.oldNs])].sort((a, b) => a - b)) {
    if (p.oldNs.includes(n)) order.push(['old', n]);
    if (p.ns.includes(n)) order.push(['new', n]);
  }
  for (const [design, n] of order) points.push(await runPoint(design, n, p, oldRoot, log));
  const figures = fleetFigures(points, p.relays);
  const image = await imageSize(log);
  if (image)
    figures.push(
      figure({
        name: 'controller/agent image (podman)',
        unit: 'MB',
        value: image.bytes / 1e6,
        goal: le(200),
        note: image.tag,
      }),
    );
  return figures;
}
