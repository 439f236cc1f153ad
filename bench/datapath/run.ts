// The data-path benchmark: the node's loopback service reached directly, through one socat hop, and
// through the relay (sidecar in the pod's network namespace → Unix socket → node side), interleaved in
// every run so that the machine's noise hits all three alike. Figures are medians over the runs.
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { figure, type Figure } from '../lib/figures.js';
import { canConnect, freePort, waitUntil } from '../lib/net.js';
import { createNetns, deleteNetns, NetnsUnavailable, netnsName } from '../lib/netns.js';
import { list, num, str } from '../lib/params.js';
import { nodeArgs } from '../lib/build.js';
import { Cleanup, runCommand, startProcess } from '../lib/proc.js';
import { median, percentile } from '../lib/stats.js';
import type { Task, TaskResult } from './client.js';
import { startNodeSide, type NodeSideKind } from './node-side.js';
import { startServices, type Services } from './service.js';
import { benchRelay, startHop, startSidecar, type ArgvEdit, type Path } from './topology.js';

const MiB = 1 << 20;

export interface DatapathParams {
  runs: number;
  bulkBytes: number;
  iperfSeconds: number;
  keepaliveRequests: number;
  newConnections: number;
  burstConnections: number;
  burstRounds: number;
  udpRates: number[];
  udpSeconds: number;
  udpSize: number;
  udpQueries: number;
  nodeSide: NodeSideKind | 'auto';
  /** Extra chain variants to measure next to the relay as shipped (see VARIANTS). */
  variants: string[];
}

export function datapathParams(env: NodeJS.ProcessEnv): DatapathParams {
  return {
    runs: num(env, 'BENCH_RUNS', 3, 1),
    bulkBytes: num(env, 'BENCH_BULK_MB', 1024, 64) * MiB,
    iperfSeconds: num(env, 'BENCH_IPERF_SECONDS', 3, 1),
    keepaliveRequests: num(env, 'BENCH_KEEPALIVE_REQUESTS', 2000, 200),
    newConnections: num(env, 'BENCH_NEW_CONNECTIONS', 1000, 100),
    burstConnections: num(env, 'BENCH_BURST', 300, 50),
    burstRounds: num(env, 'BENCH_BURST_ROUNDS', 3, 1),
    udpRates: list(env, 'BENCH_UDP_RATES', [1000, 5000, 10000, 20000, 40000, 80000], [1000, 5000]),
    udpSeconds: num(env, 'BENCH_UDP_SECONDS', 1, 0.5),
    udpSize: num(env, 'BENCH_UDP_SIZE', 512),
    udpQueries: num(env, 'BENCH_UDP_QUERIES', 200, 50),
    nodeSide: str(env, 'BENCH_NODE_SIDE', ['auto', 'agent', 'socat'] as const, 'auto'),
    variants: (env.BENCH_VARIANTS ?? '')
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean),
  };
}

/** Proposed changes to the relay's socat options, measured as extra chains when asked for. */
export const VARIANTS: Record<string, { describe: string; node: ArgvEdit; sidecar: ArgvEdit }> = {
  nolog: {
    describe: 'node side = nodeArgv without -d -d (no per-connection log lines for the agent to read), run directly',
    node: (a) => a,
    sidecar: (a) => a,
  },
  b8k: {
    describe: 'socat default buffer -b8192 on both halves',
    node: (a) => a.map((x) => (x.startsWith('-b') ? '-b8192' : x)),
    sidecar: (a) => a.map((x) => (x.startsWith('-b') ? '-b8192' : x)),
  },
  // The shipped fixes, undone: each A/B of a fix is re-run by naming its variant.
  'udp-no-rcvbuf': {
    describe:
      "UDP one-way without the 4 MiB rcvbuf on the sidecar's UDP-RECV and the node side's UNIX-RECV (the relay before that fix)",
    node: (a) => a.map((x) => x.replace(/,rcvbuf=\d+/, '')),
    sidecar: (a) => a.map((x) => x.replace(/,rcvbuf=\d+/, '')),
  },
  'no-nodelay': {
    describe:
      "TCP without the nodelay option on the sidecar's listener and the node side's connection (the relay before that fix)",
    node: (a) => a.map((x) => x.replace(/,nodelay(?=,|$)/, '')),
    sidecar: (a) => a.map((x) => x.replace(/,nodelay(?=,|$)/, '')),
  },
  'no-t10': {
    describe: "TCP without -t10 on both halves (socat's default 0.5 s half-close linger, the relay before that fix)",
    node: (a) => a.filter((x) => !/^-t\d+$/.test(x)),
    sidecar: (a) => a.filter((x) => !/^-t\d+$/.test(x)),
  },
};

