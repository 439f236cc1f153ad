// socat-relay agent: the node agent (static pod or plain process). Reads relay files from the config
// folder and keeps one socat per relay; serves /healthz and /metrics on the node's loopback.
import { parseArgs } from 'node:util';
import type { LogLevel } from '../lib/log.js';
import { Agent } from '../node-agent/agent.js';
import { AgentHttpServer, listenSetting } from '../node-agent/http.js';
import { findOnPath, findSocat, SocatNotFoundError } from '../node-agent/locate.js';
import { parentDeathSpawn } from '../node-agent/supervisor.js';
import { DEFAULT_CONFIG_DIR, DEFAULT_SOCKET_DIR, DEFAULT_SOCKET_GID } from '../relay/index.js';
import { listenThenStart, logLevelSetting, runDaemon } from './daemon.js';
import type { CommandIO } from './io.js';
import { parseOrExit, UsageError } from './io.js';

const USAGE = `usage: socat-relay agent [--config-dir DIR] [--socket-dir DIR] [--socket-gid N] [--listen HOST:PORT] [--resync SECONDS]
  --config-dir DIR   relay files (*.json, *.yaml, *.yml)     default ${DEFAULT_CONFIG_DIR}
  --socket-dir DIR   <DIR>/<relay>/socket, <DIR>/.agent/status.json   default ${DEFAULT_SOCKET_DIR}
  --socket-gid N     group owning the sockets (mode 0660)     default ${DEFAULT_SOCKET_GID}
  --listen HOST:PORT /healthz and /metrics                    default 127.0.0.1:9465 ('' or 'off' disables)
  --resync SECONDS   full re-read of the folder               default 30
  --log-level LEVEL  default info (env LOG_LEVEL)
`;

interface AgentArgs {
  configDir: string;
  socketDir: string;
  socketGid: number;
  listen?: { host: string; port: number };
  resyncSeconds: number;
  logLevel: LogLevel;
}

function parse(args: string[], env: NodeJS.ProcessEnv): AgentArgs | 'help' {
  const { values } = parseArgs({
    args,
    options: {
      'config-dir': { type: 'string' },
      'socket-dir': { type: 'string' },
      'socket-gid': { type: 'string' },
      listen: { type: 'string' },
      resync: { type: 'string' },
      'log-level': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) return 'help';
  const int = (v: string | undefined, name: string, def: number, min: number, max: number): number => {
    if (v === undefined) return def;
    const n = Number(v);
    if (!/^\d+$/.test(v) || n < min || n > max)
      throw new UsageError(`--${name} ${JSON.stringify(v)}: expected an integer from ${min} to ${max}`);
    return n;
  };
  const addr = listenSetting(values.listen, 'listen', '127.0.0.1:9465');
  return {
    configDir: values['config-dir'] ?? DEFAULT_CONFIG_DIR,
    socketDir: values['socket-dir'] ?? DEFAULT_SOCKET_DIR,
    socketGid: int(values['socket-gid'], 'socket-gid', DEFAULT_SOCKET_GID, 0, 4294967294),
    resyncSeconds: int(values.resync, 'resync', 30, 1, 86400),
    ...(addr ? { listen: addr } : {}),
    logLevel: logLevelSetting(values['log-level'], env),
  };
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
  const a = parseOrExit<AgentArgs>('agent', USAGE, io, () => parse(args, io.env));
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
          })
        : undefined;
      await listenThenStart(
        http,
        log,
        () => agent.start(),
        () => agent.stop(),
      );
      return {
        stop: async () => {
          await http?.stop();
          await agent.stop();
        },
      };
    },
  });
}
