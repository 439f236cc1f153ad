// The node half of the relays: the real node agent (`socat-relay agent`, reading config files) or,
// when asked for or when the agent cannot start, the same nodeArgv run by hand.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { agentStatusPath } from '../../relay/index.js';
import { nodeArgs } from '../lib/build.js';
import { freePort, waitUntil } from '../lib/net.js';
import { Cleanup, startProcess, type Managed } from '../lib/proc.js';
import { startNodeSideSocat, waitForSocket, writeRelayConfig, type ArgvEdit, type BenchRelay } from './topology.js';

export type NodeSideKind = 'agent' | 'socat';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

export interface NodeSide {
  kind: NodeSideKind;
  describe: string;
  /** The process that owns the node side (the agent, or undefined for hand-run socats). */
  agent?: Managed;
  /** pids of the node-side socat processes (the long-lived listeners). */
  socatPids(): Promise<number[]>;
}

class AgentFailed extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'AgentFailed';
  }
}

/** Starts `socat-relay agent` on a config folder and waits for its status file to report `running` for all. */
export async function startAgent(
  relays: readonly BenchRelay[],
  socketDir: string,
  cleanup: Cleanup,
  opts: { configDir?: string; waitMs?: number } = {},
): Promise<{ agent: Managed; configDir: string; statusPids: () => Promise<number[]> }> {
  const configDir = opts.configDir ?? (await mkdtemp(path.join(os.tmpdir(), 'srb-cfg-')));
  if (!opts.configDir) cleanup.add('remove config dir', () => rm(configDir, { recursive: true, force: true }));
  for (const r of relays) await writeRelayConfig(configDir, r.relay);
  const listen = `127.0.0.1:${await freePort()}`;
  const agent = startProcess(
    process.execPath,
    [
      ...(await nodeArgs('cli/main.ts')),
      'agent',
      '--config-dir',
      configDir,
      '--socket-dir',
      socketDir,
      '--listen',
      listen,
      '--log-level',
      'warn',
    ],
    cleanup,
    { cwd: ROOT },
  );
  const statusPids = async (): Promise<number[]> => pidsFromStatus(socketDir);
  let settled = false;
  try {
    await Promise.race([
      (async () => {
        for (const r of relays) await waitForSocket(r.resolved, socketDir, agent, opts.waitMs ?? 30_000);
      })(),
      rejectedFiles(socketDir, () => settled),
      agent.exited.then((code) => {
        if (!settled) throw new AgentFailed(`agent exited (${code}): ${agent.stderr().slice(-500)}`);
      }),
    ]);
  } catch (err) {
    await agent.stop();
    throw err;
  } finally {
    settled = true;
  }
  return { agent, configDir, statusPids };
}

/** Rejects as soon as the agent's status file reports a config file it skipped. */
async function rejectedFiles(socketDir: string, done: () => boolean): Promise<never> {
  while (!done()) {
    try {
      const st = JSON.parse(await readFile(agentStatusPath(socketDir), 'utf8')) as {
        files?: Record<string, { error: string }>;
      };
      const bad = Object.entries(st.files ?? {});
      if (bad.length) throw new AgentFailed(`the agent skipped ${bad.map(([f, e]) => `${f}: ${e.error}`).join('; ')}`);
    } catch (err) {
      if (err instanceof AgentFailed) throw err;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return new Promise<never>(() => undefined);
}

async function pidsFromStatus(socketDir: string): Promise<number[]> {
  try {
    const st = JSON.parse(await readFile(agentStatusPath(socketDir), 'utf8')) as {
      relays?: Record<string, { pid?: number; running?: boolean }>;
    };
    return Object.values(st.relays ?? {})
      .map((r) => r.pid)
      .filter((p): p is number => typeof p === 'number');
  } catch {
    return [];
  }
}

export async function startNodeSide(
  kind: NodeSideKind | 'auto',
  relays: readonly BenchRelay[],
  socketDir: string,
  cleanup: Cleanup,
  log: (s: string) => void,
  edit?: ArgvEdit,
): Promise<NodeSide> {
  if (kind !== 'socat' && !edit) {
    try {
      const { agent, statusPids } = await startAgent(relays, socketDir, cleanup);
      await waitUntil('agent status file', async () => (await statusPids()).length >= relays.length, 10_000, 50);
      return {
        kind: 'agent',
        describe: `socat-relay agent (pid ${agent.pid}) running nodeArgv`,
        agent,
        socatPids: statusPids,
      };
    } catch (err) {
      if (kind === 'agent') throw err;
      log(
        `[bench] the node agent could not start (${(err as Error).message.slice(0, 200)}); running nodeArgv directly`,
      );
    }
  }
  const procs: Managed[] = [];
  for (const r of relays) procs.push(await startNodeSideSocat(r.resolved, socketDir, cleanup, edit));
  return {
    kind: 'socat',
    describe: 'socat run directly with nodeArgv (as the agent would)',
    socatPids: async () => procs.map((p) => p.pid),
  };
}
