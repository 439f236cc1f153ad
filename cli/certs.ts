// socat-relay certs — placeholder until its issue lands.
import type { CommandIO } from './io.js';

export async function run(_args: string[], io: CommandIO): Promise<number> {
  io.stderr.write('certs: not implemented yet\n');
  return 2;
}
