// The CSI driver: Identity + Node for ephemeral inline volumes that bind-mount one relay's folder
// (`<socket-dir>/<relay>`) read-only into a pod that is allowed to consume it. Every call validates
// first (validate.ts), then decides from the node's files (the relay's node file and the consumer
// check shared with the webhook), then mounts through the Mounter. No state of its own: what is
// mounted is what the kernel says, so a restarted plugin picks up where it left, and it never
// unmounts anything on start or stop.
import { lstat, mkdir, readdir, realpath, rm, rmdir, stat, statfs } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from '../../lib/log.js';
import {
  formatVolumeRecord,
  MAX_VOLUME_RECORD_BYTES,
  parseVolumeRecord,
  readVolumeRecords,
  volumeKey,
  volumeRecordPath,
  volumeRecordsDir,
  volumeSocketDir,
  writeFileAtomic,
  type VolumeRecord,
} from '../../node-contract/index.js';
import { readFileBounded } from '../../lib/fs.js';
import { consumerVerdict, relayDir, SOCKET_FILE } from '../../relay/index.js';
import { CsiError, status } from './errors.js';
import type { Mounter } from './mount.js';
import type { GetPluginCapabilitiesResponse } from './generated/csi/v1/GetPluginCapabilitiesResponse.js';
import type { GetPluginInfoResponse } from './generated/csi/v1/GetPluginInfoResponse.js';
import type { NodeGetCapabilitiesResponse } from './generated/csi/v1/NodeGetCapabilitiesResponse.js';
import type { NodeGetInfoResponse } from './generated/csi/v1/NodeGetInfoResponse.js';
import type { NodeGetVolumeStatsRequest__Output } from './generated/csi/v1/NodeGetVolumeStatsRequest.js';
import type { NodeGetVolumeStatsResponse } from './generated/csi/v1/NodeGetVolumeStatsResponse.js';
import type { NodePublishVolumeRequest__Output } from './generated/csi/v1/NodePublishVolumeRequest.js';
import type { NodePublishVolumeResponse } from './generated/csi/v1/NodePublishVolumeResponse.js';
import type { NodeUnpublishVolumeRequest__Output } from './generated/csi/v1/NodeUnpublishVolumeRequest.js';
import type { NodeUnpublishVolumeResponse } from './generated/csi/v1/NodeUnpublishVolumeResponse.js';
import type { ProbeResponse } from './generated/csi/v1/ProbeResponse.js';
import type { VolumeUsage } from './generated/csi/v1/VolumeUsage.js';
import { readNodeRelay, type NodeRelay } from './relays.js';
import { podsDir, validatePublish, validateStats, validateUnpublish } from './validate.js';

export interface DriverConfig {
  driverName: string;
  nodeId: string;
  version: string;
  /** The relay node files (read as the agent reads them: node-contract/relay-folder.ts). */
  configDir: string;
  /** The relay folders (`<socket-dir>/<relay>/socket`). */
  socketDir: string;
  /** The kubelet's root folder; targets must lie under its `pods/`. */
  kubeletDir: string;
  mounter: Mounter;
  log: Logger;
  /** Seam: how a relay's node file is read (default: from configDir). */
  readRelay?: (name: string) => Promise<NodeRelay>;
  /**
   * How long a publish waits for the agent to serve the new volume's socket (the csi command: 5 s;
   * default 0), so the pod's first connection finds it; past it the publish succeeds anyway and the
   * agent serves it moments later.
   */
  socketWaitMs?: number;
}

/** How many stacked mounts an unpublish removes at one target before giving up. */
const MAX_STACKED_UNMOUNTS = 8;

const errno = (e: unknown): string | undefined => (e as NodeJS.ErrnoException).code;

export class Driver {
  private readonly pods: string;
  private readonly readRelay: (name: string) => Promise<NodeRelay>;
  /** One operation at a time per target path (the kubelet may retry while a call is still running). */
  private readonly locks = new Map<string, Promise<unknown>>();
  /** The propagation problem last logged by probe(), so it is logged once, not every probe. */
  private lastProblem: string | undefined;

