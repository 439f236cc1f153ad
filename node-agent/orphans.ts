// socat processes left running by a previous agent that was killed (SIGKILL, OOM) outside a container:
// each socat runs in its own process group, so it outlives the agent. On start, the agent reads the
// previous status file and stops those processes — only ones that are still socat serving the same
// socket path (a recycled pid is left alone).
import { readFileSync } from 'node:fs';
import type { AgentStatus } from '../node-contract/index.js';
import { bindName } from './handoff.js';

/** The command line of a process, or undefined when it is gone. */
export type CmdlineFn = (pid: number) => string[] | undefined;

export const procCmdline: CmdlineFn = (pid) => {
  try {
    const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8')
      .split('\0')
      .filter((a) => a !== '');
    return argv.length > 0 ? argv : undefined; // empty: a zombie, as good as gone
  } catch {
    return undefined;
  }
};

/** Pids of the previous status that still run socat on the relay's socket. */
export function orphanPids(previous: AgentStatus | undefined, cmdline: CmdlineFn, selfPid = process.pid): number[] {
  if (!previous || previous.agent.pid === selfPid) return [];
  const out: number[] = [];
  for (const r of Object.values(previous.relays)) {
    if (!r.running || r.pid === undefined || !r.socket) continue;
    const argv = cmdline(r.pid);
    if (!argv || !/(^|\/)socat$/.test(argv[0] ?? '')) continue;
    // The socket path itself, or (since the handoff) a temporary name of it that was renamed over it.
    const names = [`:${r.socket},`, `:${bindName(r.socket, '')}`];
    if (argv.some((a) => names.some((n) => a.includes(n)) || a.endsWith(`:${r.socket}`))) out.push(r.pid);
  }
  return out.sort((a, b) => a - b);
}

/**
 * Whether the agent that wrote `previous` still runs (another process than this one whose command line
 * is `… agent …`): a rollout's older agent, whose socats are not orphans. In a container the previous
 * agent's pid is of another pid namespace: it is either this agent's own pid or not an agent here.
 */
export function agentRunning(previous: AgentStatus | undefined, cmdline: CmdlineFn, selfPid = process.pid): boolean {
  if (!previous || previous.agent.pid === selfPid) return false;
  const argv = cmdline(previous.agent.pid);
  return argv !== undefined && argv.includes('agent') && !/(^|\/)socat$/.test(argv[0] ?? '');
}