type Log = (line: string) => void;

async function runClient(p: Path, task: Task, timeoutMs = 300_000): Promise<TaskResult> {
  const argv = [process.execPath, ...(await nodeArgs('bench/datapath/client.ts')), JSON.stringify(task)];
  const [cmd, args] = p.netns ? ['ip', ['netns', 'exec', p.netns, ...argv]] : [argv[0] as string, argv.slice(1)];
  const r = await runCommand(cmd, args, { timeoutMs });
  const last = r.stdout.trim().split('\n').pop() ?? '';
  return JSON.parse(last) as TaskResult;
}

function inNetns(p: Path, cmd: string, args: string[]): [string, string[]] {
  return p.netns ? ['ip', ['netns', 'exec', p.netns, cmd, ...args]] : [cmd, args];
}

/** HTTP download of `bytes` with curl; returns MiB/s. */
async function bulkHttp(p: Path, bytes: number): Promise<number> {
  const [cmd, args] = inNetns(p, 'curl', [
    '-s',
    '-o',
    '/dev/null',
    '-w',
    '%{size_download} %{time_total}',
    `http://127.0.0.1:${p.port}/bulk?bytes=${bytes}`,
  ]);
  const r = await runCommand(cmd, args, { timeoutMs: 300_000 });
  const [size, secs] = r.stdout.trim().split(' ').map(Number);
  if (size !== bytes || !secs) throw new Error(`bulk download through ${p.name}: got ${size} of ${bytes} bytes`);
  return bytes / MiB / secs;
}

/** iperf3 client through the path; returns Gbit/s received. */
async function iperf(p: Path, seconds: number): Promise<number> {
  const [cmd, args] = inNetns(p, 'iperf3', ['-c', '127.0.0.1', '-p', String(p.port), '-t', String(seconds), '-J']);
  const r = await runCommand(cmd, args, { timeoutMs: (seconds + 30) * 1000 });
  const j = JSON.parse(r.stdout) as { end?: { sum_received?: { bits_per_second?: number } }; error?: string };
  const bps = j.end?.sum_received?.bits_per_second;
  if (!bps) throw new Error(`iperf3 through ${p.name}: ${j.error ?? 'no result'}`);
  return bps / 1e9;
}

/** Waits until the sink's count has not moved for `quietMs`. */
async function settledCount(s: Services, quietMs = 150): Promise<number> {
  let last = -1;
  for (;;) {
    const c = s.sinkCount();
    if (c === last) return c;
    last = c;
    await new Promise((r) => setTimeout(r, quietMs));
  }
}

/** Collects one number per (metric, path) per run; medians at the end. */
export class Samples {
  private readonly m = new Map<string, number[]>();
  add(metric: string, pathName: string, v: number): void {
    const k = `${metric}|${pathName}`;
    const a = this.m.get(k) ?? [];
    a.push(v);
    this.m.set(k, a);
  }
  med(metric: string, pathName: string): number {
    return median(this.m.get(`${metric}|${pathName}`) ?? []);
  }
  /** For counts of failures: one failed run must show, so they add up instead of taking the median. */
  sum(metric: string, pathName: string): number {
    const a = this.m.get(`${metric}|${pathName}`);
    return a ? a.reduce((x, y) => x + y, 0) : Number.NaN;
  }
  has(metric: string, pathName: string): boolean {
    return this.m.has(`${metric}|${pathName}`);
  }
}

