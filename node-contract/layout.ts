// Where the node's files live and which names count. The controller's reconcile writes relay files
// into the config folder; the agent (and an admin by hand) puts them there too; the agent reads them,
// runs one socat per relay on `<socketDir>/<relay>/socket` and reports in `<socketDir>/.agent/status.json`.
// The socket paths are also the sidecar's (relay/names.ts), so they are defined there and re-exported.
import { isTempFileName, readFileBounded, removeStaleTempFiles } from '../lib/fs.js';

export { AGENT_DIR } from '../relay/constants.js';
export { agentStatusPath, socketPath } from '../relay/names.js';
export { BoundedReadError, writeFileAtomic } from '../lib/fs.js';

const CONFIG_EXT = /\.(json|ya?ml)$/;

/** True for names the agent reads as relay files: *.json, *.yaml, *.yml, not hidden (temp files start with '.'). */
export function isConfigFileName(name: string): boolean {
  return !name.startsWith('.') && CONFIG_EXT.test(name);
}

/** The file name without its extension. */
export function fileStem(name: string): string {
  return name.replace(CONFIG_EXT, '');
}

/** The controller writes only `<relay>.json`; an admin's .yaml/.yml files are never its own. */
export function isControllerFileName(name: string): boolean {
  return isConfigFileName(name) && name.endsWith('.json');
}

/** Largest relay file read: a Relay is a few hundred bytes; anything this big is not one. */
export const MAX_CONFIG_FILE_BYTES = 1024 * 1024;
/** Largest status file read: ~300 bytes a relay, so room for tens of thousands. */
const MAX_STATUS_FILE_BYTES = 32 * 1024 * 1024;

/** One relay file, read non-blocking and size-capped (BoundedReadError for a FIFO, a folder, a huge file). */
export function readRelayFile(file: string): Promise<string> {
  return readFileBounded(file, MAX_CONFIG_FILE_BYTES, 'a relay file');
}

/** The agent's status file, read the same way. */
export function readStatusFile(file: string): Promise<string> {
  return readFileBounded(file, MAX_STATUS_FILE_BYTES, 'the agent status file');
}

/** True for the temp file of an interrupted write of a relay file. */
export function isConfigTempFileName(name: string): boolean {
  return isTempFileName(name, isConfigFileName);
}

/** Removes the config folder's temp files of interrupted writes older than `minAgeMs` (see lib/fs.ts). */
export function removeStaleConfigTempFiles(dir: string, minAgeMs = 60_000, now = Date.now()): Promise<string[]> {
  return removeStaleTempFiles(dir, { minAgeMs, now, target: isConfigFileName });
}
