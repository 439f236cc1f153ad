// Test plumbing for the CSI plugin: a private mount namespace that outlives plugin restarts (held by a
// `sleep` started with `unshare --mount --propagation private`; killing it takes every mount made in
// it along), the real plugin (`socat-relay csi`) started inside it with nsenter, and gRPC clients
// built from the plugin's own .proto files talking to its real Unix sockets.
import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import {
  accessSync,
  constants,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readlinkSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import {
  credentials,
  type CallOptions,
  type Client,
  type ClientUnaryCall,
  type requestCallback,
  type ServiceError,
} from '@grpc/grpc-js';
import { registerCleanup } from '../../harness/cleanup.js';
import { REPO_ROOT } from '../../harness/binaries.js';
import { spawnManaged, type ManagedProcess } from '../../harness/processes.js';
import { waitFor } from '../../harness/wait.js';
import { required } from '../../harness/required.js';
import { findMount, parseMountInfo, type MountPoint } from '../../../node-agent/csi/mount.js';
import type { IdentityClient } from '../../../node-agent/csi/generated/csi/v1/Identity.js';
import type { NodeClient } from '../../../node-agent/csi/generated/csi/v1/Node.js';
import type { RegistrationClient } from '../../../node-agent/csi/generated/pluginregistration/Registration.js';
import { loadServices } from '../../../node-agent/csi/proto.js';
import { pluginPaths } from '../../../node-agent/csi/server.js';

/** Null when the plugin can be tested here (root, Linux, util-linux), else why not. */
export function csiUnavailable(): string | null {
  if (process.platform !== 'linux') return 'bind mounts in a private mount namespace need Linux';
  if (process.getuid?.() !== 0)
    return 'the CSI plugin tests need root (bind mounts in a private mount namespace; run the suite as root, as .ci/run does)';
  for (const bin of ['unshare', 'nsenter', 'mount', 'umount', 'socat']) {
    const found = (process.env.PATH ?? '').split(':').some((d) => {
      try {
        accessSync(path.join(d, bin), constants.X_OK);
        return true;
      } catch {
        return false;
      }
    });
    if (!found) return `'${bin}' is not installed (util-linux, socat)`;
  }
  return null;
}

/**
 * For `describe(…, { skip })`: false when the plugin can be tested here, else the reason (in CI: a failure, see
 * required()).
 */
export function skipUnlessCsi(): string | false {
  return required(csiUnavailable());
}

export function run(
  cmd: string,
  args: string[],
  opts: { input?: string; timeoutMs?: number } = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = execFile(
      cmd,
      args,
      { timeout: opts.timeoutMs ?? 15_000, killSignal: 'SIGKILL' },
      (err, stdout, stderr) => {
        resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
      },
    );
    child.stdin?.on('error', () => undefined); // a command that exits without reading its input
    child.stdin?.end(opts.input ?? '');
  });
}

export class MountNamespace {
  /** Mount points the harness made (shareFolder), not the plugin: left out of mountsUnder. */
  private readonly own = new Set<string>();
  private constructor(
    private readonly holder: ManagedProcess,
    readonly pid: number,
  ) {}

  static async create(logFile: string): Promise<MountNamespace> {
    const holder = spawnManaged(
      'mount-namespace',
      'unshare',
      ['--mount', '--propagation', 'private', 'sleep', 'infinity'],
      { logFile },
    );
    const pid = holder.child.pid;
    if (!pid) throw new Error('unshare did not start');
    const mine = readlinkSync('/proc/self/ns/mnt');
    // unshare execs sleep once the namespace exists: until then the pid is still in ours.
    await waitFor(
      'the private mount namespace',
      () => holder.running() && readlinkSync(`/proc/${pid}/ns/mnt`) !== mine,
      { timeoutMs: 10_000, intervalMs: 20 },
    );
    return new MountNamespace(holder, pid);
  }

  /** Runs a command inside the namespace. */
  exec(cmd: string, args: string[], opts: { input?: string; timeoutMs?: number } = {}): ReturnType<typeof run> {
    return run('nsenter', ['-t', String(this.pid), '-m', '--', cmd, ...args], opts);
  }

  /** Every mount of the namespace, in mount order. */
  mounts(): MountPoint[] {
    return parseMountInfo(readFileSync(`/proc/${this.pid}/mountinfo`, 'utf8'));
  }

  mountAt(target: string): MountPoint | undefined {
    return findMount(this.mounts(), target);
  }

  /** Mounts of the namespace at or under `dir`, except the harness's own (shareFolder's bind mounts). */
  mountsUnder(dir: string): MountPoint[] {
    return this.mounts().filter(
      (m) => (m.mountPoint === dir || m.mountPoint.startsWith(`${dir}/`)) && !this.own.has(m.mountPoint),
    );
  }

  /**
   * Makes `dir` a shared mount in the namespace (a bind mount onto itself first, when it is not a mount
   * point), as a kubelet folder mounted with mountPropagation: Bidirectional is in the plugin's container.
   */
  async shareFolder(dir: string): Promise<void> {
    if (this.mountAt(dir)?.shared) return;
    if (!this.mountAt(dir)) {
      await this.must('mount', ['--bind', dir, dir]);
      this.own.add(dir);
    }
    await this.must('mount', ['--make-shared', dir]);
  }

