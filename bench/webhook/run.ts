// The webhook benchmark: the controller's HTTPS admission server (its own process) against a bare
// express HTTPS server answering bodies of the same size (its own process), loaded by autocannon
// (a third process) with real AdmissionReviews: a labeled pod to inject and a Relay to validate,
// alternately. Saturation and a fixed 500 req/s, interleaved per run; then RSS over 100 000 requests.
import { readFile, writeFile, mkdtemp, rm } from 'node:fs/promises';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { makeWebhookCerts } from '../../certs/selfsigned.js';
import { writeCerts } from '../../certs/write.js';
import { figure, type Figure } from '../lib/figures.js';
import { freePort, waitUntil } from '../lib/net.js';
import { num, str } from '../lib/params.js';
import { nodeArgs } from '../lib/build.js';
import { Cleanup, cpuMsOf, rssOf, runCommand, startProcess, type Managed } from '../lib/proc.js';
import { median } from '../lib/stats.js';
import { admissionBodies, FIXTURES } from './bodies.js';
import type { LoadConfig, LoadResult } from './load.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, '..', '..');
const MB = 1024 * 1024;
const PATHS = { pod: '/mutate-pods', relay: '/validate-relays' } as const;

type Measured = LoadResult & { cpuMs?: number };

export interface WebhookParams {
  runs: number;
  seconds: number;
  connections: number;
  fixedRate: number;
  memoryRequests: number;
  target: 'auto' | 'controller' | 'server';
  /** Extra controllers with changed settings, measured next to the default one (see VARIANTS). */
  variants: string[];
}

/** Proposed settings, each run as one more controller process (flags added to the controller command). */
export const VARIANTS: Record<string, { describe: string; flags: string[] }> = {
  'warn-logs': {
    describe: 'controller with --log-level warn (no info line per injected pod)',
    flags: ['--log-level', 'warn'],
  },
};

export function webhookParams(env: NodeJS.ProcessEnv): WebhookParams {
  return {
    runs: num(env, 'BENCH_RUNS', 3, 1),
    seconds: num(env, 'BENCH_WEBHOOK_SECONDS', 5, 2),
    connections: num(env, 'BENCH_WEBHOOK_CONNECTIONS', 10),
    fixedRate: num(env, 'BENCH_WEBHOOK_RATE', 500),
    memoryRequests: num(env, 'BENCH_WEBHOOK_MEMORY_REQUESTS', 100_000, 5_000),
    target: str(env, 'BENCH_WEBHOOK_TARGET', ['auto', 'controller', 'server'] as const, 'auto'),
    variants: (env.BENCH_WEBHOOK_VARIANTS ?? '')
      .split(',')
      .map((x) => x.trim())
      .filter(Boolean),
  };
}

type Log = (s: string) => void;

interface Tls {
  cert: string;
  key: string;
  ca: string;
  caPem: Buffer;
}

