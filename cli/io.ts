// What a command may touch of its process: passed in so tests can run commands in-process.
export interface CommandIO {
  stdin: NodeJS.ReadableStream;
  stdout: { write(s: string): unknown };
  stderr: { write(s: string): unknown };
  env: NodeJS.ProcessEnv;
}

export function defaultIO(): CommandIO {
  return { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr, env: process.env };
}

/**
 * Parses a command's arguments: the parsed value, or the exit code when there is nothing to run
 * (`--help`: usage on stdout, 0; a bad argument: the message and the usage on stderr, 2).
 */
export function parseOrExit<T>(command: string, usage: string, io: CommandIO, parse: () => T | 'help'): T | number {
  let a: T | 'help';
  try {
    a = parse();
  } catch (e) {
    io.stderr.write(`${command}: ${(e as Error).message}\n${usage}`);
    return 2;
  }
  if (a === 'help') {
    io.stdout.write(usage);
    return 0;
  }
  return a;
}

/** Thrown by argument parsing; the command prints it with its usage and exits 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}
