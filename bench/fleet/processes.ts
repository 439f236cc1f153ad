// The real processes of the fleet benchmark: the controller as its DaemonSets run it (`socat-relay
// controller`, plain node on the bundle the image runs — scripts/bundle.sh —, configured only through
// the DaemonSets' environment), each behind its own counting proxy (a kubeconfig of its own pointing at
// the proxy), the node agent beside it, and the code before the RelayNode topology, taken from git
// history into bench/results/ and transpiled file by file (it has no bundle script), so both designs
// run side by side in one benchmark run.
import { mkdir, readFile, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import https from 'node:https';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { makeWebhookCerts } from '../../certs/selfsigned.js';
import { writeCerts } from '../../certs/write.js';
import { bundleArgs } from '../lib/build.js';
import { freePort, waitUntil } from '../lib/net.js';
import { runCommand, startProcess, type Cleanup, type Managed } from '../lib/proc.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
/** The folders of the repository the controller and the agent are made of. */
const CODE = ['relay', 'lib', 'cli', 'webhook', 'node-agent', 'node-contract', 'certs'];

export type Design = 'new' | 'old';

/** The node arguments of `socat-relay <args>` for a design: this tree, or the old tree's build. */
async function cliArgs(design: Design, oldRoot: string | undefined): Promise<string[]> {
  if (design === 'new') return bundleArgs();
  if (!oldRoot) throw new Error('the old design needs its tree (prepareOldTree)');
  return [path.join(oldRoot, 'cli', 'main.js')];
}

/**
 * The tree of `commit` (its code, manifests and package.json) in bench/results/fleet-old-<commit>,
 * transpiled in place by esbuild, node_modules linked to this checkout's (the runtime dependencies did
 * not change since). Done once per commit.
 */
export async function prepareOldTree(commit: string): Promise<string> {
  const sha = (await runCommand('git', ['rev-parse', '--verify', `${commit}^{commit}`], { cwd: ROOT })).stdout.trim();
  const dir = path.join(ROOT, 'bench', 'results', `fleet-old-${sha.slice(0, 12)}`);
  if (
    await readFile(path.join(dir, '.built'), 'utf8').then(
      (s) => s === sha,
      () => false,
    )
  )
    return dir;
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  await runCommand('bash', [
    '-c',
    `git -C "$1" archive "$2" ${[...CODE, 'manifests', 'package.json'].join(' ')} | tar -x -C "$3"`,
    'archive',
    ROOT,
    sha,
    dir,
  ]);
  await symlink(path.join(ROOT, 'node_modules'), path.join(dir, 'node_modules'));
  const files: string[] = [];
  const walk = async (d: string): Promise<void> => {
    for (const e of await readdir(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) await walk(p);
      else if (e.name.endsWith('.ts') && !e.name.endsWith('.d.ts')) files.push(path.relative(dir, p));
    }
  };
  for (const c of CODE) await walk(path.join(dir, c));
  await runCommand(
    path.join(ROOT, 'node_modules', '.bin', 'esbuild'),
    [...files, '--outdir=.', '--outbase=.', '--format=esm', '--platform=node', '--target=node20', '--log-level=error'],
    { cwd: dir, timeoutMs: 120_000 },
  );
  await writeFile(path.join(dir, '.built'), sha);
  return dir;
}

/** A kubeconfig that sends everything to the controller's counting proxy (plain HTTP on loopback). */
async function proxyKubeconfig(file: string, proxyPort: number): Promise<void> {
  await writeFile(
    file,
    stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [
        { name: 'proxy', cluster: { server: `http://127.0.0.1:${proxyPort}`, 'insecure-skip-tls-verify': true } },
      ],
      users: [{ name: 'proxy', user: {} }],
      contexts: [{ name: 'proxy', context: { cluster: 'proxy', user: 'proxy' } }],
      'current-context': 'proxy',
    }),
    { mode: 0o600 },
  );
}

export interface ControllerSpec {
  design: Design;
  oldRoot?: string;
  node: string;
  /** Serves admission and stands for the election (the socat-relay-controller DaemonSet); else reconcile only. */
  serving: boolean;
  namespace: string;
  /** This controller's folder: kubeconfig, certificates, relay files, sockets. */
  dir: string;
  proxyPort: number;
  /** Extra environment (the old design's prune times, …). */
  env?: Record<string, string>;
  /** The node arguments before `controller` (default: the design's CLI, cliArgs). */
  cli?: string[];
}