function post(port: number, p: string, body: string, ca: Buffer): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = https.request(
      { host: '127.0.0.1', port, path: p, method: 'POST', ca, headers: { 'content-type': 'application/json' } },
      (res) => {
        let data = '';
        res
          .setEncoding('utf8')
          .on('data', (d: string) => {
            data += d;
          })
          .on('end', () => resolve({ status: res.statusCode ?? 0, body: data }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

function healthy(port: number, ca: Buffer): Promise<boolean> {
  return new Promise((resolve) => {
    const req = https.get({ host: '127.0.0.1', port, path: '/healthz', ca, timeout: 2000 }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on('error', () => resolve(false));
    req.on('timeout', () => {
      req.destroy();
      resolve(false);
    });
  });
}

async function waitHealthy(what: string, proc: Managed, port: number, ca: Buffer, ms = 30_000): Promise<void> {
  let exited = false;
  void proc.exited.then(() => {
    exited = true;
  });
  await waitUntil(
    `${what} on :${port}`,
    async () => {
      if (exited) throw new Error(`${what} exited: ${proc.stderr().slice(-600)}`);
      return healthy(port, ca);
    },
    ms,
    50,
  );
}

/** Starts the controller (local mode of `socat-relay controller`), or the same server from a bench script. */
async function startTarget(
  p: WebhookParams,
  tls: Tls,
  dir: string,
  cleanup: Cleanup,
  log: Log,
  extraFlags: string[] = [],
): Promise<{ proc: Managed; port: number; describe: string }> {
  const relays = path.join(FIXTURES, 'relays.yaml');
  const stdio: ['ignore', 'ignore', 'pipe'] = ['ignore', 'ignore', 'pipe']; // info logs go to /dev/null, as to a log file
  if (p.target !== 'server') {
    const port = await freePort();
    const proc = startProcess(
      process.execPath,
      [
        ...(await nodeArgs('cli/main.ts')),
        'controller',
        '--relays',
        relays,
        '--tls-cert',
        tls.cert,
        '--tls-key',
        tls.key,
        '--port',
        String(port),
        '--metrics-port',
        '0',
        '--shutdown-drain-seconds',
        '0',
        '--host',
        '127.0.0.1',
        '--socket-dir',
        path.join(dir, 'run'),
        ...extraFlags,
      ],
      cleanup,
      { cwd: ROOT, stdio },
    );
    try {
      await waitHealthy('socat-relay controller', proc, port, tls.caPem);
      return {
        proc,
        port,
        describe: `socat-relay controller local mode (pid ${proc.pid}, ${process.env.BENCH_TSX === '1' ? 'tsx' : 'plain node, transpiled'}), log level info to /dev/null`,
      };
    } catch (err) {
      await proc.stop();
      if (p.target === 'controller') throw err;
      log(
        `[webhook] the controller command did not start (${(err as Error).message.slice(0, 300)}); using bench/webhook/target.ts`,
      );
    }
  }
  const port = await freePort();
  const proc = startProcess(
    process.execPath,
    [
      ...(await nodeArgs('bench/webhook/target.ts')),
      JSON.stringify({
        port,
        cert: tls.cert,
        key: tls.key,
        relays,
        socketDir: path.join(dir, 'run'),
        sidecarImage: 'ghcr.io/socat-relay/socat-relay:0.1.0',
      }),
    ],
    cleanup,
    { cwd: ROOT, stdio },
  );
  await waitHealthy('webhook server (bench/webhook/target.ts)', proc, port, tls.caPem);
  return {
    proc,
    port,
    describe: `WebhookServer from bench/webhook/target.ts (pid ${proc.pid}), log level info to /dev/null`,
  };
}

async function load(cfg: LoadConfig): Promise<LoadResult> {
  const r = await runCommand(process.execPath, [...(await nodeArgs('bench/webhook/load.ts')), JSON.stringify(cfg)], {
    timeoutMs: 600_000,
  });
  return JSON.parse(r.stdout.trim().split('\n').pop() ?? '') as LoadResult;
}

export async function benchWebhook(p: WebhookParams, log: Log): Promise<Figure[]> {
  const cleanup = new Cleanup();
  try {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'srb-wh-'));
    cleanup.add('remove temp dir', () => rm(dir, { recursive: true, force: true }));
    const certs = await makeWebhookCerts({ extraHosts: ['localhost', '127.0.0.1'] });
    const files = await writeCerts(path.join(dir, 'tls'), certs);
    const tls: Tls = {
      cert: files.cert as string,
      key: files.key as string,
      ca: files.ca as string,
      caPem: await readFile(files.ca as string),
    };

    const bodies = await admissionBodies();
    const bodyFiles = { pod: path.join(dir, 'pod-review.json'), relay: path.join(dir, 'relay-review.json') };
    await writeFile(bodyFiles.pod, bodies.pod);
    await writeFile(bodyFiles.relay, bodies.relay);

    const target = await startTarget(p, tls, dir, cleanup, log);
    log(`[webhook] target: ${target.describe}`);
    // The controller's real answers: checked (the pod is patched, the relay allowed), then served by the baseline.
    const answers = {
      pod: await post(target.port, PATHS.pod, bodies.pod, tls.caPem),
      relay: await post(target.port, PATHS.relay, bodies.relay, tls.caPem),
    };
    const podAnswer = JSON.parse(answers.pod.body) as { response?: { allowed?: boolean; patch?: string } };
    const relayAnswer = JSON.parse(answers.relay.body) as { response?: { allowed?: boolean } };
    if (answers.pod.status !== 200 || !podAnswer.response?.allowed || !podAnswer.response.patch)
      throw new Error(`the pod was not injected: ${answers.pod.status} ${answers.pod.body.slice(0, 400)}`);
    if (answers.relay.status !== 200 || !relayAnswer.response?.allowed)
      throw new Error(`the relay was not allowed: ${answers.relay.status} ${answers.relay.body.slice(0, 400)}`);
    const answerFiles = { pod: path.join(dir, 'pod-answer.json'), relay: path.join(dir, 'relay-answer.json') };
    await writeFile(answerFiles.pod, answers.pod.body);
    await writeFile(answerFiles.relay, answers.relay.body);

    const basePort = await freePort();
    const baseline = startProcess(
      process.execPath,
      [
        ...(await nodeArgs('bench/webhook/baseline.ts')),
        JSON.stringify({
          port: basePort,
          cert: tls.cert,
          key: tls.key,
          responses: { [PATHS.pod]: answerFiles.pod, [PATHS.relay]: answerFiles.relay },
        }),
      ],
      cleanup,
      { cwd: ROOT },
    );
    await waitUntil(
      'baseline express server',
      async () => (await post(basePort, PATHS.pod, bodies.pod, tls.caPem).catch(() => ({ status: 0 }))).status === 200,
      30_000,
      50,
    );

    const servers = [
      { name: 'controller', port: target.port, pid: target.proc.pid },
      { name: 'baseline', port: basePort, pid: baseline.pid },
    ];
    for (const v of p.variants) {
      const def = VARIANTS[v];
      if (!def) throw new Error(`unknown webhook variant ${v} (known: ${Object.keys(VARIANTS).join(', ')})`);
      const t = await startTarget({ ...p, target: 'controller' }, tls, dir, cleanup, log, def.flags);
      servers.push({ name: `controller-${v}`, port: t.port, pid: t.proc.pid });
    }
    const requests = [
      { path: PATHS.pod, bodyFile: bodyFiles.pod },
      { path: PATHS.relay, bodyFile: bodyFiles.relay },
    ];
    const cfg = (port: number, extra: Partial<LoadConfig>): LoadConfig => ({
      url: `https://127.0.0.1:${port}`,
      ca: tls.ca,
      connections: p.connections,
      requests,
      ...extra,
    });

    // Warm-up (JIT, TLS session caches) on both, not measured.
    for (const s of servers) await load(cfg(s.port, { duration: 2 }));

    // CPU used by the server process per answered request: robust against the machine's noise.
    const measured = async (pid: number, c: LoadConfig): Promise<LoadResult & { cpuMs: number }> => {
      const before = await cpuMsOf(pid);
      const r = await load(c);
      return { ...r, cpuMs: ((await cpuMsOf(pid)) - before) / Math.max(1, r.total) };
    };
    const sat: Record<string, Measured[]> = Object.fromEntries(servers.map((x) => [x.name, []]));
    const fixed: Record<string, LoadResult[]> = Object.fromEntries(servers.map((x) => [x.name, []]));
    for (let run = 1; run <= p.runs; run++) {
      for (const s of servers) {
        const r = await measured(s.pid, cfg(s.port, { duration: p.seconds }));
        sat[s.name]?.push(r);
        log(
          `[webhook] run ${run} saturation ${s.name}: ${r.rps.toFixed(0)} req/s p50 ${r.p50} p99 ${r.p99} ms, server CPU ${r.cpuMs.toFixed(3)} ms/request, non2xx ${r.non2xx}, errors ${r.errors}`,
        );
      }
      for (const s of servers) {
        const r = await load(cfg(s.port, { duration: p.seconds, overallRate: p.fixedRate }));
        fixed[s.name]?.push(r);
        log(`[webhook] run ${run} ${p.fixedRate}/s ${s.name}: ${r.rps.toFixed(0)} req/s p50 ${r.p50} p99 ${r.p99} ms`);
      }
    }

    // Memory: the controller's RSS sampled every 200 ms while it answers memoryRequests at saturation.
    const samples: { t: number; rss: number }[] = [];
    const rssStart = await rssOf(target.proc.pid);
    const t0 = Date.now();
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        samples.push({ t: Date.now() - t0, rss: await rssOf(target.proc.pid) });
        await new Promise((r) => setTimeout(r, 200));
      }
    })();
    const mem = await load(cfg(target.port, { amount: p.memoryRequests }));
    sampling = false;
    await sampler;
    const rssEnd = await rssOf(target.proc.pid);
    const total = Date.now() - t0;
    const mid = samples.reduce(
      (best, s) => (Math.abs(s.t - total / 2) < Math.abs(best.t - total / 2) ? s : best),
      samples[0] ?? { t: 0, rss: 0 },
    ).rss;
    const peak = Math.max(...samples.map((s) => s.rss), rssEnd);
    log(
      `[webhook] memory: ${mem.total} requests in ${mem.seconds} s, RSS ${(rssStart / MB).toFixed(1)} → ${(mid / MB).toFixed(1)} → ${(rssEnd / MB).toFixed(1)} MiB (peak ${(peak / MB).toFixed(1)})`,
    );

    return webhookFigures(
      p,
      sat,
      fixed,
      { start: rssStart, mid, end: rssEnd, peak, requests: mem.total, failed: mem.non2xx + mem.errors + mem.timeouts },
      target.describe,
    );
  } finally {
    await cleanup.run();
  }
}

