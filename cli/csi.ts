// socat-relay csi: the CSI node plugin (ephemeral inline volumes only) that bind-mounts a relay's
// folder read-only into the pods allowed to consume it. Runs as root in its own privileged container
// of the agent pod (mounting needs CAP_SYS_ADMIN and Bidirectional mount propagation), beside the
// unprivileged socat supervisor. Serves /healthz on the node's loopback for the container's liveness
// probe (a CSI Probe over its own socket), and /metrics beside it (node-agent/csi/metrics.ts).
import { hostname } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { packageVersion } from '../lib/build-info.js';
import type { Logger, LogLevel } from '../lib/log.js';
import { Driver } from '../node-agent/csi/driver.js';
import { CsiHealth } from '../node-agent/csi/health.js';
import { CsiMetrics } from '../node-agent/csi/metrics.js';
import { SystemMounter } from '../node-agent/csi/mount.js';
import { PluginServer, pluginPaths } from '../node-agent/csi/server.js';
import { AgentHttpServer, listenSetting } from '../node-agent/http.js';
import { CSI_DRIVER, DEFAULT_CONFIG_DIR, DEFAULT_SOCKET_DIR } from '../relay/index.js';
import { listenThenStart, logLevelSetting, runDaemon, type RunningDaemon } from './daemon.js';
import type { CommandIO } from './io.js';
import { parseOrExit, UsageError } from './io.js';

export const DEFAULT_KUBELET_DIR = '/var/lib/kubelet';
export const DEFAULT_DRIVER_NAME = CSI_DRIVER;
export const DEFAULT_HEALTH_LISTEN = '127.0.0.1:9466';

const USAGE = `usage: socat-relay csi [--config-dir DIR] [--socket-dir DIR] [--kubelet-dir DIR] [--node-id NAME] [--driver-name NAME] [--health-listen HOST:PORT]
  --config-dir DIR    relay files (<relay>.json, .yaml, .yml)         default ${DEFAULT_CONFIG_DIR}
  --socket-dir DIR    relay folders <DIR>/<relay>/ (what is mounted)   default ${DEFAULT_SOCKET_DIR}
  --kubelet-dir DIR   the kubelet's root folder (--root-dir); sockets go to
                      <DIR>/plugins/<driver>/csi.sock and <DIR>/plugins_registry/<driver>-reg.sock,
                      targets must lie under <DIR>/pods/               default ${DEFAULT_KUBELET_DIR}
  --node-id NAME      reported by NodeGetInfo                          default env NODE_NAME, else the host name
  --driver-name NAME  the CSIDriver's name                             default ${DEFAULT_DRIVER_NAME}
  --no-register       serve CSI only, no registration socket (for csi-sanity)
  --health-listen HOST:PORT
                      GET /healthz: 200 when a CSI Probe over the plugin's own socket
                      answers ready, else 503 with why; GET /metrics: the plugin's
                      calls by method and code   default ${DEFAULT_HEALTH_LISTEN} ('' or 'off' disables)
  --log-level LEVEL   default info (env LOG_LEVEL)
Needs root. Mounts made stay when the plugin stops or restarts; the kubelet unpublishes them.
`;

export interface CsiArgs {
  configDir: string;
  socketDir: string;
  kubeletDir: string;
  nodeId: string;
  driverName: string;
  register: boolean;
  healthListen?: { host: string; port: number };
  logLevel: LogLevel;
}

const DRIVER_NAME = /^[a-z0-9]([-a-z0-9.]{0,61}[a-z0-9])?$/;

function absolute(v: string, flag: string): string {
  if (!path.isAbsolute(v)) throw new UsageError(`--${flag} ${JSON.stringify(v)}: must be an absolute path`);
  return path.resolve(v);
}

