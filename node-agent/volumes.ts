// One listener per published CSI volume (node-contract/volumes.ts): the CSI plugin records each volume
// it mounts and bind-mounts that volume's own folder at the pod's target; the agent runs a socat
// listening at `<socketDir>/.volumes/sockets/<key>/socket` to the relay's target for as long as the
// volume's right holds — the relay served with the same uid, the pod's namespace among its consumers —
// and stops it (its forks, so the pod's open connections, end with it) and empties the folder on every
// pass where that right is gone. Other volumes keep theirs. The supervisor runs these socats beside the
// relays' own, under the names `volume:<key>`; the status file and the metrics count relays only.
import { chmod, chown, mkdir, readdir, rm } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from '../lib/log.js';
import {
  isVolumeKey,
  volumeRecordPath,
  volumeSocketDir,
  volumeSocketsDir,
  volumeVerdict,
  type ConfigState,
  type VolumeRecords,
} from '../node-contract/index.js';
import { nodeArgv, SOCKET_FILE, type NodeSideOptions } from '../relay/index.js';
import type { Command } from './plan.js';
import { existsSync } from 'node:fs';

const PREFIX = 'volume:';

export function isVolumeProcess(name: string): boolean {
  return name.startsWith(PREFIX);
}

const keyOf = (name: string): string => name.slice(PREFIX.length);

export interface VolumeListenersOptions {
  socketDir: string;
  socketGid: number;
  log: Logger;
}

export class VolumeListeners {
  /** The last verdict per volume key and the record errors last reported: each change is logged once. */
  private lastReason = new Map<string, string>();
  private lastErrors = new Set<string>();
  private known = new Set<string>();

  constructor(private readonly o: VolumeListenersOptions) {}

  /** The socat command of every volume whose right holds, by process name. */
  wanted(volumes: VolumeRecords, config: ConfigState, side: Omit<NodeSideOptions, 'socket'>): Map<string, Command> {
    const errors = new Set(volumes.errors.map((e) => `${e.file}\0${e.error}`));
    for (const e of volumes.errors) {
      if (!this.lastErrors.has(`${e.file}\0${e.error}`))
        this.o.log.error({ file: e.file, error: e.error }, 'CSI volume record skipped');
    }
    this.lastErrors = errors;
    const out = new Map<string, Command>();
    const reasons = new Map<string, string>();
    for (const [key, rec] of volumes.records) {
      const relay = config.wanted.get(rec.relay);
      const v = volumeVerdict(rec, relay);
      const log = { volumeId: rec.volumeId, relay: rec.relay, namespace: rec.namespace, podUid: rec.podUid };
      if (!v.allowed) {
        if (this.lastReason.get(key) !== v.reason)
          this.o.log.warn({ ...log, reason: v.reason }, 'CSI volume revoked: its socket is closed');
        reasons.set(key, v.reason);
        continue;
      }
      if (!this.known.has(key) || this.lastReason.has(key)) this.o.log.info(log, 'CSI volume served');
      out.set(`${PREFIX}${key}`, {
        argv: nodeArgv(relay!.resolved, {
          ...side,
          socket: path.posix.join(volumeSocketDir(this.o.socketDir, key), SOCKET_FILE),
        }),
      });
    }
    this.lastReason = reasons;
    this.known = new Set(volumes.records.keys());
    return out;
  }

  /**
   * The volume's folder, 0750 and the socket group's, before its socat starts (the plugin may have made it
   * already).
   */
  async prepare(name: string): Promise<void> {
    const dir = volumeSocketDir(this.o.socketDir, keyOf(name));
    await mkdir(dir, { recursive: true, mode: 0o750 });
    await chmod(dir, 0o750);
    try {
      await chown(dir, process.getuid?.() ?? 0, this.o.socketGid);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EPERM') throw e;
    }
  }

  /** Empties the volume's folder once its socat is stopped: the pod's mount shows nothing to connect to. */
  async cleanup(name: string): Promise<void> {
    const dir = volumeSocketDir(this.o.socketDir, keyOf(name));
    let entries: string[];
    try {
      entries = await readdir(dir);
    } catch {
      return;
    }
    await Promise.all(entries.map((e) => rm(path.join(dir, e), { recursive: true, force: true })));
  }

  /**
   * Removes the folders of volumes that have no record any more (unpublished). The record is looked at
   * again just before: the plugin writes it before it makes the folder, so a folder seen with no record
   * is one whose volume was unpublished.
   */
  async prune(): Promise<void> {
    let keys: string[];
    try {
      keys = await readdir(volumeSocketsDir(this.o.socketDir));
    } catch {
      return;
    }
    for (const key of keys) {
      if (!isVolumeKey(key) || existsSync(volumeRecordPath(this.o.socketDir, key))) continue;
      await rm(volumeSocketDir(this.o.socketDir, key), { recursive: true, force: true }).catch((e: unknown) => {
        this.o.log.warn({ key, err: (e as Error).message }, 'cannot remove the folder of an unpublished CSI volume');
      });
    }
  }
}
