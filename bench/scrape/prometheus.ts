// A real Prometheus server (Debian's package) on 127.0.0.1, in the node's network namespace or in a
// pod's, and its HTTP query API read with curl from the same namespace.
import { chown, mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { waitUntil } from '../lib/net.js';
import { Cleanup, runCommand, startProcess, type Managed } from '../lib/proc.js';
import { prometheusArgv, prometheusConfig, type ScrapeJob } from './parts.js';

export interface Prometheus {
  proc: Managed;
  /** 127.0.0.1:port inside `netns` (or the host's). */
  listen: string;
  netns?: string;
}

function inNetns(netns: string | undefined, argv: string[]): [string, string[]] {
  return netns ? ['ip', ['netns', 'exec', netns, ...argv]] : [argv[0] as string, argv.slice(1)];
}

export interface PrometheusOptions {
  binary: string;
  /** Holds the configuration file and the data folder. */
  dir: string;
  port: number;
  /** The scrape jobs (prometheusConfig), unless `config` gives the whole file. */
  jobs?: readonly ScrapeJob[];
  intervalSeconds?: number;
  config?: string;
  netns?: string;
  /** Runs as this uid/gid (setpriv), e.g. the example pod's 65534; the data folder is given to it. */
  uid?: number;
  extraArgs?: string[];
  env?: NodeJS.ProcessEnv;
}

/** Writes the configuration, starts Prometheus and waits for /-/ready. */
export async function startPrometheus(o: PrometheusOptions, cleanup: Cleanup): Promise<Prometheus> {
  const dataDir = path.join(o.dir, 'data');
  await mkdir(dataDir, { recursive: true });
  if (o.uid !== undefined) await chown(dataDir, o.uid, o.uid);
  const configFile = path.join(o.dir, 'prometheus.yml');
  await writeFile(configFile, o.config ?? prometheusConfig(o.jobs ?? [], o.intervalSeconds ?? 15), { mode: 0o644 });
  const listen = `127.0.0.1:${o.port}`;
  const user =
    o.uid === undefined ? [] : ['setpriv', `--reuid=${o.uid}`, `--regid=${o.uid}`, '--clear-groups', '--no-new-privs'];
  const [cmd, args] = inNetns(o.netns, [
    ...user,
    o.binary,
    ...prometheusArgv({ configFile, dataDir, listen }),
    ...(o.extraArgs ?? []),
  ]);
  const proc = startProcess(cmd, args, cleanup, o.env ? { env: o.env } : {});
  const p: Prometheus = { proc, listen, ...(o.netns ? { netns: o.netns } : {}) };
  await waitUntil(
    `prometheus on ${listen}${o.netns ? ` in ${o.netns}` : ''} ready`,
    async () => {
      if (proc.child.exitCode !== null) throw new Error(`prometheus exited: ${proc.stderr().slice(-800)}`);
      const r = await runCommand(...inNetns(o.netns, ['curl', '-sf', `http://${listen}/-/ready`]), {
        timeoutMs: 5000,
        allowFail: true,
      });
      return r.code === 0;
    },
    60_000,
    200,
  );
  return p;
}

export interface Sample {
  labels: Record<string, string>;
  values: [number, number][];
}

/** An instant query (range vectors give every sample in the window); the result as labels + values. */
export async function query(p: Prometheus, promql: string, atSeconds?: number): Promise<Sample[]> {
  const args = ['curl', '-sS', '--max-time', '20', '--get', '--data-urlencode', `query=${promql}`];
  if (atSeconds !== undefined) args.push('--data-urlencode', `time=${atSeconds}`);
  args.push(`http://${p.listen}/api/v1/query`);
  const r = await runCommand(...inNetns(p.netns, args), { timeoutMs: 30_000 });
  return parseQueryResult(r.stdout);
}

/** The query API's JSON (vector or matrix) as samples; throws with Prometheus's error otherwise. */
export function parseQueryResult(body: string): Sample[] {
  const j = JSON.parse(body) as {
    status: string;
    error?: string;
    data?: {
      resultType: string;
      result: { metric: Record<string, string>; value?: [number, string]; values?: [number, string][] }[];
    };
  };
  if (j.status !== 'success' || !j.data) throw new Error(`prometheus query failed: ${j.error ?? body.slice(0, 300)}`);
  return j.data.result.map((r) => ({
    labels: r.metric,
    values: (r.values ?? (r.value ? [r.value] : [])).map(([t, v]) => [Number(t), Number(v)] as [number, number]),
  }));
}

/** Connections each scrape job's dialer has opened so far (Prometheus's own net_conntrack_dialer_* counter). */
export async function dialerConnections(p: Prometheus): Promise<Record<string, number>> {
  const r = await runCommand(...inNetns(p.netns, ['curl', '-sS', '--max-time', '20', `http://${p.listen}/metrics`]), {
    timeoutMs: 30_000,
  });
  return parseDialerConnections(r.stdout);
}

export function parseDialerConnections(exposition: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const m of exposition.matchAll(
    /^net_conntrack_dialer_conn_established_total\{dialer_name="([^"]+)"\}\s+(\S+)$/gm,
  )) {
    out[m[1] as string] = Number(m[2]);
  }
  return out;
}