  /** `mount --make-private dir`: mounts made under it stay in this namespace's own copy. */
  async unshareFolder(dir: string): Promise<void> {
    await this.must('mount', ['--make-private', dir]);
  }

  private async must(cmd: string, args: string[]): Promise<void> {
    const r = await this.exec(cmd, args);
    if (r.code !== 0)
      throw new Error(`${cmd} ${args.join(' ')} in the test's mount namespace: ${r.stderr.trim() || `exit ${r.code}`}`);
  }

  /** Kills the holder: the namespace, and every mount in it, goes away with its last process. */
  async destroy(): Promise<void> {
    await this.holder.stop(2000);
  }
}

export interface Layout {
  root: string;
  kubeletDir: string;
  configDir: string;
  socketDir: string;
  logDir: string;
}

/** A temp folder with the kubelet's, the config and the socket folders; removed at exit. */
export function makeLayout(prefix: string): Layout {
  const root = mkdtempSync(path.join(os.tmpdir(), `${prefix}-`));
  const l: Layout = {
    root,
    kubeletDir: path.join(root, 'kubelet'),
    configDir: path.join(root, 'relays.d'),
    socketDir: path.join(root, 'run'),
    logDir: path.join(root, 'logs'),
  };
  for (const d of [l.kubeletDir, path.join(l.kubeletDir, 'pods'), l.configDir, l.socketDir, l.logDir])
    mkdirSync(d, { recursive: true });
  registerCleanup(() => rmSync(root, { recursive: true, force: true }));
  return l;
}

/** A node file for relay `name`. */
export function writeRelay(l: Layout, name: string, consumers: unknown, annotations?: Record<string, string>): void {
  const relay = {
    apiVersion: 'socat.io/v1alpha1',
    kind: 'Relay',
    metadata: { name, ...(annotations ? { annotations } : {}) },
    spec: { target: { host: '127.0.0.1', port: 10259 }, consumers },
  };
  writeFileSync(path.join(l.configDir, `${name}.json`), JSON.stringify(relay));
}

/** The target path the kubelet would use for a pod's inline volume. */
export function targetFor(l: Layout, podUid: string, volume = 'socat-relay'): string {
  return path.join(l.kubeletDir, 'pods', podUid, 'volumes', 'kubernetes.io~csi', volume, 'mount');
}

export interface Plugin {
  proc: ManagedProcess;
  csiSocket: string;
  registrationSocket: string;
  /** The plugin's /healthz address (`127.0.0.1:PORT`), unless --health-listen turned it off. */
  health?: string;
  logFile: string;
}

let starts = 0;

/**
 * Starts `socat-relay csi` inside the namespace and waits until it answers. Its /healthz goes to a free
 * port unless `extra` sets --health-listen (the default 127.0.0.1:9466 belongs to a real node's plugin).
 */
export async function startPlugin(ns: MountNamespace, l: Layout, extra: string[] = []): Promise<Plugin> {
  if (!extra.some((a) => a.startsWith('--health-listen'))) extra = [...extra, '--health-listen', '127.0.0.1:0'];
  // The kubelet folder as the agent pod mounts it: Bidirectional, so a shared mount.
  await ns.shareFolder(l.kubeletDir);
  const paths = pluginPaths(l.kubeletDir, 'csi.socat.io');
  const logFile = path.join(l.logDir, `plugin-${++starts}.log`);
  const proc = spawnManaged(
    'csi plugin',
    'nsenter',
    [
      '-t',
      String(ns.pid),
      '-m',
      `--wd=${REPO_ROOT}`,
      '--',
      process.execPath,
      '--import',
      'tsx',
      path.join(REPO_ROOT, 'cli', 'main.ts'),
      'csi',
      '--kubelet-dir',
      l.kubeletDir,
      '--config-dir',
      l.configDir,
      '--socket-dir',
      l.socketDir,
      '--node-id',
      'test-node',
      ...extra,
    ],
    { logFile, cwd: REPO_ROOT, env: { ...process.env, LOG_LEVEL: 'debug' } },
  );
  const exited = new AbortController();
  void proc.exited.then(() => exited.abort());
  try {
    // Answering, not only there: a killed plugin leaves its socket files behind. The registration
    // socket comes last; without it (--no-register), the CSI socket.
    const registers = !extra.includes('--no-register');
    await waitFor(
      `the plugin's ${registers ? 'registration' : 'CSI'} socket to answer`,
      async () => {
        if (!existsSync(registers ? paths.registrationSocket : paths.csiSocket)) return false;
        const c = clientsFor(paths);
        try {
          await (registers ? call(c.registration, 'GetInfo', {}, 2000) : call(c.identity, 'Probe', {}, 2000));
          return true;
        } finally {
          c.close();
        }
      },
      { timeoutMs: 60_000, intervalMs: 200, signal: exited.signal },
    );
  } catch (e) {
    await proc.stop();
    throw new Error(`the plugin did not start (${(e as Error).message}); its log:\n${proc.logTail()}`, { cause: e });
  }
  const served = /"address":"([^"]+)","msg":"serving \/healthz[^"]*"/.exec(readFileSync(logFile, 'utf8'))?.[1];
  return { proc, ...paths, ...(served ? { health: served } : {}), logFile };
}