  constructor(private readonly cfg: DriverConfig) {
    this.pods = podsDir(cfg.kubeletDir);
    this.readRelay = cfg.readRelay ?? ((name) => readNodeRelay(cfg.configDir, name));
  }

  // --- Identity ---

  getPluginInfo(): GetPluginInfoResponse {
    return { name: this.cfg.driverName, vendor_version: this.cfg.version };
  }

  /** No controller service, no topology: a node-only plugin. */
  getPluginCapabilities(): GetPluginCapabilitiesResponse {
    return { capabilities: [] };
  }

  /** Not ready while mounts made under the kubelet's folder could not reach the pods (propagationProblem). */
  async probe(): Promise<ProbeResponse> {
    const problem = await this.propagationProblem().catch(() => undefined);
    if (problem && problem !== this.lastProblem) this.cfg.log.error({ kubeletDir: this.cfg.kubeletDir }, problem);
    this.lastProblem = problem;
    return { ready: { value: problem === undefined } };
  }

  /**
   * Why a bind mount made under the kubelet's pods folder would stay inside this container, or
   * undefined: the folder must lie on a shared mount (the pod's `mountPropagation: Bidirectional`),
   * else the kubelet hands the pod an empty folder while the plugin reports success.
   */
  private async propagationProblem(): Promise<string | undefined> {
    const m = await this.cfg.mounter.containing(this.pods);
    if (!m || m.shared) return undefined;
    return `the kubelet's pods folder ${this.pods} lies on mount ${m.mountPoint}, which is not shared in this container: a volume mounted there would not reach the pod (mount the kubelet folder with mountPropagation: Bidirectional)`;
  }

  // --- Node ---

  /** No STAGE_UNSTAGE_VOLUME (the kubelet then calls publish directly); stats with a volume condition. */
  nodeGetCapabilities(): NodeGetCapabilitiesResponse {
    return { capabilities: [{ rpc: { type: 'GET_VOLUME_STATS' } }, { rpc: { type: 'VOLUME_CONDITION' } }] };
  }

  nodeGetInfo(): NodeGetInfoResponse {
    return { node_id: this.cfg.nodeId, max_volumes_per_node: '0' };
  }

  /** The relay as this node's file defines it, once the pod's namespace may consume it; else the refusal. */
  private async allowedRelay(p: { relay: string; namespace: string }): Promise<Extract<NodeRelay, { relay: unknown }>> {
    const node = await this.readRelay(p.relay);
    if (node.state === 'missing') {
      throw new CsiError(
        status.NOT_FOUND,
        `relay "${p.relay}" is not served on node ${this.cfg.nodeId} (no file in ${this.cfg.configDir} defines it); namespace "${p.namespace}" cannot mount it`,
      );
    }
    if (node.state === 'invalid') {
      throw new CsiError(
        status.FAILED_PRECONDITION,
        `relay "${p.relay}": its node file ${node.file} is invalid: ${node.error}`,
      );
    }
    const verdict = consumerVerdict(node.relay, p.namespace, { resolvedNames: node.resolvedNames });
    if (!verdict.allowed) throw new CsiError(status.PERMISSION_DENIED, verdict.message);
    return node;
  }

  /**
   * A target already mounted: the same volume again (recorded if its record is gone, made read-only),
   * else refused. Never re-record a mounted volume for something else: after a Relay is re-created,
   * the old volume stays the old Relay's (closed) one.
   */
  private async republish(
    current: NonNullable<Awaited<ReturnType<Mounter['mountAt']>>>,
    v: { key: string; record: VolumeRecord; source: string },
    log: Logger,
  ): Promise<void> {
    const { key, record, source } = v;
    const existing = await this.readRecord(key);
    if (
      !(await this.sameFolder(record.targetPath, source)) ||
      (existing && formatVolumeRecord(existing) !== formatVolumeRecord(record))
    ) {
      const what = existing
        ? `the volume of relay "${existing.relay}"${existing.relayUid ? ` (uid ${existing.relayUid})` : ''} for namespace "${existing.namespace}"`
        : `${current.source}:${current.root}`;
      throw new CsiError(
        status.ALREADY_EXISTS,
        `target_path ${record.targetPath} is already a mount of something else (${what}), not relay "${record.relay}"${record.relayUid ? ` (uid ${record.relayUid})` : ''}`,
      );
    }
    if (!existing) await this.record(key, record, source);
    if (!current.readOnly) await this.remountReadOnly(record.targetPath, log);
    log.info('already published');
  }

