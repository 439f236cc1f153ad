// The reconcile at scale, in its own process so its RSS is its own: 1000 Relays in a StaticCatalog.
//  1. the pure core + the file writer (desiredFiles → readConfigFiles → diffFiles → applyFileDiff)
//     into an empty temp folder, `runs` times;
//  2. startReconcile itself with the API stubbed (RelayNode applies answered in memory, node labels fixed)
//     until every node file is written and the queue is idle.
// argv: CONFIG_JSON { relays, runs, dir }; prints one JSON line.
import { mkdir, readdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { Registry } from 'prom-client';
import { silentLogger } from '../../lib/log.js';
import type { RelayNode } from '../../relay/index.js';
import { StaticCatalog } from '../../webhook/catalog/catalog.js';
import {
  desiredFiles,
  diffFiles,
  startReconcile,
  type NodeSource,
  type ReconcileApi,
} from '../../webhook/reconcile/index.js';
import { applyFileDiff, readConfigFiles } from '../../webhook/reconcile/files.js';
import { generatedRelays } from './relays.js';

interface Config {
  relays: number;
  runs: number;
  dir: string;
}
const c = JSON.parse(process.argv[2] ?? '{}') as Config;
const labels = { 'kubernetes.io/hostname': 'bench-node', 'kubernetes.io/os': 'linux' };
const relays = generatedRelays(c.relays, (i) => 10000 + (i % 50000));
const catalog = new StaticCatalog(relays);
const now = () => Number(process.hrtime.bigint()) / 1e6;

const coreMs: number[] = [];
for (let run = 0; run < c.runs; run++) {
  const dir = path.join(c.dir, `core-${run}`);
  await mkdir(dir, { recursive: true });
  const t0 = now();
  const diff = diffFiles(desiredFiles(catalog.list(), labels), await readConfigFiles(dir));
  await applyFileDiff(dir, diff);
  coreMs.push(now() - t0);
  const written = (await readdir(dir)).length;
  if (written !== c.relays) throw new Error(`core run ${run}: ${written} files written, expected ${c.relays}`);
  await rm(dir, { recursive: true, force: true });
}
// Proposed writer: the same atomic write (temp + fsync + rename) for every file, 16 at a time.

// A second pass over an up-to-date folder: what every resync costs.
const steadyDir = path.join(c.dir, 'steady');
await mkdir(steadyDir, { recursive: true });
await applyFileDiff(steadyDir, diffFiles(desiredFiles(catalog.list(), labels), await readConfigFiles(steadyDir)));
const t1 = now();
const again = diffFiles(desiredFiles(catalog.list(), labels), await readConfigFiles(steadyDir));
const steadyMs = now() - t1;
if (again.write.length || again.remove.length) throw new Error('an up-to-date folder still has a diff');

let applies = 0;
const api: ReconcileApi = {
  getRelayNode: async () => undefined,
  applyRelayNode: async (body: RelayNode): Promise<RelayNode> => {
    applies++;
    return body;
  },
  recordEvent: async () => undefined,
};
const nodeSource: NodeSource = {
  start: async (onLabels) => {
    onLabels(labels, 'bench-node-uid');
  },
  stop: async () => undefined,
};
const configDir = path.join(c.dir, 'reconcile', 'relays.d');
const t2 = now();
const handle = await startReconcile({
  kc: new KubeConfig(),
  catalog,
  nodeName: 'bench-node',
  configDir,
  socketDir: path.join(c.dir, 'reconcile', 'run'),
  registry: new Registry(),
  log: silentLogger,
  api,
  nodeSource,
  statusPollMs: 60_000,
  resyncSeconds: 3600,
});
await handle.idle();
const reconcileMs = now() - t2;
const files = (await readdir(configDir)).length;
if (global.gc) global.gc();
const rss = process.memoryUsage().rss;
const heap = process.memoryUsage().heapUsed;
await handle.stop();
process.stdout.write(JSON.stringify({ coreMs, steadyMs, reconcileMs, files, applies, rss, heap }) + '\n');