export async function benchDatapath(p: DatapathParams, log: Log): Promise<Figure[]> {
  const cleanup = new Cleanup();
  const notes: string[] = [];
  try {
    const services = await startServices();
    cleanup.add('close services', () => services.close());
    const iperfPort = await freePort();
    startProcess('iperf3', ['-s', '-B', '127.0.0.1', '-p', String(iperfPort)], cleanup);
    await waitUntil('iperf3 server', () => canConnect({ port: iperfPort }));

    const socketDir = await mkdtemp(path.join(os.tmpdir(), 'srb-dp-'));
    cleanup.add('remove socket dir', () => rm(socketDir, { recursive: true, force: true }));

    let netns: string | undefined = netnsName('srb-dp');
    try {
      await createNetns(netns);
      const ns = netns;
      cleanup.add(`delete netns ${ns}`, () => deleteNetns(ns));
    } catch (err) {
      if (!(err instanceof NetnsUnavailable)) throw err;
      notes.push(`no network namespace (${err.message}): the sidecar ran on the host's loopback`);
      netns = undefined;
    }
    // In a namespace the sidecar listens on the target's port, as by default in a pod; without one it needs a free
    // port.
    const listen = async (target: number) => ({ listen: { port: netns ? target : await freePort() } });
    const relays = {
      http: benchRelay('bench-http', 'TCP', services.httpPort, await listen(services.httpPort)),
      iperf: benchRelay('bench-iperf', 'TCP', iperfPort, await listen(iperfPort)),
      sink: benchRelay('bench-sink', 'UDP', services.sinkPort, {
        ...(await listen(services.sinkPort)),
        udp: { mode: 'OneWay' },
      }),
      echo: benchRelay('bench-echo', 'UDP', services.echoPort, {
        ...(await listen(services.echoPort)),
        udp: { mode: 'RequestReply', replyTimeoutSeconds: 1 },
      }),
    };
    const node = await startNodeSide(p.nodeSide, Object.values(relays), socketDir, cleanup, log);
    notes.push(`node side: ${node.describe}`);
    log(`[datapath] node side: ${node.describe}; pod side: ${netns ? `network namespace ${netns}` : 'host loopback'}`);

    const http: Path[] = [
      { name: 'direct', port: services.httpPort },
      await startHop(services.httpPort, await freePort(), cleanup),
    ];
    const ipf: Path[] = [{ name: 'direct', port: iperfPort }, await startHop(iperfPort, await freePort(), cleanup)];
    http.push(await startSidecar(relays.http.resolved, socketDir, netns, cleanup));
    ipf.push(await startSidecar(relays.iperf.resolved, socketDir, netns, cleanup));
    const sink: Path[] = [
      { name: 'direct', port: services.sinkPort },
      await startSidecar(relays.sink.resolved, socketDir, netns, cleanup),
    ];
    const echo: Path[] = [
      { name: 'direct', port: services.echoPort },
      await startSidecar(relays.echo.resolved, socketDir, netns, cleanup),
    ];

    // Proposed variants: a second relay (own socket, own sidecar port) whose socat argv is edited.
    for (const v of p.variants) {
      const def = VARIANTS[v];
      if (!def) {
        // BENCH_VARIANTS is shared with the scrape benchmark, which has variants of its own.
        log(
          `[datapath] BENCH_VARIANTS: ${v} is not a data-path variant (these are: ${Object.keys(VARIANTS).join(', ')}); skipped`,
        );
        continue;
      }
      if (v.startsWith('udp-')) {
        const r = benchRelay(`bench-sink-${v}`, 'UDP', services.sinkPort, {
          listen: { port: await freePort() },
          udp: { mode: 'OneWay' },
        });
        await startNodeSide('socat', [r], socketDir, cleanup, log, def.node);
        sink.push({ ...(await startSidecar(r.resolved, socketDir, netns, cleanup, def.sidecar)), name: `chain-${v}` });
        notes.push(`variant chain-${v}: ${def.describe}`);
        continue;
      }
      const r = benchRelay(`bench-http-${v}`, 'TCP', services.httpPort, { listen: { port: await freePort() } });
      await startNodeSide('socat', [r], socketDir, cleanup, log, def.node);
      http.push({ ...(await startSidecar(r.resolved, socketDir, netns, cleanup, def.sidecar)), name: `chain-${v}` });
      notes.push(`variant chain-${v}: ${def.describe}`);
    }

    const s = new Samples();
    for (let run = 1; run <= p.runs; run++) {
      log(`[datapath] run ${run}/${p.runs}`);
      for (const path_ of http) s.add('bulk', path_.name, await bulkHttp(path_, p.bulkBytes));
      for (const path_ of ipf) s.add('iperf', path_.name, await iperf(path_, p.iperfSeconds));
      for (const path_ of http) {
        const r = await runClient(path_, {
          kind: 'keepalive',
          port: path_.port,
          requests: p.keepaliveRequests,
          warmup: 100,
        });
        if (r.kind !== 'latencies') throw new Error('keepalive: unexpected result');
        s.add('ka-p50', path_.name, percentile(r.ms, 50));
        s.add('ka-p99', path_.name, percentile(r.ms, 99));
      }
      for (const path_ of http) {
        const r = await runClient(path_, {
          kind: 'newconn',
          port: path_.port,
          connections: p.newConnections,
          warmup: 20,
        });
        if (r.kind !== 'latencies') throw new Error('newconn: unexpected result');
        s.add('nc-mean', path_.name, r.ms.reduce((a, b) => a + b, 0) / r.ms.length);
        s.add('nc-p99', path_.name, percentile(r.ms, 99));
        s.add('nc-errors', path_.name, r.errors);
      }
      for (const path_ of http) {
        const r = await runClient(path_, {
          kind: 'burst',
          port: path_.port,
          connections: p.burstConnections,
          rounds: p.burstRounds,
        });
        if (r.kind !== 'rounds') throw new Error('burst: unexpected result');
        for (const round of r.rounds) s.add('burst-p99', path_.name, percentile(round, 99));
        s.add('burst-errors', path_.name, r.errors);
      }
      for (const path_ of echo) {
        const r = await runClient(path_, { kind: 'udp-rr', port: path_.port, queries: p.udpQueries, timeoutMs: 2000 });
        if (r.kind !== 'latencies') throw new Error('udp-rr: unexpected result');
        s.add('rr-p50', path_.name, percentile(r.ms, 50));
        s.add('rr-p99', path_.name, percentile(r.ms, 99));
        s.add('rr-lost', path_.name, r.errors);
      }
    }

    // UDP one-way: climb the rate ladder until a datagram is lost; once per path (each step lasts udpSeconds).
    const ladder: Record<string, LadderStep[]> = {};
    for (const path_ of sink) {
      ladder[path_.name] = [];
      for (const rate of p.udpRates) {
        services.resetSink();
        const r = await runClient(path_, {
          kind: 'udp-send',
          port: path_.port,
          rate,
          seconds: p.udpSeconds,
          size: p.udpSize,
        });
        if (r.kind !== 'sent') throw new Error('udp-send: unexpected result');
        const received = await settledCount(services);
        const step: LadderStep = { rate, sent: r.sent - r.errors, seconds: r.seconds, received };
        ladder[path_.name]?.push(step);
        log(
          `[datapath] udp one-way ${path_.name} ${rate}/s requested, ${sentRate(step).toFixed(0)}/s sent${isShort(step) ? ' (short)' : ''}: ${received}/${step.sent}`,
        );
        if (received < step.sent) break;
      }
    }
    return datapathFigures(
      s,
      ladder,
      p,
      notes,
      http.map((x) => x.name),
    );
  } finally {
    await cleanup.run();
  }
}