export function parseCsiArgs(args: string[], env: NodeJS.ProcessEnv, host: () => string = hostname): CsiArgs | 'help' {
  const { values } = parseArgs({
    args,
    options: {
      'config-dir': { type: 'string' },
      'socket-dir': { type: 'string' },
      'kubelet-dir': { type: 'string' },
      'node-id': { type: 'string' },
      'driver-name': { type: 'string' },
      'no-register': { type: 'boolean' },
      'health-listen': { type: 'string' },
      'log-level': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) return 'help';
  const driverName = values['driver-name'] ?? DEFAULT_DRIVER_NAME;
  if (!DRIVER_NAME.test(driverName))
    throw new UsageError(
      `--driver-name ${JSON.stringify(driverName)}: must be a DNS name of at most 63 characters (lower case)`,
    );
  const nodeId = values['node-id'] ?? (env.NODE_NAME || host());
  if (!nodeId || nodeId.length > 253)
    throw new UsageError(`--node-id ${JSON.stringify(nodeId)}: must be 1 to 253 characters`);
  const healthListen = listenSetting(values['health-listen'], 'health-listen', DEFAULT_HEALTH_LISTEN);
  return {
    configDir: absolute(values['config-dir'] ?? DEFAULT_CONFIG_DIR, 'config-dir'),
    socketDir: absolute(values['socket-dir'] ?? DEFAULT_SOCKET_DIR, 'socket-dir'),
    kubeletDir: absolute(values['kubelet-dir'] ?? DEFAULT_KUBELET_DIR, 'kubelet-dir'),
    nodeId,
    driverName,
    register: !values['no-register'],
    ...(healthListen ? { healthListen } : {}),
    logLevel: logLevelSetting(values['log-level'], env),
  };
}

/** The node plugin's CSI services over the system's mounts. */
function csiDriver(a: CsiArgs, log: Logger): Driver {
  return new Driver({
    driverName: a.driverName,
    nodeId: a.nodeId,
    version: packageVersion(),
    configDir: a.configDir,
    socketDir: a.socketDir,
    kubeletDir: a.kubeletDir,
    mounter: new SystemMounter(),
    log,
    // The agent (the other container of this pod) serves a new volume's socket within a pass: wait for
    // it, so the pod's first connection is not refused.
    socketWaitMs: 5000,
  });
}

export async function run(args: string[], io: CommandIO, until?: () => Promise<string>): Promise<number> {
  const a = parseOrExit<CsiArgs>('csi', USAGE, io, () => parseCsiArgs(args, io.env));
  if (typeof a === 'number') return a;
  return runDaemon({
    command: 'csi',
    io,
    logLevel: a.logLevel,
    ...(until ? { until } : {}),
    start: (log) => start(a, log),
  });
}

/** The plugin's sockets and its /healthz; ends by itself (exit 1) when the kubelet refuses the registration. */
async function start(a: CsiArgs, log: Logger): Promise<RunningDaemon> {
  const driver = csiDriver(a, log);
  const paths = pluginPaths(a.kubeletDir, a.driverName);
  let fail: (code: number) => void = () => undefined;
  const ended = new Promise<number>((resolve) => {
    fail = resolve;
  });
  const metrics = new CsiMetrics();
  const server = new PluginServer({
    driver,
    driverName: a.driverName,
    csiSocket: paths.csiSocket,
    log,
    metrics,
    ...(a.register ? { registrationSocket: paths.registrationSocket } : {}),
    // The kubelet refused us: exit non-zero so the container is restarted and registers again.
    onRegistrationFailed: () => fail(1),
  });
  // The liveness endpoint dials the socket the kubelet was given: inside the container that path is the
  // same (the kubelet's root folder is mounted at its own path), so a plugin the kubelet cannot reach
  // fails its probe too.
  const checker = new CsiHealth({ socket: server.endpoint, log });
  const health = a.healthListen
    ? new AgentHttpServer({ ...a.healthListen, registry: metrics.registry, unhealthy: () => checker.check() })
    : undefined;
  await listenThenStart(health, log, () => server.start());
  log.info(
    { node: a.nodeId, driver: a.driverName, kubeletDir: a.kubeletDir, configDir: a.configDir, socketDir: a.socketDir },
    'csi plugin started',
  );
  return {
    ended,
    async stop() {
      log.info('the mounts made stay in place: the kubelet unpublishes them');
      await health?.stop();
      await server.stop();
    },
  };
}