export function webhookFigures(
  p: WebhookParams,
  sat: Record<string, Measured[]>,
  fixed: Record<string, LoadResult[]>,
  mem: { start: number; mid: number; end: number; peak: number; requests: number; failed: number },
  describe: string,
): Figure[] {
  const med = (rs: Measured[] | undefined, k: keyof Measured) => median((rs ?? []).map((r) => r[k] ?? Number.NaN));
  const failures = [...Object.values(sat), ...Object.values(fixed)]
    .flat()
    .reduce((a, r) => a + r.non2xx + r.errors + r.timeouts, 0);
  const load = `${p.connections} keep-alive connections, ${p.seconds} s per run, median of ${p.runs}; requests alternate pod injection / relay validation`;
  return [
    figure({
      name: 'saturation throughput, controller / bare express',
      unit: 'req/s',
      value: med(sat.controller, 'rps'),
      baseline: med(sat.baseline, 'rps'),
      goal: { on: 'ratio', op: '>=', target: 0.8 },
      note: `${load}; target: ${describe}`,
    }),
    figure({
      name: 'server CPU per request at saturation, controller / bare express',
      unit: 'ms',
      value: med(sat.controller, 'cpuMs'),
      baseline: med(sat.baseline, 'cpuMs'),
      note: 'utime+stime of the server process over the run / requests answered: the least noisy figure here',
    }),
    figure({
      name: 'saturation latency p50, controller / bare express',
      unit: 'ms',
      value: med(sat.controller, 'p50'),
      baseline: med(sat.baseline, 'p50'),
    }),
    figure({
      name: 'saturation latency p99, controller / bare express',
      unit: 'ms',
      value: med(sat.controller, 'p99'),
      baseline: med(sat.baseline, 'p99'),
    }),
    figure({
      name: `${p.fixedRate} req/s latency p50, controller / bare express`,
      unit: 'ms',
      value: med(fixed.controller, 'p50'),
      baseline: med(fixed.baseline, 'p50'),
    }),
    figure({
      name: `${p.fixedRate} req/s latency p99, controller / bare express`,
      unit: 'ms',
      value: med(fixed.controller, 'p99'),
      baseline: med(fixed.baseline, 'p99'),
      goal: { on: 'value', op: '<=', target: 5 },
      note: 'autocannon overallRate, latencies corrected for coordinated omission',
    }),
    figure({
      name: `${p.fixedRate} req/s achieved, controller`,
      unit: 'req/s',
      value: med(fixed.controller, 'rps'),
      baseline: p.fixedRate,
    }),
    ...Object.keys(sat)
      .filter((k) => k.startsWith('controller-'))
      .flatMap((k) => [
        figure({
          name: `variant ${k}: saturation throughput / controller`,
          unit: 'req/s',
          value: med(sat[k], 'rps'),
          baseline: med(sat.controller, 'rps'),
          note: VARIANTS[k.slice('controller-'.length)]?.describe ?? '',
        }),
        figure({
          name: `variant ${k}: server CPU per request / controller`,
          unit: 'ms',
          value: med(sat[k], 'cpuMs'),
          baseline: med(sat.controller, 'cpuMs'),
        }),
        figure({
          name: `variant ${k}: ${p.fixedRate} req/s p99 / controller`,
          unit: 'ms',
          value: med(fixed[k], 'p99'),
          baseline: med(fixed.controller, 'p99'),
        }),
      ]),
    figure({
      name: 'failed requests (non-2xx, errors, timeouts)',
      unit: 'count',
      value: failures + mem.failed,
      goal: { on: 'value', op: '<=', target: 0 },
    }),
    figure({
      name: `controller RSS after ${mem.requests} requests / before`,
      unit: 'MiB',
      value: mem.end / MB,
      baseline: mem.start / MB,
      note: `RSS sampled every 200 ms; middle ${(mem.mid / MB).toFixed(1)} MiB, peak ${(mem.peak / MB).toFixed(1)} MiB`,
    }),
    figure({
      name: `controller RSS, end / middle of the ${mem.requests}-request run`,
      unit: 'MiB',
      value: mem.end / MB,
      baseline: mem.mid / MB,
      goal: { on: 'ratio', op: '<=', target: 1.1 },
      note: 'stable = no growth over the second half',
    }),
  ];
}

export async function main(env: NodeJS.ProcessEnv, log: Log): Promise<Figure[]> {
  return benchWebhook(webhookParams(env), log);
}