export interface Clients {
  identity: IdentityClient;
  node: NodeClient;
  registration: RegistrationClient;
  close: () => void;
}

export function clientsFor(p: { csiSocket: string; registrationSocket: string }): Clients {
  const svc = loadServices();
  // Own connections per client set: a restarted plugin must not be reached through a connection
  // (in grpc-js's shared pool) that is still backing off from the previous one.
  const opts = { 'grpc.use_local_subchannel_pool': 1 };
  const identity = new svc.Identity(`unix:${p.csiSocket}`, credentials.createInsecure(), opts);
  const node = new svc.Node(`unix:${p.csiSocket}`, credentials.createInsecure(), opts);
  const registration = new svc.Registration(`unix:${p.registrationSocket}`, credentials.createInsecure(), opts);
  return {
    identity,
    node,
    registration,
    close: () => {
      identity.close();
      node.close();
      registration.close();
    },
  };
}

/**
 * A unary method of a generated client: its last overload, `(argument, callback)`, gives the request type (what the
 * client sends) and the response type (as decoded, `…__Output`).
 */
type Unary<Req, Res> = (argument: Req, callback: requestCallback<Res>) => ClientUnaryCall;
type RpcName<C> = Exclude<keyof C, keyof Client> & string;
type RequestOf<F> = F extends Unary<infer Req, unknown> ? Req : never;
type ResponseOf<F> = F extends Unary<never, infer Res> ? Res : never;

/** One unary call, typed by the generated client; rejects with the gRPC ServiceError (code, details). */
export function call<C extends Client, M extends RpcName<C>>(
  client: C,
  method: M,
  req: RequestOf<C[M]>,
  timeoutMs = 30_000,
): Promise<ResponseOf<C[M]>> {
  return new Promise((resolve, reject) => {
    const fn = client[method] as (
      argument: RequestOf<C[M]>,
      options: CallOptions,
      callback: requestCallback<ResponseOf<C[M]>>,
    ) => ClientUnaryCall;
    fn.call(client, req, { deadline: Date.now() + timeoutMs }, (e, v) => (e ? reject(e) : resolve(v!)));
  });
}

/** The gRPC error of a call that must fail. */
export async function callError<C extends Client, M extends RpcName<C>>(
  client: C,
  method: M,
  req: RequestOf<C[M]>,
): Promise<ServiceError> {
  try {
    await call(client, method, req);
  } catch (e) {
    return e as ServiceError;
  }
  throw new Error(`${method} succeeded, expected an error`);
}

/** A TCP service on loopback that greets every connection with `name` and keeps it open (the revocation suites). */
export async function streamService(name: string): Promise<{ port: number; close: () => Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => undefined);
    s.write(`${name}\n`);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as net.AddressInfo).port,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

/** A pod's open connection: a socat client inside the mount namespace on `<dir>/socket`, its output kept. */
export interface PodConnection {
  child: ChildProcess;
  out: () => string;
  exited: Promise<number | null>;
}

export function podConnection(ns: MountNamespace, dir: string): PodConnection {
  const child = spawn('nsenter', ['-t', String(ns.pid), '-m', '--', 'socat', '-', `UNIX-CONNECT:${dir}/socket`], {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (d: Buffer) => {
    out += d.toString();
  });
  child.stderr.on('data', (d: Buffer) => {
    out += d.toString();
  });
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  return { child, out: () => out, exited };
}

/** Whether `c` ends within `ms` ('ended') or is still open then ('open'). */
function outcome(c: PodConnection, ms: number): Promise<'ended' | 'open'> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    c.exited.then(() => 'ended' as const),
    new Promise<'open'>((res) => {
      timer = setTimeout(() => res('open'), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

/** Fails unless the connection ends within `ms`. */
export async function endsWithin(c: PodConnection, ms: number, what: string): Promise<void> {
  assert.equal(await outcome(c, ms), 'ended', `${what}: the connection is still open after ${ms} ms`);
}

/** Fails if the connection ends within `ms`. */
export async function stillOpen(c: PodConnection, ms: number, what: string): Promise<void> {
  assert.equal(await outcome(c, ms), 'open', `${what}: the connection ended (${c.out()})`);
}

/** What a new connection through `<dir>/socket` gets from inside the namespace: its answer, or `refused: …`. */
export async function oneShot(ns: MountNamespace, dir: string): Promise<string> {
  const r = await ns.exec('socat', ['-T2', '-u', `UNIX-CONNECT:${dir}/socket`, '-'], { timeoutMs: 5000 });
  return r.code === 0 ? r.stdout.trim() : `refused: ${r.stderr.trim()}`;
}
