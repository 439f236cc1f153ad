// socat-relay version (also --version): the build's version (package.json, lib/build-info.ts) and the
// Node.js running it; -o json for scripts.
import { parseArgs } from 'node:util';
import { packageVersion } from '../lib/build-info.js';
import { parseOrExit, UsageError, type CommandIO } from './io.js';

const USAGE = `usage: socat-relay version [-o text|json]
  -o, --output text|json   text: "socat-relay VERSION (node vX.Y.Z)" (default); json: {"version", "node"}
`;

export async function run(args: string[], io: CommandIO): Promise<number> {
  const a = parseOrExit('version', USAGE, io, () => {
    const v = parseArgs({
      args,
      options: { output: { type: 'string', short: 'o', default: 'text' }, help: { type: 'boolean', short: 'h' } },
    }).values;
    if (v.help) return 'help' as const;
    if (v.output !== 'text' && v.output !== 'json')
      throw new UsageError(`--output must be text or json, got "${v.output}"`);
    return { output: v.output };
  });
  if (typeof a === 'number') return a;
  const info = { version: packageVersion(), node: process.version };
  io.stdout.write(
    a.output === 'json' ? `${JSON.stringify(info)}\n` : `socat-relay ${info.version} (node ${info.node})\n`,
  );
  return 0;
}
