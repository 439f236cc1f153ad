// The plugin's two gRPC servers, each on a Unix socket: CSI Identity + Node on
// `<kubelet-dir>/plugins/<driver>/csi.sock`, and the kubelet's plugin registration on
// `<kubelet-dir>/plugins_registry/<driver>-reg.sock`, created second so the kubelet, which reacts to
// the registration socket appearing, finds the CSI socket already serving. Every handler answers
// with a gRPC status: a failing or malformed call never takes the process down. Each socket is bound at a
// temporary name and renamed into place (../handoff.ts), so a plugin replacing a running one (a rollout's
// new pod) takes both paths over without a gap, and the kubelet, which sees the registration socket
// created again, registers the new one; a plugin that stops removes a path only while it is still its own.
import { lstat, mkdir, rm, chmod } from 'node:fs/promises';
import path from 'node:path';
import { Server, ServerCredentials, status, type handleUnaryCall, type ServiceError } from '@grpc/grpc-js';
import type { Logger } from '../../lib/log.js';
import { bindName, handOver, removeIfOwned } from '../handoff.js';
import type { Driver } from './driver.js';
import { CsiError } from './errors.js';
import type { IdentityHandlers } from './generated/csi/v1/Identity.js';
import type { NodeHandlers } from './generated/csi/v1/Node.js';
import type { PluginInfo } from './generated/pluginregistration/PluginInfo.js';
import type { RegistrationHandlers } from './generated/pluginregistration/Registration.js';
import type { RegistrationStatus__Output } from './generated/pluginregistration/RegistrationStatus.js';
import type { RegistrationStatusResponse } from './generated/pluginregistration/RegistrationStatusResponse.js';
import type { CsiMetrics } from './metrics.js';
import { loadServices } from './proto.js';

/** The CSI versions announced at registration. */
const SUPPORTED_VERSIONS = ['1.0.0'];

/** The kubelet's folders for a driver: where its sockets go. */
export function pluginPaths(kubeletDir: string, driverName: string): { csiSocket: string; registrationSocket: string } {
  return {
    csiSocket: path.posix.join(kubeletDir, 'plugins', driverName, 'csi.sock'),
    registrationSocket: path.posix.join(kubeletDir, 'plugins_registry', `${driverName}-reg.sock`),
  };
}

export interface PluginServerOptions {
  driver: Driver;
  driverName: string;
  csiSocket: string;
  /** Omit to serve CSI without registering (e.g. for csi-sanity alone). */
  registrationSocket?: string;
  /** The CSI socket as the kubelet sees it (default: csiSocket). */
  endpoint?: string;
  log: Logger;
  /** Called when the kubelet reports that registration failed: the process should exit so it is restarted. */
  onRegistrationFailed: (error: string) => void;
  /** Counts every answered call by method and code (socat_relay_csi_calls_total). */
  metrics?: CsiMetrics;
}

function toServiceError(e: unknown): Partial<ServiceError> {
  if (e instanceof CsiError) return { code: e.code, details: e.message };
  return { code: status.INTERNAL, details: `internal error: ${(e as Error)?.message ?? String(e)}` };
}

/** The CSI Identity and Node services: each call goes to the driver. */
function csiServices(
  driver: Driver,
  log: Logger,
  metrics?: CsiMetrics,
): { identity: IdentityHandlers; node: NodeHandlers } {
  return {
    identity: {
      GetPluginInfo: unary(log, 'GetPluginInfo', () => driver.getPluginInfo(), metrics),
      GetPluginCapabilities: unary(log, 'GetPluginCapabilities', () => driver.getPluginCapabilities(), metrics),
      Probe: unary(log, 'Probe', () => driver.probe(), metrics),
    },
    node: {
      NodePublishVolume: unary(log, 'NodePublishVolume', (r) => driver.nodePublishVolume(r), metrics),
      NodeUnpublishVolume: unary(log, 'NodeUnpublishVolume', (r) => driver.nodeUnpublishVolume(r), metrics),
      NodeGetVolumeStats: unary(log, 'NodeGetVolumeStats', (r) => driver.nodeGetVolumeStats(r), metrics),
      NodeGetCapabilities: unary(log, 'NodeGetCapabilities', () => driver.nodeGetCapabilities(), metrics),
      NodeGetInfo: unary(log, 'NodeGetInfo', () => driver.nodeGetInfo(), metrics),
    },
  };
}

/**
 * Wraps a driver method as a handler of the generated service type (the request as decoded, `…__Output`; the
 * response as sent): its result or its CsiError becomes the answer; anything else is INTERNAL and logged.
 */
