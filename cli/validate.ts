// socat-relay validate -f RELAY.yaml: exit 0 when every relay is valid (warnings to stderr), exit 1 with
// one line per problem naming the field. -o json prints one object instead: every document with its
// problems and warnings, and the files that could not be read or parsed (same exit codes).
import { parseArgs } from 'node:util';
import { readInput } from '../lib/io.js';
import { formatProblem, parseDocuments, validateRelay, ParseError, type Problem } from '../relay/index.js';
import type { CommandIO } from './io.js';

const USAGE =
  'usage: socat-relay validate -f FILE [-f FILE …] [-o text|json]   (FILE may be - for stdin; several YAML documents allowed)\n';

interface DocumentResult {
  file: string;
  /** metadata.name, or #N (the document's number across the input) when it has none. */
  relay: string;
  valid: boolean;
  problems: Problem[];
  warnings: string[];
}

/** The files and the output format, or the exit code when help was asked (0) or the arguments are bad (2). */
function validateArgs(args: string[], io: CommandIO): { files: string[]; json: boolean } | number {
  try {
    const { values } = parseArgs({
      args,
      options: {
        file: { type: 'string', short: 'f', multiple: true },
        output: { type: 'string', short: 'o', default: 'text' },
        help: { type: 'boolean', short: 'h' },
      },
    });
    if (values.help) {
      io.stdout.write(USAGE);
      return 0;
    }
    const files = values.file ?? [];
    if (files.length === 0) throw new Error('-f FILE is required');
    if (values.output !== 'text' && values.output !== 'json')
      throw new Error(`--output must be text or json, got "${values.output}"`);
    return { files, json: values.output === 'json' };
  } catch (e) {
    io.stderr.write(`validate: ${(e as Error).message}\n${USAGE}`);
    return 2;
  }
}

export async function run(args: string[], io: CommandIO): Promise<number> {
  const parsed = validateArgs(args, io);
  if (typeof parsed === 'number') return parsed;
  const { files, json } = parsed;
  let failed = false;
  let count = 0;
  const documents: DocumentResult[] = [];
  const errors: { file: string; message: string }[] = [];
  for (const file of files) {
    let docs: unknown[];
    try {
      docs = parseDocuments(await readInput(file, io.stdin), file);
    } catch (e) {
      const message = e instanceof ParseError ? e.message : `${file}: ${(e as Error).message}`;
      if (json) errors.push({ file, message });
      else io.stderr.write(`${message}\n`);
      failed = true;
      continue;
    }
    for (const doc of docs) {
      count++;
      const name = (doc as { metadata?: { name?: unknown } })?.metadata?.name;
      const relay = typeof name === 'string' ? name : `#${count}`;
      const label = `${file}: relay ${relay}`;
      const r = validateRelay(doc);
      if (json) {
        documents.push({
          file,
          relay,
          valid: r.problems.length === 0,
          problems: r.problems.map((p) => ({ field: p.field, message: p.message })),
          warnings: r.warnings,
        });
      } else {
        for (const w of r.warnings) io.stderr.write(`${label}: warning: ${w}\n`);
        for (const p of r.problems) io.stdout.write(`${label}: ${formatProblem(p)}\n`);
      }
      if (r.problems.length > 0) failed = true;
    }
  }
  if (json) io.stdout.write(`${JSON.stringify({ valid: !failed && count > 0, documents, errors }, null, 2)}\n`);
  if (count === 0 && !failed) {
    io.stderr.write('validate: no relay found in the input\n');
    return 1;
  }
  return failed ? 1 : 0;
}
