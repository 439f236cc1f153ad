// socat-relay csi: the CSI node plugin (ephemeral inline volumes only) that bind-mounts a relay's
// folder read-only into the pods allowed to consume it. Runs as root in its own privileged container
// of the agent pod (mounting needs CAP_SYS_ADMIN and Bidirectional mount propagation), beside the
// unprivileged socat supervisor. Serves /healthz on the node's loopback for the container's liveness
// probe (a CSI Probe over its own socket), and /metrics beside it (node-agent/csi/metrics.ts).
import { hostname } from 'node:os';
import path from 'node:path';
import { packageVersion } from '../lib/build-info.js';
import type { Logger, LogLevel } from '../lib/log.js';
import {
  SettingError,
  absPath,
  bool,
  loadSettings,
  logLevelSetting,
  settingsUsage,
  type Schema,
} from '../lib/settings.js';
import { Driver } from '../node-agent/csi/driver.js';
import { CsiHealth } from '../node-agent/csi/health.js';
import { CsiMetrics } from '../node-agent/csi/metrics.js';
import { SystemMounter } from '../node-agent/csi/mount.js';
import { PluginServer, pluginPaths } from '../node-agent/csi/server.js';
import { AgentHttpServer } from '../node-agent/http.js';
import { CSI_DRIVER, DEFAULT_CONFIG_DIR, DEFAULT_SOCKET_DIR } from '../relay/index.js';
import { listenAddress, listenThenStart, runDaemon, type RunningDaemon } from './daemon.js';
import type { CommandIO } from './io.js';
import { parseOrExit } from './io.js';

export const DEFAULT_KUBELET_DIR = '/var/lib/kubelet';
export const DEFAULT_DRIVER_NAME = CSI_DRIVER;
export const DEFAULT_HEALTH_LISTEN = '127.0.0.1:9466';

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

/** The settings as the schema reads them; parseCsiArgs turns them into CsiArgs. */
type CsiSettings = Omit<CsiArgs, 'register' | 'healthListen'> & {
  noRegister: boolean;
  healthListen: CsiArgs['healthListen'];
};

const absolute = (raw: string): string => path.resolve(absPath(raw));

const SETTINGS: Schema<CsiSettings> = [
  {
    key: 'configDir',
    flag: 'config-dir',
    default: DEFAULT_CONFIG_DIR,
    meaning: 'relay files (<relay>.json, .yaml, .yml)',
    parse: absolute,
  },
  {
    key: 'socketDir',
    flag: 'socket-dir',
    default: DEFAULT_SOCKET_DIR,
    meaning: 'relay folders <DIR>/<relay>/ (what is mounted)',
    parse: absolute,
  },
  {
    key: 'kubeletDir',
    flag: 'kubelet-dir',
    default: DEFAULT_KUBELET_DIR,
    meaning:
      "the kubelet's root folder (--root-dir): sockets in <DIR>/plugins/<driver>/csi.sock and <DIR>/plugins_registry/<driver>-reg.sock, targets under <DIR>/pods/",
    parse: absolute,
  },
  {
    key: 'nodeId',
    flag: 'node-id',
    env: 'NODE_NAME',
    default: '',
    meaning: 'reported by NodeGetInfo (none: the host name)',
    parse: (raw) => {
      if (raw.length > 253) throw new SettingError(`must be at most 253 characters, got "${raw}"`);
      return raw;
    },
  },
  {
    key: 'driverName',
    flag: 'driver-name',
    default: DEFAULT_DRIVER_NAME,
    meaning: "the CSIDriver's name",
    parse: (raw) => {
      if (!DRIVER_NAME.test(raw))
        throw new SettingError(`must be a DNS name of at most 63 characters (lower case), got "${raw}"`);
      return raw;
    },
  },
  {
    key: 'noRegister',
    flag: 'no-register',
    boolean: true,
    default: 'false',
    meaning: 'serve CSI only, no registration socket (for csi-sanity)',
    parse: bool,
  },
  {
    key: 'healthListen',
    flag: 'health-listen',
    default: DEFAULT_HEALTH_LISTEN,
    meaning:
      "HOST:PORT of GET /healthz (200 when a CSI Probe over the plugin's own socket answers ready, else 503 with why) and GET /metrics (the plugin's calls by method and code); '' or 'off' disables",
    parse: listenAddress(DEFAULT_HEALTH_LISTEN),
  },
  logLevelSetting<CsiSettings>(),
];

const USAGE = settingsUsage(
  'usage: socat-relay csi [options]',
  SETTINGS,
  'Needs root. Mounts made stay when the plugin stops or restarts; the kubelet unpublishes them.\n',
);

/** Flags > environment > defaults; throws SettingsError with every problem. */
export function parseCsiArgs(args: string[], env: NodeJS.ProcessEnv, host: () => string = hostname): CsiArgs | 'help' {
  const s = loadSettings(SETTINGS, args, env, 'csi settings');
  if (s === 'help') return 'help';
  const { noRegister, healthListen, ...rest } = s;
  return {
    ...rest,
    nodeId: rest.nodeId || host(),
    register: !noRegister,
    ...(healthListen ? { healthListen } : {}),
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
    ? new AgentHttpServer({ ...a.healthListen, registry: metrics.registry, unhealthy: () => checker.check(), log })
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
