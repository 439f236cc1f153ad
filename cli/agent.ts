// socat-relay agent: the node agent (static pod or plain process). Reads relay files from the config
// folder and keeps one socat per relay; serves /healthz and /metrics on the node's loopback.
import { parseArgs } from 'node:util';
import { createLogger, type Logger } from '../lib/log.js';
import { Agent } from '../node-agent/agent.js';
import { AgentHttpServer, listenSetting } from '../node-agent/http.js';
import { findOnPath, findSocat, SocatNotFoundError } from '../node-agent/locate.js';
import { parentDeathSpawn } from '../node-agent/supervisor.js';
import { DEFAULT_CONFIG_DIR, DEFAULT_SOCKET_DIR, DEFAULT_SOCKET_GID } from '../relay/index.js';
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
  logLevel?: string;
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
  const logLevel = values['log-level'] ?? env.LOG_LEVEL;
  return {
    configDir: values['config-dir'] ?? DEFAULT_CONFIG_DIR,
    socketDir: values['socket-dir'] ?? DEFAULT_SOCKET_DIR,
    socketGid: int(values['socket-gid'], 'socket-gid', DEFAULT_SOCKET_GID, 0, 4294967294),
    resyncSeconds: int(values.resync, 'resync', 30, 1, 86400),
    ...(addr ? { listen: addr } : {}),
    ...(logLevel ? { logLevel } : {}),
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

/** The exit code once SIGTERM or SIGINT has run `stop`: 0, or 1 when stopping failed. */
function exitOnSignal(log: Logger, stop: () => Promise<void>): Promise<number> {
  return new Promise<number>((resolve) => {
    const onSignal = (sig: NodeJS.Signals): void => {
      log.info({ signal: sig }, 'stopping');
      stop().then(
        () => resolve(0),
        (e: unknown) => {
          log.error({ err: (e as Error).message }, 'stopping failed');
          resolve(1);
        },
      );
    };
    process.once('SIGTERM', onSignal);
    process.once('SIGINT', onSignal);
  });
}

export async function run(args: string[], io: CommandIO): Promise<number> {
  const a = parseOrExit<AgentArgs>('agent', USAGE, io, () => parse(args, io.env));
  if (typeof a === 'number') return a;
  const socatPath = socatOrExit(io);
  if (typeof socatPath === 'number') return socatPath;
  const log = createLogger({ name: 'socat-relay-agent', ...(a.logLevel ? { level: a.logLevel } : {}) });
  const spawn = parentDeathSpawn(findOnPath(io.env.PATH, 'setpriv'));
  const agent = new Agent({
    configDir: a.configDir,
    socketDir: a.socketDir,
    socketGid: a.socketGid,
    socatPath,
    log,
    resyncMs: a.resyncSeconds * 1000,
    spawn,
  });
  const http = a.listen
    ? new AgentHttpServer({
        ...a.listen,
        registry: agent.registry,
        unhealthy: () => (agent.isStarted() ? null : 'agent not started'),
      })
    : undefined;

  // The agent's own timers and watch do not hold the process (so tests can embed it): this does, until
  // a signal stops it — also with --listen off and an empty or missing config folder.
  const keepAlive = setInterval(() => undefined, 1 << 30);
  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      clearInterval(keepAlive);
      await http?.stop();
      await agent.stop();
    })();
    return stopping;
  };
  const done = exitOnSignal(log, stop);
  try {
    // The listen address first: a second agent on the same node fails here, before it could take over
    // (unlink-early) the sockets of the running one.
    if (http) {
      const addr = await http.start();
      log.info({ address: `${addr.address}:${addr.port}` }, 'serving /healthz and /metrics');
    }
    await agent.start();
  } catch (e) {
    log.error({ err: (e as Error).message }, 'agent failed to start');
    await stop();
    return 1;
  }
  return done;
}
