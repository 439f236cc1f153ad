// The reconcile's queue keys: the node's files as a whole (one key: the folder is diffed at once), or
// the node's RelayNode as a whole (one object lists every relay of the node). Typed, so a source
// cannot queue a string the handler does not understand.

export type ReconcileKey = { kind: 'files' } | { kind: 'status' };

export const FILES_KEY: ReconcileKey = { kind: 'files' };
export const STATUS_KEY: ReconcileKey = { kind: 'status' };

/** The key's identity in the queue (and in logs). */
export function keyId(k: ReconcileKey): string {
  return k.kind;
}
