// Where the node agent serves a relay's socket, for tests and the demo that wait for it: the folder of
// the Relay object, `<socketDir>/<relay>/<uid>/socket`, when the node file carries the Relay's uid
// (the controller's files), else `<socketDir>/<relay>/socket` (a hand-written file without uid).
import { existsSync, readdirSync } from 'node:fs';
import { relayDir, socketPath } from '../../relay/index.js';

/** The relay's socket as the agent serves it now, or undefined when there is none. */
export function findRelaySocket(socketDir: string, relay: string): string | undefined {
  const plain = socketPath(socketDir, relay);
  if (existsSync(plain)) return plain;
  let entries: string[];
  try {
    entries = readdirSync(relayDir(socketDir, relay));
  } catch {
    return undefined;
  }
  return entries.map((uid) => socketPath(socketDir, relay, uid)).find((p) => existsSync(p));
}