/** One step of the UDP one-way ladder: the rate asked for, what the sender got out in how long, what arrived. */
export interface LadderStep {
  rate: number;
  /** Datagrams the sender handed to the kernel without error. */
  sent: number;
  /** How long the sender took (longer than asked when it could not keep up). */
  seconds: number;
  received: number;
}

/** The rate actually sent: datagrams out per second of sending. */
export function sentRate(st: LadderStep): number {
  return st.seconds > 0 ? st.sent / st.seconds : 0;
}

/** A step where the sender fell short of the requested rate by more than 5 %. */
export function isShort(st: LadderStep): boolean {
  return sentRate(st) < 0.95 * st.rate;
}

/** The rate actually sent at the highest lossless step (0 when none was lossless). */
export function maxLossless(steps: readonly LadderStep[] | undefined): number {
  let best = 0;
  for (const st of steps ?? []) if (st.received >= st.sent) best = Math.max(best, sentRate(st));
  return best;
}

/** The ladder as text: requested → sent per second, short steps marked, the losses. */
export function ladderText(steps: readonly LadderStep[] | undefined): string {
  return (steps ?? [])
    .map(
      (st) =>
        `${st.rate}→${sentRate(st).toFixed(0)}/s${isShort(st) ? ' (short)' : ''}${st.received < st.sent ? ` lost ${st.sent - st.received}` : ''}`,
    )
    .join(', ');
}

