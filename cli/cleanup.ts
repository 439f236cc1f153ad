// socat-relay cleanup [--host-root DIR] [--kubelet-dir DIR] [--wait]: the last step of an uninstall on
// a node — removes the folders socat-relay made there (the agent's config folder's parent
// /etc/socat-relay, the socket root /run/socat-relay, and the CSI plugin's folder under the kubelet's
// plugins/) under the host root (the host's / mounted into the cleanup pod), says what it removed, and
// with --wait stays up until SIGTERM so a DaemonSet's rollout can be waited for.
// Run it only after the agent and the controller are gone from the node.
import { rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { CSI_DRIVER, DEFAULT_CONFIG_DIR, DEFAULT_SOCKET_DIR } from '../relay/index.js';
import { pluginPaths } from '../node-agent/csi/server.js';
import { DEFAULT_KUBELET_DIR } from './csi.js';
import type { CommandIO } from './io.js';

const USAGE = `usage: socat-relay cleanup [--host-root DIR] [--kubelet-dir DIR] [--wait]
  --host-root DIR     where the node's / is mounted (default /)
  --kubelet-dir DIR   the kubelet's root folder on the node (default ${DEFAULT_KUBELET_DIR})
  --wait              stay up after the cleanup until SIGTERM (for a DaemonSet)
Removes ${path.dirname(DEFAULT_CONFIG_DIR)}, ${DEFAULT_SOCKET_DIR} and <kubelet-dir>/plugins/${CSI_DRIVER} under the host root.
`;

/** The host folders socat-relay creates: the config folder's parent, the socket root, the CSI plugin's folder. */
export function hostFolders(kubeletDir = DEFAULT_KUBELET_DIR): string[] {
  return [
    path.dirname(DEFAULT_CONFIG_DIR),
    DEFAULT_SOCKET_DIR,
    path.dirname(pluginPaths(kubeletDir, CSI_DRIVER).csiSocket),
  ];
}

/** Removes hostFolders() under `root`; returns what existed and is now gone. */
export async function cleanupHost(root: string, kubeletDir = DEFAULT_KUBELET_DIR): Promise<string[]> {
  const removed: string[] = [];
  for (const folder of hostFolders(kubeletDir)) {
    const p = path.join(root, folder);
    const there = await stat(p).then(
      () => true,
      (e: NodeJS.ErrnoException) => {
        if (e.code === 'ENOENT') return false;
        throw e;
      },
    );
    if (!there) continue;
    await rm(p, { recursive: true, force: true });
    removed.push(folder);
  }
  return removed;
}

function untilSignal(): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      process.off('SIGTERM', done);
      process.off('SIGINT', done);
      resolve();
    };
    process.once('SIGTERM', done);
    process.once('SIGINT', done);
  });
}

export async function run(args: string[], io: CommandIO, wait: () => Promise<void> = untilSignal): Promise<number> {
  let root: string;
  let kubeletDir: string;
  let stay: boolean;
  try {
    const { values } = parseArgs({
      args,
      options: {
        'host-root': { type: 'string', default: '/' },
        'kubelet-dir': { type: 'string', default: DEFAULT_KUBELET_DIR },
        wait: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h' },
      },
    });
    if (values.help) {
      io.stdout.write(USAGE);
      return 0;
    }
    root = values['host-root']!;
    kubeletDir = values['kubelet-dir']!;
    stay = values.wait!;
    if (!path.isAbsolute(root)) throw new Error(`--host-root must be an absolute path, got "${root}"`);
    if (!path.isAbsolute(kubeletDir)) throw new Error(`--kubelet-dir must be an absolute path, got "${kubeletDir}"`);
  } catch (e) {
    io.stderr.write(`cleanup: ${(e as Error).message}\n${USAGE}`);
    return 2;
  }
  const node = io.env.NODE_NAME ? ` on ${io.env.NODE_NAME}` : '';
  try {
    const removed = await cleanupHost(root, kubeletDir);
    io.stdout.write(removed.length > 0 ? `removed ${removed.join(', ')}${node}\n` : `nothing to remove${node}\n`);
  } catch (e) {
    io.stderr.write(`cleanup: ${(e as Error).message}\n`);
    return 1;
  }
  if (stay) await wait();
  return 0;
}