export interface FleetController {
  spec: ControllerSpec;
  proc: Managed;
  /** The port whose /readyz says it is ready. */
  readyPort: number;
}

const configDirOf = (dir: string): string => path.join(dir, 'relays.d');
const socketDirOf = (dir: string): string => path.join(dir, 'run');

function readyz(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const req = https.get(
      { host: '127.0.0.1', port, path: '/readyz', rejectUnauthorized: false, timeout: 3000 },
      (res) => {
        res.resume();
        resolve(res.statusCode === 200);
      },
    );
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(false));
  });
}

/** Starts one controller process as its DaemonSet does (the environment of manifests/controller/). */
export async function startFleetController(spec: ControllerSpec, cleanup: Cleanup): Promise<FleetController> {
  await mkdir(configDirOf(spec.dir), { recursive: true });
  await mkdir(socketDirOf(spec.dir), { recursive: true });
  const kubeconfig = path.join(spec.dir, 'kubeconfig');
  await proxyKubeconfig(kubeconfig, spec.proxyPort);
  // The old design served admission on every node: every old controller gets the serving certificate.
  const serving = spec.serving || spec.design === 'old';
  const tls = serving
    ? await writeCerts(path.join(spec.dir, 'tls'), await makeWebhookCerts({ extraHosts: ['127.0.0.1', 'localhost'] }))
    : undefined;
  const port = await freePort();
  const metricsPort = await freePort();
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    NODE_ENV: 'production',
    KUBECONFIG: kubeconfig,
    NODE_NAME: spec.node,
    POD_NAMESPACE: spec.namespace,
    SOCAT_RELAY_METRICS_PORT: String(metricsPort),
    SOCAT_RELAY_HOST: '127.0.0.1',
    SOCAT_RELAY_CONFIG_DIR: configDirOf(spec.dir),
    SOCAT_RELAY_SOCKET_DIR: socketDirOf(spec.dir),
    SOCAT_RELAY_RECONCILE: 'true',
    SOCAT_RELAY_VOLUME_SOURCE: 'csi',
    SOCAT_RELAY_SIDECAR_MODE: 'auto',
    SOCAT_RELAY_SHUTDOWN_DRAIN_SECONDS: '0',
    LOG_LEVEL: 'warn',
    ...(tls ? { SOCAT_RELAY_PORT: String(port), SOCAT_RELAY_TLS_CERT: tls.cert, SOCAT_RELAY_TLS_KEY: tls.key } : {}),
    ...(spec.design === 'new' && !spec.serving ? { SOCAT_RELAY_SERVE_ADMISSION: 'false' } : {}),
    ...spec.env,
  };
  const cli = spec.cli ?? (await cliArgs(spec.design, spec.oldRoot));
  const proc = startProcess(process.execPath, [...cli, 'controller'], cleanup, {
    env,
    cwd: spec.dir,
  });
  const readyPort = tls ? port : metricsPort;
  await waitUntil(
    `controller ${spec.design} ${spec.node} /readyz`,
    async () => {
      if (proc.child.exitCode !== null)
        throw new Error(`controller ${spec.node} exited: ${proc.stderr().slice(-1500)}`);
      return readyz(readyPort);
    },
    120_000,
    500,
  );
  return { spec, proc, readyPort };
}

/** The node agent beside a controller: its relay files in, one socat per relay, its status file out. */
export async function startAgent(
  design: Design,
  oldRoot: string | undefined,
  dir: string,
  cleanup: Cleanup,
  /** The node arguments before `agent` (default: the design's CLI, cliArgs). */
  cli?: string[],
): Promise<Managed> {
  await mkdir(configDirOf(dir), { recursive: true });
  await mkdir(socketDirOf(dir), { recursive: true });
  return startProcess(
    process.execPath,
    [
      ...(cli ?? (await cliArgs(design, oldRoot))),
      'agent',
      '--config-dir',
      configDirOf(dir),
      '--socket-dir',
      socketDirOf(dir),
      '--listen',
      `127.0.0.1:${await freePort()}`,
      '--log-level',
      'warn',
    ],
    cleanup,
    { env: { PATH: process.env.PATH, HOME: process.env.HOME, NODE_ENV: 'production' }, cwd: dir },
  );
}
