// The agent's status file (`<socketDir>/.agent/status.json`): its schema (versioned), how it is
// written and parsed, and the staleness rule. The agent builds and writes it (node-agent/status.ts);
// the controller's reconcile reads it to report each relay's state on this node. The reader may be
// another process or another version, or find the file half-written: parsing is defensive.
import { isObject } from '../lib/object.js';

/** The schema's version, written into every file. Bump it when a field changes meaning or goes away. */
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

export interface FileWarning {
  file: string;
  message: string;
}

export interface AgentStatus {
  version: number;
  /**
   * heartbeatSeconds: the agent rewrites this file at least that often (updatedAt moves), so a reader
   * can tell a dead agent's last report from a live one's (see staleAgentStatusAge).
   */
  agent: {
    pid: number;
    startedAt: string;
    updatedAt: string;
    configDir: string;
    socketDir: string;
    heartbeatSeconds?: number;
  };
  relays: Record<string, AgentRelayStatus>;
  /** Files that were skipped: unreadable, unparsable, invalid, or a second definition of a relay. */
  files: Record<string, { relay?: string; error: string }>;
  warnings: FileWarning[];
}

export class StatusParseError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StatusParseError';
  }
}

/** The file's bytes for a status. */
export function formatAgentStatus(st: AgentStatus): string {
  return `${JSON.stringify(st, null, 2)}\n`;
}

/** Parses a status file; throws StatusParseError when it is not JSON (half-written) or has the wrong shape. */
export function parseAgentStatus(text: string): AgentStatus {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    throw new StatusParseError(`status file is not valid JSON: ${(e as Error).message}`);
  }
  if (!isObject(v) || typeof v.version !== 'number' || !isObject(v.agent) || !isObject(v.relays)) {
    throw new StatusParseError('status file does not have the expected shape (version, agent, relays)');
  }
  const relays: Record<string, AgentRelayStatus> = {};
  for (const [name, r] of Object.entries(v.relays)) {
    if (!isObject(r) || typeof r.running !== 'boolean')
      throw new StatusParseError(`status of relay ${name} is malformed`);
    relays[name] = r as unknown as AgentRelayStatus;
  }
  return {
    version: v.version,
    agent: v.agent as AgentStatus['agent'],
    relays,
    files: isObject(v.files) ? (v.files as AgentStatus['files']) : {},
    warnings: Array.isArray(v.warnings) ? (v.warnings as FileWarning[]) : [],
  };
}

/** The staleness rule's margin on top of three heartbeats (a busy node may write late). */
const STALE_MARGIN_SECONDS = 15;

/**
 * A status whose heartbeat stopped: not rewritten for three heartbeats plus a margin. Undefined when it
 * is fresh (or from an agent without a heartbeat); else how many seconds old it is.
 */
export function staleAgentStatusAge(st: AgentStatus, nowMs: number): number | undefined {
  const beat = st.agent.heartbeatSeconds;
  const updated = Date.parse(st.agent.updatedAt);
  if (typeof beat !== 'number' || !(beat > 0) || Number.isNaN(updated)) return undefined;
  const ageSeconds = (nowMs - updated) / 1000;
  return ageSeconds > 3 * beat + STALE_MARGIN_SECONDS ? Math.round(ageSeconds) : undefined;
}
