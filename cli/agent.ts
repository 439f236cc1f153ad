// socat-relay agent: the node agent (static pod or plain process). Reads relay files from the config
// folder and keeps one socat per relay; serves /healthz and /metrics on the node's loopback.
import { rm, writeFile } from 'node:fs/promises';
import type { LogLevel } from '../lib/log.js';
import { integer, loadSettings, logLevelSetting, settingsUsage, text, type Schema } from '../lib/settings.js';
import { Agent } from '../node-agent/agent.js';
import { AgentHttpServer } from '../node-agent/http.js';
import { findOnPath, findSocat, SocatNotFoundError } from '../node-agent/locate.js';
import { parentDeathSpawn } from '../node-agent/supervisor.js';
import { DEFAULT_CONFIG_DIR, DEFAULT_SOCKET_DIR, DEFAULT_SOCKET_GID } from '../relay/index.js';
import { listenAddress, listenThenStart, runDaemon } from './daemon.js';
import type { CommandIO } from './io.js';
import { parseOrExit } from './io.js';

export interface AgentArgs {
  configDir: string;
  socketDir: string;
  socketGid: number;
  /** /healthz and /metrics; undefined: not served. */
  listen: { host: string; port: number } | undefined;
  resyncSeconds: number;
  /** Written once the agent serves every socket of its first pass, removed when it stops; '' for none. */
  readyFile: string;
  logLevel: LogLevel;
}

const SETTINGS: Schema<AgentArgs> = [
  {
    key: 'configDir',
    flag: 'config-dir',
    default: DEFAULT_CONFIG_DIR,
    meaning: 'relay files (*.json, *.yaml, *.yml)',
    parse: text,
  },
  {
    key: 'socketDir',
    flag: 'socket-dir',
    default: DEFAULT_SOCKET_DIR,
    meaning: '<DIR>/<relay>/socket, <DIR>/.agent/status.json',
    parse: text,
  },
  {
    key: 'socketGid',
    flag: 'socket-gid',
    default: String(DEFAULT_SOCKET_GID),
    meaning: 'group owning the sockets (mode 0660)',
    parse: integer(0, 4294967294),
  },
  {
    key: 'listen',
    flag: 'listen',
    default: '127.0.0.1:9465',
    meaning: "HOST:PORT of /healthz and /metrics ('' or 'off' disables)",
    parse: listenAddress('127.0.0.1:9465'),
  },
  {
    key: 'resyncSeconds',
    flag: 'resync',
    default: '30',
    meaning: 'seconds between full re-reads of the folder',
    parse: integer(1, 86400),
  },
  {
    key: 'readyFile',
    flag: 'ready-file',
    default: '',
    meaning:
      "a file written once every socket is in place, removed on stop: the pod's readiness (its own, where /healthz is shared during a rollout); '' for none",
    parse: text,
  },
  logLevelSetting<AgentArgs>(),
];

const USAGE = settingsUsage('usage: socat-relay agent [options]', SETTINGS);

/** Flags > environment > defaults; throws SettingsError with every problem. */
export function parseAgentArgs(args: string[], env: NodeJS.ProcessEnv): AgentArgs | 'help' {
  return loadSettings(SETTINGS, args, env, 'agent settings');
}

/** The socat on PATH, or the exit code once the reason is written. */
function socatOrExit(io: CommandIO): string | number {
  try {
    return findSocat(io.env.PATH);
  } catch (e) {
    if (e instanceof SocatNotFoundError) {
      io.stderr.write(`agent: ${e.message}\n`);
      return 1;
    }
    throw e;
  }
}

export async function run(args: string[], io: CommandIO, until?: () => Promise<string>): Promise<number> {
  const a = parseOrExit<AgentArgs>('agent', USAGE, io, () => parseAgentArgs(args, io.env));
  if (typeof a === 'number') return a;
  const socatPath = socatOrExit(io);
  if (typeof socatPath === 'number') return socatPath;
  return runDaemon({
    command: 'agent',
    io,
    logLevel: a.logLevel,
    ...(until ? { until } : {}),
    start: async (log) => {
      const agent = new Agent({
        configDir: a.configDir,
        socketDir: a.socketDir,
        socketGid: a.socketGid,
        socatPath,
        log,
        resyncMs: a.resyncSeconds * 1000,
        spawn: parentDeathSpawn(findOnPath(io.env.PATH, 'setpriv')),
      });
      const http = a.listen
        ? new AgentHttpServer({
            ...a.listen,
            registry: agent.registry,
            unhealthy: () => (agent.isStarted() ? null : 'agent not started'),
            log,
          })
        : undefined;
      await listenThenStart(
        http,
        log,
        () => agent.start(),
        () => agent.stop(),
      );
      if (a.readyFile) await writeFile(a.readyFile, `${process.pid}\n`);
      return {
        stop: async () => {
          if (a.readyFile) await rm(a.readyFile, { force: true });
          await http?.stop();
          await agent.stop();
        },
      };
    },
  });
}
