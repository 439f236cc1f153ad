import path from 'node:path';
import { AGENT_DIR, AGENT_STATUS_FILE, NAME_PREFIX, POD_SOCKET_DIR, SOCKET_FILE } from './constants.js';

/**
 * The relay's folder under a socket root: the unit that is mounted into consumer pods. On the node,
 * with the Relay's uid, `<root>/<relay>/<uid>` (a Relay re-created under the same name gets another
 * folder); without one (a hand-written node file; the pod's side) `<root>/<relay>`.
 */
export function relayDir(socketRoot: string, relay: string, uid?: string): string {
  return uid ? path.posix.join(socketRoot, relay, uid) : path.posix.join(socketRoot, relay);
}

/** The relay's socket: `<root>/<relay>[/<uid>]/socket`. */
export function socketPath(socketRoot: string, relay: string, uid?: string): string {
  return path.posix.join(relayDir(socketRoot, relay, uid), SOCKET_FILE);
}

/** The socket as seen from inside a consumer pod. */
export function podSocketPath(relay: string): string {
  return socketPath(POD_SOCKET_DIR, relay);
}

export function agentStatusPath(socketRoot: string): string {
  return path.posix.join(socketRoot, AGENT_DIR, AGENT_STATUS_FILE);
}

/** The config file that the reconcile writes for a relay. */
export function configFileName(relay: string): string {
  return `${relay}.json`;
}

/** Name of the injected sidecar container. */
export function sidecarName(relay: string): string {
  return `${NAME_PREFIX}${relay}`;
}

/** Name of the sidecar's volume: the container's name. */
export function volumeName(relay: string): string {
  return sidecarName(relay);
}
