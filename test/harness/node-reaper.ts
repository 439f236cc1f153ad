// The test node's watchdog: a detached process (its own session, so a Ctrl-C or a kill of the test's
// process group does not reach it) that waits for the test process to end and then sweeps the node's
// folder — whatever ended it, SIGKILL included. It learns the folder and the owner from its
// environment (not its argv, so the sweep's "processes mentioning the folder" never match it), and
// exits once the folder is gone.
import { spawn } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { nodeDirs } from './node-config.js';
import { ownerAlive, sweepNode } from './node-sweep.js';

const DIR_ENV = 'SOCAT_RELAY_REAP_DIR';
const ALSO_ENV = 'SOCAT_RELAY_REAP_ALSO';
const POLL_MS = 500;

/** Starts the watchdog for the node in `dir` (and folders to remove with it); returns its pid. */
export function startReaper(dir: string, alsoRemove: string[] = []): number | undefined {
  const child = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url)], {
    detached: true,
    stdio: 'ignore',
    env: { ...process.env, [DIR_ENV]: dir, [ALSO_ENV]: JSON.stringify(alsoRemove) },
    cwd: path.dirname(fileURLToPath(import.meta.url)),
  });
  child.unref();
  return child.pid;
}

async function main(dir: string, also: string[]): Promise<void> {
  const d = nodeDirs(dir);
  for (;;) {
    if (!existsSync(dir)) return;
    if (!ownerAlive(d)) {
      // Only once the node is swept: the other folders may be its hostPaths.
      if (sweepNode(d).length === 0) for (const a of also) rmSync(a, { recursive: true, force: true });
      return;
    }
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url) && process.env[DIR_ENV]) {
  void main(process.env[DIR_ENV], JSON.parse(process.env[ALSO_ENV] || '[]') as string[]);
}
