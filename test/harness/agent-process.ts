// The node agent as a real process (`socat-relay agent`, from source with tsx), in a temp dir of its
// own: config folder, socket folder, log. Orphaned socat children (an agent killed with SIGKILL leaves
// them) are found by the temp dir in their command line and killed by pid at cleanup.
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { REPO_ROOT } from './binaries.js';
import { spawnManaged, type ManagedProcess } from './processes.js';
import { waitFor } from './wait.js';
import { parseAgentStatus, type AgentStatus } from '../../node-contract/index.js';
import { agentStatusPath, socketPath } from '../../relay/index.js';
import { killPids, pidsMentioning } from './proc.js';

export interface AgentDirs {
  root: string;
  configDir: string;
  socketDir: string;
}

/** A fresh temp dir (mode 0755 so that other uids can traverse to the socket folders). */
export function agentDirs(prefix: string): AgentDirs {
  const root = mkdtempSync(path.join(os.tmpdir(), `socat-relay-${prefix}-`));
  chmodSync(root, 0o755);
  const configDir = path.join(root, 'relays.d');
  const socketDir = path.join(root, 'run');
  mkdirSync(configDir, { recursive: true });
  return { root, configDir, socketDir };
}

export function relayDoc(name: string, port: number, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    apiVersion: 'socat.io/v1alpha1',
    kind: 'Relay',
    metadata: { name },
    spec: { target: { host: '127.0.0.1', port }, consumers: { namespaces: ['monitoring'] }, ...extra },
  };
}

/** Writes a relay file the way the reconcile does (temp + rename), so the agent never sees half of it. */
export function writeRelay(dirs: AgentDirs, name: string, port: number, extra: Record<string, unknown> = {}): void {
  const file = path.join(dirs.configDir, `${name}.json`);
  const tmp = path.join(dirs.configDir, `.${name}.json.tmp`);
  writeFileSync(tmp, JSON.stringify(relayDoc(name, port, extra)));
  renameSync(tmp, file);
}

export interface AgentProcess {
  process: ManagedProcess;
  pid: number;
  status(): AgentStatus | undefined;
  /** Waits until the status file satisfies `pred`. */
  waitStatus(what: string, pred: (s: AgentStatus) => boolean, timeoutMs?: number): Promise<AgentStatus>;
  stop(): Promise<void>;
  kill(): Promise<void>;
}

/**
 * Starts `socat-relay agent`. It serves /healthz on an ephemeral loopback port by default, as in
 * production (with `--listen off` an agent with no relay exits: see agent-faults.test.ts).
 */
export async function startAgentProcess(
  dirs: AgentDirs,
  opts: { resyncSeconds?: number; logName?: string; listen?: string } = {},
): Promise<AgentProcess> {
  const args = [
    '--import',
    'tsx',
    path.join(REPO_ROOT, 'cli', 'main.ts'),
    'agent',
    '--config-dir',
    dirs.configDir,
    '--socket-dir',
    dirs.socketDir,
    '--listen',
    opts.listen ?? '127.0.0.1:0',
    '--resync',
    String(opts.resyncSeconds ?? 2),
    '--log-level',
    'info',
  ];
  const proc = spawnManaged('agent', process.execPath, args, {
    logFile: path.join(dirs.root, opts.logName ?? 'agent.log'),
    cwd: REPO_ROOT,
    env: { PATH: process.env.PATH, HOME: process.env.HOME },
  });
  const statusFile = agentStatusPath(dirs.socketDir);
  const status = (): AgentStatus | undefined => {
    try {
      return parseAgentStatus(readFileSync(statusFile, 'utf8'));
    } catch {
      return undefined;
    }
  };
  const waitStatus = async (
    what: string,
    pred: (s: AgentStatus) => boolean,
    timeoutMs = 30_000,
  ): Promise<AgentStatus> => {
    const ac = new AbortController();
    void proc.exited.then(() => ac.abort());
    try {
      return await waitFor(
        what,
        () => {
          const s = status();
          return s && s.agent.pid === proc.child.pid && pred(s) ? s : undefined;
        },
        { timeoutMs, intervalMs: 100, signal: ac.signal },
      );
    } catch (e) {
      throw new Error(`${(e as Error).message}\n--- agent log ---\n${proc.logTail(20)}`, { cause: e });
    }
  };
  return {
    process: proc,
    pid: proc.child.pid!,
    status,
    waitStatus,
    stop: () => proc.stop(15_000),
    kill: async () => {
      proc.child.kill('SIGKILL');
      await proc.exited;
    },
  };
}

export function runningCount(s: AgentStatus): number {
  return Object.values(s.relays).filter((r) => r.running).length;
}

export function sock(dirs: AgentDirs, relay: string): string {
  return socketPath(dirs.socketDir, relay);
}

/** Kills every process still mentioning the temp dir (orphaned socats) and removes the dir. */
export function cleanupDirs(dirs: AgentDirs): number[] {
  const orphans = pidsMentioning(dirs.root);
  killPids(orphans);
  rmSync(dirs.root, { recursive: true, force: true });
  return orphans;
}