  async nodePublishVolume(req: NodePublishVolumeRequest__Output): Promise<NodePublishVolumeResponse> {
    const p = validatePublish(req, this.pods);
    const log = this.cfg.log.child({
      volumeId: p.volumeId,
      targetPath: p.targetPath,
      relay: p.relay,
      namespace: p.namespace,
      ...(p.pod ? { pod: p.pod } : {}),
    });
    return this.serialized(p.targetPath, async () => {
      const node = await this.allowedRelay(p);
      // The relay must be served (its folder, of this Relay object: its uid from the node file). The
      // volume gets a folder of its own, where the agent serves it for as long as its right holds
      // (node-contract/volumes.ts).
      await this.checkSource(p.relay, relayDir(this.cfg.socketDir, p.relay, node.relay.uid));
      const key = volumeKey(p.volumeId);
      const source = volumeSocketDir(this.cfg.socketDir, key);
      const record: VolumeRecord = {
        volumeId: p.volumeId,
        relay: p.relay,
        ...(node.relay.uid ? { relayUid: node.relay.uid } : {}),
        namespace: p.namespace,
        podUid: p.podUid,
        targetPath: p.targetPath,
      };
      const current = await this.cfg.mounter.mountAt(p.targetPath);
      if (current) {
        await this.republish(current, { key, record, source }, log);
        return {};
      }
      await this.record(key, record, source);
      const problem = await this.propagationProblem();
      if (problem) throw new CsiError(status.FAILED_PRECONDITION, problem);
      await this.checkResolved(p.targetPath);
      await this.internal(`cannot create target_path ${p.targetPath}`, () =>
        mkdir(p.targetPath, { recursive: true, mode: 0o750 }),
      );
      await this.checkResolved(p.targetPath);
      await this.internal(`cannot bind-mount ${source} at ${p.targetPath}`, () =>
        this.cfg.mounter.bind(source, p.targetPath),
      );
      await this.remountReadOnly(p.targetPath, log);
      const served = await this.waitForSocket(path.join(source, SOCKET_FILE));
      log.info(
        { source, ...(served ? {} : { socketPending: true }) },
        served ? 'published' : "published; the agent has not served the volume's socket yet",
      );
      return {};
    });
  }

  async nodeUnpublishVolume(req: NodeUnpublishVolumeRequest__Output): Promise<NodeUnpublishVolumeResponse> {
    const p = validateUnpublish(req, this.pods);
    const log = this.cfg.log.child({ volumeId: p.volumeId, targetPath: p.targetPath });
    return this.serialized(p.targetPath, async () => {
      await this.checkResolved(p.targetPath);
      let unmounted = 0;
      while (await this.cfg.mounter.mountAt(p.targetPath)) {
        if (unmounted >= MAX_STACKED_UNMOUNTS)
          throw new CsiError(
            status.INTERNAL,
            `target_path ${p.targetPath} is still a mount point after ${unmounted} unmounts`,
          );
        await this.internal(`cannot unmount target_path ${p.targetPath}`, () => this.cfg.mounter.unmount(p.targetPath));
        unmounted++;
      }
      try {
        await rmdir(p.targetPath);
      } catch (e) {
        if (errno(e) !== 'ENOENT') {
          // Never a recursive removal: whatever is left there is not ours to delete.
          throw new CsiError(status.INTERNAL, `cannot remove target_path ${p.targetPath}: ${(e as Error).message}`);
        }
      }
      await this.forget(p.volumeId, p.targetPath, log);
      log.info({ unmounted }, unmounted > 0 ? 'unpublished' : 'already unpublished');
      return {};
    });
  }