function unary<Req, Res>(
  log: Logger,
  method: string,
  fn: (req: Req) => NoInfer<Res> | Promise<NoInfer<Res>>,
  metrics?: CsiMetrics,
): handleUnaryCall<Req, Res> {
  return (call, callback) => {
    let result: Promise<Res>;
    try {
      result = Promise.resolve(fn(call.request));
    } catch (e) {
      result = Promise.reject(e instanceof Error ? e : new Error(String(e)));
    }
    result.then(
      (res) => {
        metrics?.observe(method, status.OK);
        callback(null, res);
      },
      (e: unknown) => {
        const err = toServiceError(e);
        metrics?.observe(method, err.code!);
        if (e instanceof CsiError) log.info({ method, code: status[err.code!], err: err.details }, 'call refused');
        else log.error({ method, err: (e as Error)?.stack ?? String(e) }, 'call failed');
        callback(err, null);
      },
    );
  };
}

/** Refuses a path that holds anything but a socket (a socket, live or left by a previous run, is replaced). */
async function checkSocketPath(file: string): Promise<void> {
  try {
    const st = await lstat(file);
    if (!st.isSocket()) throw new Error(`${file} exists and is not a socket; not replacing it`);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
}

function bind(server: Server, file: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.bindAsync(`unix:${file}`, ServerCredentials.createInsecure(), (err) => (err ? reject(err) : resolve()));
  });
}

function shutdown(server: Server, graceMs: number): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      server.forceShutdown();
      resolve();
    }, graceMs);
    server.tryShutdown(() => {
      clearTimeout(timer);
      resolve();
    });
  });
}

export class PluginServer {
  private csi?: Server;
  private reg?: Server;
  /** The inode each socket path got from this plugin's rename: removed at stop only while still there. */
  private readonly owned = new Map<string, number>();

  constructor(private readonly opts: PluginServerOptions) {}

  /** The CSI socket as announced at registration: the path the kubelet (and the health check) dials. */
  get endpoint(): string {
    return this.opts.endpoint ?? this.opts.csiSocket;
  }

  /** Serves CSI, then registers. Leaves no socket behind when it fails. */
  async start(): Promise<void> {
    const { driver, log, metrics } = this.opts;
    const svc = loadServices();
    const csi = new Server();
    const { identity, node } = csiServices(driver, log, metrics);
    csi.addService(svc.Identity.service, identity);
    csi.addService(svc.Node.service, node);
    this.csi = csi;
    try {
      await this.listen(csi, this.opts.csiSocket);
      log.info({ socket: this.opts.csiSocket }, 'serving CSI Identity and Node');
      if (this.opts.registrationSocket) {
        const reg = new Server();
        reg.addService(svc.Registration.service, this.registrationHandlers());
        this.reg = reg;
        await this.listen(reg, this.opts.registrationSocket);
        log.info({ socket: this.opts.registrationSocket }, 'registration socket ready');
      }
    } catch (e) {
      await this.stop();
      throw e;
    }
  }

  /** The kubelet's registration calls: GetInfo, then NotifyRegistrationStatus. */
  private registrationHandlers(): RegistrationHandlers {
    const { log, metrics } = this.opts;
    return {
      GetInfo: unary(log, 'GetInfo', () => this.pluginInfo(), metrics),
      NotifyRegistrationStatus: unary(log, 'NotifyRegistrationStatus', (r) => this.registrationStatus(r), metrics),
    };
  }

  private pluginInfo(): PluginInfo {
    this.opts.log.info('kubelet asked for the plugin info');
    return {
      type: 'CSIPlugin',
      name: this.opts.driverName,
      endpoint: this.endpoint,
      supported_versions: SUPPORTED_VERSIONS,
    };
  }

  /** A refused registration ends the process (onRegistrationFailed), so that it is restarted and registers anew. */
  private registrationStatus(r: RegistrationStatus__Output): RegistrationStatusResponse {
    const { log } = this.opts;
    if (r.plugin_registered === true) {
      log.info('registered with the kubelet');
    } else {
      const error = r.error || '(no reason given)';
      log.error({ err: error }, 'the kubelet refused the registration');
      setImmediate(() => this.opts.onRegistrationFailed(error));
    }
    return {};
  }

  /**
   * Stops serving and removes both sockets while they are still this plugin's (the kubelet then
   * deregisters the driver); a successor's sockets stay. Mounts stay.
   */
  async stop(graceMs = 5000): Promise<void> {
    const servers = [this.reg, this.csi].filter((s): s is Server => s !== undefined);
    this.reg = undefined;
    this.csi = undefined;
    for (const f of [this.opts.registrationSocket, this.opts.csiSocket]) {
      if (!f || !this.owned.has(f)) continue;
      const removed = await removeIfOwned(f, this.owned.get(f)).catch(() => false);
      if (!removed) this.opts.log.info({ socket: f }, 'socket taken over by another plugin: left in place');
      this.owned.delete(f);
    }
    await Promise.all(servers.map((s) => shutdown(s, graceMs)));
  }

  private async listen(server: Server, file: string): Promise<void> {
    await mkdir(path.dirname(file), { recursive: true, mode: 0o750 });
    await checkSocketPath(file);
    const temp = bindName(file);
    await bind(server, temp);
    try {
      await chmod(temp, 0o600);
      this.owned.set(file, await handOver(temp, file));
    } catch (e) {
      await rm(temp, { force: true });
      throw e;
    }
  }
}
