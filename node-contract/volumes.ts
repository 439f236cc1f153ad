// CSI volumes on the node: the plugin's record of each published volume, and the folder the agent
// serves that one volume in. The plugin (a privileged container) and the agent (another container of
// the same pod) share nothing but files:
// - the plugin writes `<socketDir>/.volumes/records/<key>.json` at NodePublishVolume — the volume id,
//   the pod's namespace and uid, the relay and the uid of the Relay it was mounted for — and removes it
//   at NodeUnpublishVolume; it bind-mounts `<socketDir>/.volumes/sockets/<key>/` at the target;
// - the agent runs one socat per record whose right still holds (volumeVerdict: the relay is served
//   with the same uid, the namespace is still a consumer), listening at that folder's `socket`, and
//   stops it — its open connections end with it — and empties the folder as soon as the right goes.
// `<key>` is a hash of the volume id, so any id the kubelet sends becomes a safe folder name and a
// record can only ever name its own folder. Records are node files: a bad one is reported and skipped.
import { createHash } from 'node:crypto';
import path from 'node:path';
import { isObject } from '../lib/object.js';
import { BoundedReadError, readdirOrEmpty, readFileBounded } from '../lib/fs.js';
import { consumerVerdict, isNamespaceName, isRelayName, isRelayUid } from '../relay/index.js';
import type { WantedRelay } from './relay-folder.js';
import { stableJson } from './relay-file.js';

const VOLUMES_DIR = '.volumes';
const RECORDS = 'records';
const SOCKETS = 'sockets';
/** Largest record read: a few hundred bytes. */
export const MAX_VOLUME_RECORD_BYTES = 16 * 1024;

/** The folder name of a volume: 32 hex digits of the SHA-256 of its id. */
export function volumeKey(volumeId: string): string {
  return createHash('sha256').update(volumeId).digest('hex').slice(0, 32);
}

const KEY = /^[0-9a-f]{32}$/;
export function isVolumeKey(key: string): boolean {
  return KEY.test(key);
}

export function volumeRecordsDir(socketDir: string): string {
  return path.posix.join(socketDir, VOLUMES_DIR, RECORDS);
}
export function volumeRecordPath(socketDir: string, key: string): string {
  return path.posix.join(volumeRecordsDir(socketDir), `${key}.json`);
}
export function volumeSocketsDir(socketDir: string): string {
  return path.posix.join(socketDir, VOLUMES_DIR, SOCKETS);
}
/** What the plugin bind-mounts at the volume's target: the folder of this one volume's socket. */
export function volumeSocketDir(socketDir: string, key: string): string {
  return path.posix.join(volumeSocketsDir(socketDir), key);
}

export interface VolumeRecord {
  volumeId: string;
  relay: string;
  /** The uid of the Relay the volume was mounted for; absent when its node file had none. */
  relayUid?: string;
  namespace: string;
  podUid: string;
  targetPath: string;
}

class VolumeRecordError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'VolumeRecordError';
  }
}

export function formatVolumeRecord(r: VolumeRecord): string {
  return stableJson({ version: 1, ...r });
}

const str = (v: Record<string, unknown>, field: string, max = 4096): string => {
  const x = v[field];
  if (typeof x !== 'string' || x === '' || x.length > max)
    throw new VolumeRecordError(`${field}: must be a non-empty string of at most ${max} characters`);
  return x;
};

/**
 * A record's text, checked field by field; `key` is its file's name without `.json`, which must be its volume's
 * key.
 */
export function parseVolumeRecord(text: string, key: string): VolumeRecord {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    throw new VolumeRecordError(`not JSON: ${(e as Error).message}`);
  }
  if (!isObject(v)) throw new VolumeRecordError('must be a JSON object');
  if (v.version !== 1) throw new VolumeRecordError(`version: must be 1, got ${JSON.stringify(v.version ?? null)}`);
  const volumeId = str(v, 'volumeId');
  if (volumeKey(volumeId) !== key)
    throw new VolumeRecordError(`volumeId: "${volumeId.slice(0, 80)}" does not belong to the record ${key}.json`);
  const relay = str(v, 'relay', 63);
  if (!isRelayName(relay)) throw new VolumeRecordError(`relay: "${relay}" is not a relay name`);
  let relayUid: string | undefined;
  if (v.relayUid !== undefined) {
    relayUid = str(v, 'relayUid', 63);
    if (!isRelayUid(relayUid)) throw new VolumeRecordError(`relayUid: "${relayUid}" is not a uid`);
  }
  const namespace = str(v, 'namespace', 63);
  if (!isNamespaceName(namespace)) throw new VolumeRecordError(`namespace: "${namespace}" is not a namespace name`);
  return {
    volumeId,
    relay,
    ...(relayUid !== undefined ? { relayUid } : {}),
    namespace,
    podUid: str(v, 'podUid', 128),
    targetPath: str(v, 'targetPath'),
  };
}

export interface VolumeRecords {
  /** By key. */
  records: Map<string, VolumeRecord>;
  /** Records that were skipped, by file name under the records folder. */
  errors: { file: string; error: string }[];
}

/** Every record of the node; a missing folder is empty, each bad file an error that skips only it. */
export async function readVolumeRecords(socketDir: string): Promise<VolumeRecords> {
  const dir = volumeRecordsDir(socketDir);
  const out: VolumeRecords = { records: new Map(), errors: [] };
  const names = await readdirOrEmpty(dir);
  for (const name of names.sort()) {
    if (name.startsWith('.')) continue; // a write in progress (lib/fs.ts temp files)
    const key = name.endsWith('.json') ? name.slice(0, -5) : '';
    if (!isVolumeKey(key)) {
      out.errors.push({ file: name, error: 'not a volume record (<32 hex digits>.json)' });
      continue;
    }
    try {
      out.records.set(
        key,
        parseVolumeRecord(await readFileBounded(path.join(dir, name), MAX_VOLUME_RECORD_BYTES, 'a volume record'), key),
      );
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') continue; // unpublished meanwhile
      const msg =
        e instanceof VolumeRecordError || e instanceof BoundedReadError
          ? e.message
          : `cannot read: ${(e as Error).message}`;
      out.errors.push({ file: name, error: msg });
    }
  }
  return out;
}

export type VolumeVerdict = { allowed: true } | { allowed: false; reason: string };

/**
 * Whether a published volume may still reach its relay: the relay is served on the node, by the same
 * Relay object it was mounted for (same uid), and the pod's namespace is still one of its consumers
 * (the node file's `consumers.namespaces` or the names its namespaceSelector resolved to).
 */
export function volumeVerdict(rec: VolumeRecord, relay: WantedRelay | undefined): VolumeVerdict {
  if (!relay) return { allowed: false, reason: `relay "${rec.relay}" is no longer served on this node` };
  if (relay.resolved.uid !== rec.relayUid) {
    return {
      allowed: false,
      reason: `relay "${rec.relay}" was re-created (uid ${relay.resolved.uid ?? 'none'}, the volume was mounted for ${rec.relayUid ?? 'none'})`,
    };
  }
  const v = consumerVerdict(relay.resolved, rec.namespace, { resolvedNames: relay.resolvedNames });
  return v.allowed ? v : { allowed: false, reason: v.message };
}
