// The agent's status file (`<socketDir>/.agent/status.json`): what the reconcile reads to report each
// relay's state on this node. Built by a pure function, written atomically, parsed defensively (the
// reader may be another process, another version, or find the file missing).
import type { ConfigState, FileWarning } from './config.js';
import type { RelayProcess } from './supervisor.js';

export const STATUS_VERSION = 1;

export interface AgentRelayStatus {
  running: boolean;
  pid?: number;
  restarts: number;
  lastError?: string;
  since: string;
  /** The config file the relay came from. */
  file?: string;
  /** metadata.generation of the relay in that file. */
  generation?: number;
  protocol?: string;
  socket?: string;
  connections?: number;
}

export interface AgentStatus {
  version: number;
  /**
   * heartbeatSeconds: the agent rewrites this file at least that often (updatedAt moves), so a reader
   * can tell a dead agent's last report from a live one's (see isStaleAgentStatus).
   */
  agent: { pid: number; startedAt: string; updatedAt: string; configDir: string; socketDir: string; heartbeatSeconds?: number };
  relays: Record<string, AgentRelayStatus>;
  /** Files that were skipped: unreadable, unparsable, invalid, or a second definition of a relay. */
  files: Record<string, { relay?: string; error: string }>;
  warnings: FileWarning[];
}

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

export class StatusParseError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StatusParseError';
  }
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Parses a status file; throws StatusParseError when it is not JSON (half-written) or has the wrong shape. */
export function parseAgentStatus(text: string): AgentStatus {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    throw new StatusParseError(`status file is not valid JSON: ${(e as Error).message}`);
  }
  if (!isObj(v) || typeof v.version !== 'number' || !isObj(v.agent) || !isObj(v.relays)) {
    throw new StatusParseError('status file does not have the expected shape (version, agent, relays)');
  }
  const relays: Record<string, AgentRelayStatus> = {};
  for (const [name, r] of Object.entries(v.relays)) {
    if (!isObj(r) || typeof r.running !== 'boolean') throw new StatusParseError(`status of relay ${name} is malformed`);
    relays[name] = r as unknown as AgentRelayStatus;
  }
  return {
    version: v.version,
    agent: v.agent as AgentStatus['agent'],
    relays,
    files: isObj(v.files) ? (v.files as AgentStatus['files']) : {},
    warnings: Array.isArray(v.warnings) ? (v.warnings as FileWarning[]) : [],
  };
}

/**
 * A status whose heartbeat stopped: not rewritten for three heartbeats plus a margin. Undefined when it
 * is fresh (or from an agent without a heartbeat); else how many seconds old it is.
 */
export function staleAgentStatusAge(st: AgentStatus, nowMs: number): number | undefined {
  const beat = st.agent.heartbeatSeconds;
  const updated = Date.parse(st.agent.updatedAt);
  if (typeof beat !== 'number' || !(beat > 0) || Number.isNaN(updated)) return undefined;
  const ageSeconds = (nowMs - updated) / 1000;
  return ageSeconds > 3 * beat + 15 ? Math.round(ageSeconds) : undefined;
}
