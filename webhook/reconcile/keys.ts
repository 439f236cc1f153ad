// The reconcile's queue keys: the node's files as a whole (one key: the folder is diffed at once), or
// one relay's status entry. Typed, so a source cannot queue a string the handler does not understand.

export type ReconcileKey = { kind: 'files' } | { kind: 'status'; relay: string };

export const FILES_KEY: ReconcileKey = { kind: 'files' };

export function statusKey(relay: string): ReconcileKey {
  return { kind: 'status', relay };
}

/** The key's identity in the queue (and in logs). */
export function keyId(k: ReconcileKey): string {
  return k.kind === 'files' ? 'files' : `status/${k.relay}`;
}
