// The load generator, run as its own process: autocannon over HTTPS with keep-alive connections,
// cycling through the given requests. argv: CONFIG_JSON (LoadConfig); prints one JSON line (LoadResult).
import { readFileSync } from 'node:fs';
// autocannon ships no types: autocannon.d.ts declares the call, the fields used are declared below.
import autocannon from 'autocannon';

export interface LoadConfig {
  url: string;
  ca: string;
  connections: number;
  duration?: number;
  amount?: number;
  overallRate?: number;
  requests: { path: string; bodyFile: string }[];
}

export interface LoadResult {
  rps: number;
  p50: number;
  p99: number;
  total: number;
  non2xx: number;
  errors: number;
  timeouts: number;
  seconds: number;
}

interface AutocannonResult {
  requests: { average: number; total: number };
  latency: { p50: number; p99: number };
  non2xx: number;
  errors: number;
  timeouts: number;
  duration: number;
  '2xx': number;
}

const c = JSON.parse(process.argv[2] ?? '{}') as LoadConfig;
const opts = {
  url: c.url,
  connections: c.connections,
  pipelining: 1,
  method: 'POST',
  headers: { 'content-type': 'application/json' },
  requests: c.requests.map((r) => ({ method: 'POST', path: r.path, body: readFileSync(r.bodyFile, 'utf8') })),
  tlsOptions: { ca: readFileSync(c.ca) },
  ...(c.amount ? { amount: c.amount } : { duration: c.duration ?? 5 }),
  ...(c.overallRate ? { overallRate: c.overallRate } : {}),
};
const r = (await autocannon(opts)) as AutocannonResult;
const out: LoadResult = {
  rps: r['2xx'] / r.duration,
  p50: r.latency.p50,
  p99: r.latency.p99,
  total: r.requests.total,
  non2xx: r.non2xx,
  errors: r.errors,
  timeouts: r.timeouts,
  seconds: r.duration,
};
process.stdout.write(JSON.stringify(out) + '\n');