  async nodeGetVolumeStats(req: NodeGetVolumeStatsRequest__Output): Promise<NodeGetVolumeStatsResponse> {
    const p = validateStats(req, this.pods);
    try {
      await lstat(p.targetPath);
    } catch (e) {
      if (errno(e) === 'ENOENT') throw new CsiError(status.NOT_FOUND, `volume_path ${p.targetPath} does not exist`);
      throw new CsiError(status.INTERNAL, `volume_path ${p.targetPath}: ${(e as Error).message}`);
    }
    const abnormal = (message: string): NodeGetVolumeStatsResponse => {
      this.cfg.log.warn({ volumeId: p.volumeId, targetPath: p.targetPath, condition: message }, 'volume abnormal');
      return { usage: [], volume_condition: { abnormal: true, message } };
    };
    const m = await this.cfg.mounter.mountAt(p.targetPath);
    if (!m) return abnormal(`${p.targetPath} is not a mount point: the relay folder is no longer mounted there`);
    let entries: string[];
    try {
      entries = await readdir(p.targetPath);
    } catch (e) {
      return abnormal(`cannot list ${p.targetPath}: ${(e as Error).message}`);
    }
    if (!m.readOnly) return abnormal(`${p.targetPath} is mounted read-write`);
    if (!entries.includes(SOCKET_FILE))
      return abnormal(`the relay's socket is not in ${p.targetPath}: is the node agent running the relay?`);
    return {
      usage: await this.usage(p.targetPath),
      volume_condition: { abnormal: false, message: 'relay folder mounted read-only, socket present' },
    };
  }

  // --- helpers ---

