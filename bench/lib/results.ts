// Writing bench/results/<benchmark>.json (a list of figures) and describing the machine it ran on.
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Figure } from './figures.js';
import { runCommand } from './proc.js';

export const RESULTS_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'results');

export async function writeResults(benchmark: string, figures: readonly Figure[], dir = RESULTS_DIR): Promise<string> {
  await mkdir(dir, { recursive: true });
  const file = path.join(dir, `${benchmark}.json`);
  await writeFile(file, JSON.stringify(figures, null, 2) + '\n');
  return file;
}

export interface Machine {
  date: string;
  nproc: number;
  cpu: string;
  kernel: string;
  node: string;
  socat: string;
  memoryGiB: number;
  loadavg: number[];
}

export async function describeMachine(): Promise<Machine> {
  let socat = 'absent';
  try {
    const r = await runCommand('socat', ['-V'], { timeoutMs: 5000 });
    socat = /socat version (\S+)/.exec(r.stdout)?.[1] ?? 'unknown';
  } catch {
    /* absent */
  }
  let cpu = os.cpus()[0]?.model ?? 'unknown';
  try {
    cpu = /^model name\s*:\s*(.*)$/m.exec(await readFile('/proc/cpuinfo', 'utf8'))?.[1] ?? cpu;
  } catch {
    /* not Linux */
  }
  return {
    date: new Date().toISOString(),
    nproc: os.availableParallelism(),
    cpu,
    kernel: os.release(),
    node: process.version,
    socat,
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    loadavg: os.loadavg().map((x) => Math.round(x * 100) / 100),
  };
}