export function datapathFigures(
  s: Samples,
  ladder: Record<string, LadderStep[]>,
  p: DatapathParams,
  notes: string[],
  httpPaths: string[],
): Figure[] {
  const bulkNote = `${p.bulkBytes / MiB} MiB per download (curl), median of ${p.runs}`;
  const f: Figure[] = [
    figure({
      name: 'http bulk, chain / direct',
      unit: 'MiB/s',
      value: s.med('bulk', 'chain'),
      baseline: s.med('bulk', 'direct'),
      goal: { on: 'ratio', op: '>=', target: 0.9 },
      note: bulkNote,
    }),
    figure({
      name: 'http bulk, single hop / direct',
      unit: 'MiB/s',
      value: s.med('bulk', 'hop'),
      baseline: s.med('bulk', 'direct'),
      note: bulkNote,
    }),
    figure({
      name: 'iperf3, chain / direct',
      unit: 'Gbit/s',
      value: s.med('iperf', 'chain'),
      baseline: s.med('iperf', 'direct'),
      note: `${p.iperfSeconds} s per run`,
    }),
    figure({
      name: 'iperf3, single hop / direct',
      unit: 'Gbit/s',
      value: s.med('iperf', 'hop'),
      baseline: s.med('iperf', 'direct'),
    }),
    figure({
      name: 'keep-alive request p50, chain / direct',
      unit: 'ms',
      value: s.med('ka-p50', 'chain'),
      baseline: s.med('ka-p50', 'direct'),
      note: `${p.keepaliveRequests} sequential GETs (64 B body) on one connection`,
    }),
    figure({
      name: 'keep-alive request p99, chain / direct',
      unit: 'ms',
      value: s.med('ka-p99', 'chain'),
      baseline: s.med('ka-p99', 'direct'),
    }),
    figure({
      name: 'keep-alive request p50, chain / single hop',
      unit: 'ms',
      value: s.med('ka-p50', 'chain'),
      baseline: s.med('ka-p50', 'hop'),
      goal: { on: 'ratio', op: '<=', target: 1.2 },
    }),
    figure({
      name: 'keep-alive request p99, chain / single hop',
      unit: 'ms',
      value: s.med('ka-p99', 'chain'),
      baseline: s.med('ka-p99', 'hop'),
    }),
    figure({
      name: 'new connection, chain',
      unit: 'ms',
      value: s.med('nc-mean', 'chain'),
      baseline: s.med('nc-mean', 'direct'),
      goal: { on: 'value', op: '<=', target: 1 },
      note: `mean of ${p.newConnections} sequential connect/request/close; baseline = direct`,
    }),
    figure({
      name: 'new connection, added by the chain',
      unit: 'ms',
      value: s.med('nc-mean', 'chain') - s.med('nc-mean', 'direct'),
    }),
    figure({
      name: 'new connection, single hop',
      unit: 'ms',
      value: s.med('nc-mean', 'hop'),
      baseline: s.med('nc-mean', 'direct'),
    }),
    figure({
      name: 'new connection p99, chain',
      unit: 'ms',
      value: s.med('nc-p99', 'chain'),
      baseline: s.med('nc-p99', 'direct'),
    }),
    figure({
      name: `burst of ${p.burstConnections} connections p99, chain / direct`,
      unit: 'ms',
      value: s.med('burst-p99', 'chain'),
      baseline: s.med('burst-p99', 'direct'),
      goal: { on: 'ratio', op: '<=', target: 2 },
      note: `all opened at once, each does one request; time to its close; median over ${p.runs * p.burstRounds} bursts`,
    }),
    figure({
      name: `burst of ${p.burstConnections} connections p99, single hop / direct`,
      unit: 'ms',
      value: s.med('burst-p99', 'hop'),
      baseline: s.med('burst-p99', 'direct'),
    }),
    figure({
      name: 'failed connections (new + burst), chain',
      unit: 'count',
      value: s.sum('nc-errors', 'chain') + s.sum('burst-errors', 'chain'),
      goal: { on: 'value', op: '<=', target: 0 },
      note: `summed over the ${p.runs} runs`,
    }),
    figure({
      name: 'udp one-way, highest lossless rate, chain / direct',
      unit: 'datagrams/s',
      value: maxLossless(ladder.chain),
      baseline: maxLossless(ladder.direct),
      note: `rate actually sent at the highest lossless step; ${p.udpSize} B datagrams, ${p.udpSeconds} s per step; requested→sent: chain ${ladderText(ladder.chain)}; direct ${ladderText(ladder.direct)} (the ladder's top bounds the figure; "short": the sender fell > 5 % below the requested rate)`,
    }),
    figure({
      name: 'udp request/response p50, chain / direct',
      unit: 'ms',
      value: s.med('rr-p50', 'chain'),
      baseline: s.med('rr-p50', 'direct'),
      note: `${p.udpQueries} sequential queries, new source port each (RequestReply, replyTimeoutSeconds 1)`,
    }),
    figure({
      name: 'udp request/response p99, chain / direct',
      unit: 'ms',
      value: s.med('rr-p99', 'chain'),
      baseline: s.med('rr-p99', 'direct'),
    }),
    figure({
      name: 'udp request/response lost, chain',
      unit: 'count',
      value: s.sum('rr-lost', 'chain'),
      goal: { on: 'value', op: '<=', target: 0 },
      note: `summed over the ${p.runs} runs`,
    }),
  ];
  for (const name of Object.keys(ladder).filter((n) => n.startsWith('chain-'))) {
    f.push(
      figure({
        name: `variant ${name}: udp one-way highest lossless rate / chain`,
        unit: 'datagrams/s',
        value: maxLossless(ladder[name]),
        baseline: maxLossless(ladder.chain),
      }),
    );
  }
  for (const name of httpPaths.filter((n) => n.startsWith('chain-'))) {
    f.push(
      figure({
        name: `variant ${name}: http bulk / chain`,
        unit: 'MiB/s',
        value: s.med('bulk', name),
        baseline: s.med('bulk', 'chain'),
      }),
      figure({
        name: `variant ${name}: keep-alive p50 / chain`,
        unit: 'ms',
        value: s.med('ka-p50', name),
        baseline: s.med('ka-p50', 'chain'),
      }),
      figure({
        name: `variant ${name}: new connection / chain`,
        unit: 'ms',
        value: s.med('nc-mean', name),
        baseline: s.med('nc-mean', 'chain'),
      }),
      figure({
        name: `variant ${name}: burst p99 / chain`,
        unit: 'ms',
        value: s.med('burst-p99', name),
        baseline: s.med('burst-p99', 'chain'),
      }),
    );
  }
  if (notes.length && f[0]) f[0] = { ...f[0], note: `${f[0].note ?? ''}; ${notes.join('; ')}` };
  return f;
}

export async function main(env: NodeJS.ProcessEnv, log: Log): Promise<Figure[]> {
  return benchDatapath(datapathParams(env), log);
}
