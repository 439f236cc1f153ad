// npm run bench [-- webhook|datapath|scale|scrape|fleet|footprint …]: runs the benchmarks, prints a table
// per benchmark and writes bench/results/<benchmark>.json. Exit 0 whatever the speed; 1 only when a benchmark broke.
import { formatTable, type Figure } from './lib/figures.js';
import { Cleanup } from './lib/proc.js';
import { describeMachine, writeResults } from './lib/results.js';

type Bench = (env: NodeJS.ProcessEnv, log: (s: string) => void) => Promise<Figure[]>;

const BENCHMARKS: Record<string, () => Promise<Bench>> = {
  webhook: async () => (await import('./webhook/run.js')).main,
  datapath: async () => (await import('./datapath/run.js')).main,
  scale: async () => (await import('./scale/run.js')).main,
  scrape: async () => (await import('./scrape/run.js')).main,
  fleet: async () => (await import('./fleet/run.js')).main,
  footprint: async () => (await import('./footprint/run.js')).main,
};

async function main(argv: string[]): Promise<number> {
  const names = argv.length ? argv : Object.keys(BENCHMARKS);
  for (const n of names) {
    if (!BENCHMARKS[n]) {
      process.stderr.write(`unknown benchmark ${n} (known: ${Object.keys(BENCHMARKS).join(', ')})\n`);
      return 2;
    }
  }
  const log = (s: string) => process.stderr.write(`${s}\n`);
  const machine = await describeMachine();
  log(
    `[bench] ${machine.nproc} × ${machine.cpu}, kernel ${machine.kernel}, node ${machine.node}, socat ${machine.socat}, load ${machine.loadavg.join(' ')}`,
  );
  let broken = 0;
  for (const n of names) {
    const load = BENCHMARKS[n];
    if (!load) continue;
    const t0 = Date.now();
    try {
      const figures = await (await load())(process.env, log);
      const file = await writeResults(n, figures);
      process.stdout.write(formatTable(`${n} (${((Date.now() - t0) / 1000).toFixed(0)} s) → ${file}`, figures) + '\n');
      for (const f of figures) if (f.note) log(`  ${f.name}: ${f.note}`);
    } catch (err) {
      broken++;
      process.stderr.write(`[bench] ${n} broke: ${err instanceof Error ? err.stack : String(err)}\n`);
    }
  }
  return broken ? 1 : 0;
}

let interrupted = false;
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  // Stop every process this run started and delete its namespaces, then exit; a second signal exits at once.
  process.on(sig, () => {
    if (interrupted) process.exit(130);
    interrupted = true;
    process.stderr.write(`[bench] ${sig}: cleaning up (again to exit at once)\n`);
    void Cleanup.runAll().finally(() => process.exit(130));
  });
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(1);
  },
);