  /** True once `socket` exists (the agent serves the volume), false after socketWaitMs. */
  private async waitForSocket(socket: string): Promise<boolean> {
    const deadline = Date.now() + (this.cfg.socketWaitMs ?? 0);
    for (;;) {
      if (
        await lstat(socket).then(
          () => true,
          () => false,
        )
      )
        return true;
      if (Date.now() >= deadline) return false;
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /**
   * Writes the volume's record, then makes its folder: so the agent never takes a new volume's folder for an
   * unpublished one.
   */
  private async record(key: string, record: VolumeRecord, source: string): Promise<void> {
    await this.internal(`cannot record volume ${record.volumeId}`, async () => {
      await mkdir(volumeRecordsDir(this.cfg.socketDir), { recursive: true, mode: 0o755 });
      await writeFileAtomic(volumeRecordPath(this.cfg.socketDir, key), formatVolumeRecord(record));
      await mkdir(source, { recursive: true, mode: 0o750 });
    });
  }

  /** The record of a volume, or undefined when there is none (or it does not parse: it is then written anew). */
  private async readRecord(key: string): Promise<VolumeRecord | undefined> {
    try {
      return parseVolumeRecord(
        await readFileBounded(volumeRecordPath(this.cfg.socketDir, key), MAX_VOLUME_RECORD_BYTES, 'a volume record'),
        key,
      );
    } catch {
      return undefined;
    }
  }

  /** Removes the volume's record (and any other record of the same target): the agent then closes its socket. */
  private async forget(volumeId: string, targetPath: string, log: Logger): Promise<void> {
    const gone = new Set([volumeKey(volumeId)]);
    try {
      for (const [key, r] of (await readVolumeRecords(this.cfg.socketDir)).records)
        if (r.targetPath === targetPath) gone.add(key);
    } catch (e) {
      log.warn({ err: (e as Error).message }, 'cannot read the volume records');
    }
    for (const key of gone) {
      await this.internal(`cannot remove the record of volume ${volumeId}`, () =>
        rm(volumeRecordPath(this.cfg.socketDir, key), { force: true }),
      );
    }
  }

  private async usage(target: string): Promise<VolumeUsage[]> {
    try {
      const s = await statfs(target);
      const n = (x: number): string => String(Math.max(0, x));
      return [
        {
          unit: 'BYTES',
          total: n(s.blocks * s.bsize),
          available: n(s.bavail * s.bsize),
          used: n((s.blocks - s.bfree) * s.bsize),
        },
        { unit: 'INODES', total: n(s.files), available: n(s.ffree), used: n(s.files - s.ffree) },
      ];
    } catch {
      return [];
    }
  }

  /** The relay's folder must exist (the agent creates it) and be a real folder, not a symlink. */
  private async checkSource(relay: string, source: string): Promise<void> {
    let st;
    try {
      st = await lstat(source);
    } catch (e) {
      if (errno(e) === 'ENOENT') {
        throw new CsiError(
          status.UNAVAILABLE,
          `relay "${relay}": its folder ${source} does not exist yet (the node agent creates it when it starts the relay; the kubelet retries)`,
        );
      }
      throw new CsiError(status.INTERNAL, `relay "${relay}": ${source}: ${(e as Error).message}`);
    }
    if (!st.isDirectory())
      throw new CsiError(status.FAILED_PRECONDITION, `relay "${relay}": ${source} is not a folder`);
  }

  /** True when `target` shows the very folder `source` is (same device and inode). */
  private async sameFolder(target: string, source: string): Promise<boolean> {
    try {
      const [a, b] = await Promise.all([stat(target), stat(source)]);
      return a.dev === b.dev && a.ino === b.ino;
    } catch {
      return false;
    }
  }

  /**
   * The target must resolve to the same place under the (resolved) pods folder: a symlink on the way
   * would make the mount land elsewhere on the node. While the target does not exist yet, its nearest
   * existing folder is checked, and a dangling symlink on the way is refused: creating the target
   * through either would make folders at the link's far end, anywhere on the node.
   */
  private async checkResolved(target: string): Promise<void> {
    let pods: string;
    try {
      pods = await realpath(this.pods);
    } catch (e) {
      if (errno(e) === 'ENOENT') return; // nothing under it exists yet, so nothing to follow
      throw new CsiError(status.INTERNAL, `cannot resolve ${this.pods}: ${(e as Error).message}`);
    }
    for (let p = target; p.startsWith(`${this.pods}/`); p = path.posix.dirname(p)) {
      let real: string;
      try {
        real = await realpath(p);
      } catch (e) {
        if (errno(e) !== 'ENOENT')
          throw new CsiError(status.INTERNAL, `cannot resolve target_path ${target}: ${(e as Error).message}`);
        const link = await lstat(p).then(
          (st) => st.isSymbolicLink(),
          () => false,
        );
        if (link)
          throw new CsiError(
            status.INVALID_ARGUMENT,
            `target_path: ${target} goes through a symlink that points nowhere (${p})`,
          );
        continue;
      }
      if (real !== path.posix.join(pods, path.posix.relative(this.pods, p))) {
        throw new CsiError(
          status.INVALID_ARGUMENT,
          `target_path: ${target} resolves to ${path.posix.join(real, path.posix.relative(p, target))} through a symlink`,
        );
      }
      return;
    }
  }

  private async remountReadOnly(target: string, log: Logger): Promise<void> {
    try {
      await this.cfg.mounter.remountReadOnly(target);
    } catch (e) {
      // Never leave a writable mount behind.
      await this.cfg.mounter
        .unmount(target)
        .catch((u: unknown) => log.error({ err: (u as Error).message }, 'cannot undo the bind mount'));
      throw new CsiError(status.INTERNAL, `cannot make ${target} read-only: ${(e as Error).message}`);
    }
  }

  private async internal<T>(what: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (e) {
      if (e instanceof CsiError) throw e;
      throw new CsiError(status.INTERNAL, `${what}: ${(e as Error).message}`);
    }
  }

  private serialized<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.locks.get(key) ?? Promise.resolve();
    const run = prev.then(fn, fn);
    const tail = run.catch(() => undefined);
    this.locks.set(key, tail);
    void tail.then(() => {
      if (this.locks.get(key) === tail) this.locks.delete(key);
    });
    return run;
  }
}
