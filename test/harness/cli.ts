// Runs a socat-relay command in-process through the CLI dispatcher with captured stdio.
import { Readable } from 'node:stream';
import { main } from '../../cli/main.js';

export async function runCli(
  args: string[],
  stdin = '',
  env: NodeJS.ProcessEnv = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const code = await main(args, {
    stdin: Readable.from([stdin]),
    stdout: {
      write: (s: string) => {
        stdout += s;
      },
    },
    stderr: {
      write: (s: string) => {
        stderr += s;
      },
    },
    env,
  });
  return { code, stdout, stderr };
}
