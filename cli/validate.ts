// socat-relay validate -f RELAY.yaml: exit 0 when every relay is valid (warnings to stderr), exit 1 with
// one line per problem naming the field.
import { parseArgs } from 'node:util';
import { readInput } from '../lib/io.js';
import { formatProblem, parseDocuments, validateRelay, ParseError } from '../relay/index.js';
import type { CommandIO } from './io.js';

const USAGE = 'usage: socat-relay validate -f FILE [-f FILE …]   (FILE may be - for stdin; several YAML documents allowed)\n';

export async function run(args: string[], io: CommandIO): Promise<number> {
  let files: string[];
  try {
    const { values } = parseArgs({ args, options: { file: { type: 'string', short: 'f', multiple: true }, help: { type: 'boolean', short: 'h' } } });
    if (values.help) { io.stdout.write(USAGE); return 0; }
    files = values.file ?? [];
    if (files.length === 0) throw new Error('-f FILE is required');
  } catch (e) {
    io.stderr.write(`validate: ${(e as Error).message}\n${USAGE}`);
    return 2;
  }
  let failed = false;
  let count = 0;
  for (const file of files) {
    let docs: unknown[];
    try {
      docs = parseDocuments(await readInput(file, io.stdin), file);
    } catch (e) {
      io.stderr.write(`${e instanceof ParseError ? e.message : `${file}: ${(e as Error).message}`}\n`);
      failed = true;
      continue;
    }
    for (const doc of docs) {
      count++;
      const name = (doc as { metadata?: { name?: unknown } })?.metadata?.name;
      const label = `${file}: relay ${typeof name === 'string' ? name : `#${count}`}`;
      const r = validateRelay(doc);
      for (const w of r.warnings) io.stderr.write(`${label}: warning: ${w}\n`);
      for (const p of r.problems) io.stdout.write(`${label}: ${formatProblem(p)}\n`);
      if (r.problems.length > 0) failed = true;
    }
  }
  if (count === 0 && !failed) {
    io.stderr.write('validate: no relay found in the input\n');
    return 1;
  }
  return failed ? 1 : 0;
}
