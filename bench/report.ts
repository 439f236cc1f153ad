// Prints the last results (bench/results/*.json) as Markdown tables, to paste into BENCHMARKS.md.
// node --import tsx bench/report.ts [webhook|datapath|scale|scrape …]
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { formatMarkdown, type Figure } from './lib/figures.js';
import { describeMachine, RESULTS_DIR } from './lib/results.js';

const names = process.argv.slice(2).length ? process.argv.slice(2) : ['webhook', 'datapath', 'scale', 'scrape'];
const m = await describeMachine();
process.stdout.write(
  `Machine: ${m.nproc} × ${m.cpu}, ${m.memoryGiB} GiB, kernel ${m.kernel}, node ${m.node}, socat ${m.socat}\n\n`,
);
for (const n of names) {
  let figures: Figure[];
  try {
    figures = JSON.parse(await readFile(path.join(RESULTS_DIR, `${n}.json`), 'utf8')) as Figure[];
  } catch {
    process.stdout.write(`### ${n}\n\n(no results: run npm run bench:${n})\n\n`);
    continue;
  }
  process.stdout.write(`### ${n}\n\n${formatMarkdown(figures)}\n`);
  const notes = figures.filter((f) => f.note).map((f) => `- ${f.name}: ${f.note}`);
  if (notes.length) process.stdout.write(`${notes.join('\n')}\n\n`);
}
