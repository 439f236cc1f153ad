// The agent's side of the status file: a pure function from what the agent knows (its config state and
// its processes) to the status it writes. The file's schema, its parsing and its staleness rule are
// the node contract's (node-contract/status.ts), shared with the reconcile that reads it.
import { STATUS_VERSION, type AgentRelayStatus, type AgentStatus, type ConfigState } from '../node-contract/index.js';
import type { RelayProcess } from './supervisor.js';

export interface StatusInput {
  agent: { pid: number; startedAt: string; configDir: string; socketDir: string; heartbeatSeconds?: number };
  now: string;
  config: ConfigState;
  processes: readonly RelayProcess[];
  socketOf: (relay: string) => string;
}

export function buildAgentStatus(i: StatusInput): AgentStatus {
  const relays: Record<string, AgentRelayStatus> = {};
  for (const p of i.processes) {
    const w = i.config.wanted.get(p.name);
    relays[p.name] = {
      running: p.running,
      ...(p.pid !== undefined ? { pid: p.pid } : {}),
      restarts: p.restarts,
      ...(p.lastError !== undefined ? { lastError: p.lastError } : {}),
      since: p.since,
      ...(w ? { file: w.file, protocol: w.resolved.protocol === 'UDP' ? `UDP/${w.resolved.udpMode}` : 'TCP' } : {}),
      ...(w?.generation !== undefined ? { generation: w.generation } : {}),
      socket: i.socketOf(p.name),
      connections: p.connections,
    };
  }
  const files: AgentStatus['files'] = {};
  for (const e of i.config.errors) files[e.file] = { ...(e.relay ? { relay: e.relay } : {}), error: e.error };
  return {
    version: STATUS_VERSION,
    agent: { ...i.agent, updatedAt: i.now },
    relays,
    files,
    warnings: i.config.warnings,
  };
}
