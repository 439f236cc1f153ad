// The controller killed during a write: a process rewriting relay files through the reconcile's own
// write path (test/harness/writer-child.ts → applyFileDiff → temp file + fsync + rename) is SIGKILLed at
// random moments WRITE_KILLS (12) times, while the agent's own reader (readConfigDir + interpretConfig)
// parses every file it sees in a tight loop and a real agent watches the same folder. No reader may
// ever see half a file.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { interpretConfig, readConfigDir } from '../../../node-contract/index.js';
import { isConfigFileName } from '../../../node-contract/index.js';
import { REPO_ROOT } from '../../harness/binaries.js';
import { spawnManaged, type ManagedProcess } from '../../harness/processes.js';
import {
  agentDirs,
  cleanupDirs,
  startAgentProcess,
  type AgentDirs,
  type AgentProcess,
} from '../../harness/agent-process.js';

const KILLS = Number(process.env.WRITE_KILLS ?? 12);
let dirs: AgentDirs;
let agent: AgentProcess;

before(async () => {
  dirs = agentDirs('writekill');
  agent = await startAgentProcess(dirs, { resyncSeconds: 1 });
});

after(async () => {
  await agent?.stop();
  cleanupDirs(dirs);
});

function startWriter(n: number): ManagedProcess {
  return spawnManaged(
    'writer',
    process.execPath,
    ['--import', 'tsx', path.join(REPO_ROOT, 'test', 'harness', 'writer-child.ts'), dirs.configDir, '9'],
    {
      logFile: path.join(dirs.root, `writer-${n}.log`),
      cwd: REPO_ROOT,
    },
  );
}

test(
  `writer SIGKILLed ${KILLS} times mid-write: the agent's reader never parses a partial file, the agent never reports one`,
  { timeout: 300_000 },
  async () => {
    let stop = false;
    const seen = { reads: 0, files: 0, errors: [] as string[] };
    const reader = (async () => {
      while (!stop) {
        const { files, errors } = await readConfigDir(dirs.configDir);
        const state = interpretConfig(files);
        seen.reads++;
        seen.files += files.length;
        for (const e of [...errors, ...state.errors]) seen.errors.push(`${e.file}: ${e.error.slice(0, 120)}`);
        await new Promise((r) => setImmediate(r));
      }
    })();
    const agentErrors = new Set<string>();
    const watcher = setInterval(() => {
      for (const f of Object.keys(agent.status()?.files ?? {})) agentErrors.add(f);
    }, 50);
    let writes = 0;
    for (let k = 0; k < KILLS; k++) {
      const w = startWriter(k);
      // Let it get going (tsx start), then kill it at a random moment inside its write loop.
      await new Promise<void>((resolve) => {
        let lines = 0;
        w.child.stdout?.on('data', () => undefined);
        const check = setInterval(() => {
          lines = Number((w.logTail(1).match(/^\d+$/m) ?? ['0'])[0]);
          if (lines > 0 || !w.running()) {
            clearInterval(check);
            resolve();
          }
        }, 20);
      });
      await new Promise((r) => setTimeout(r, 20 + Math.random() * 300));
      w.child.kill('SIGKILL');
      await w.exited;
      writes += Number((w.logTail(1).match(/^\d+$/m) ?? ['0'])[0]);
    }
    stop = true;
    await reader;
    clearInterval(watcher);
    const names = readdirSync(dirs.configDir);
    const temps = names.filter((n) => !isConfigFileName(n));
    const st = await agent.waitStatus(
      'agent caught up',
      (s) => Object.keys(s.relays).length === names.filter(isConfigFileName).length,
      20_000,
    );
    console.log(
      `[write-kill] ${KILLS} SIGKILLs during ~${writes} completed writes of 10–910 KiB files; reader: ${seen.reads} folder reads, ${seen.files} file reads, ${seen.errors.length} partial/invalid; agent: ${agentErrors.size} files ever reported bad, ${Object.keys(st.relays).length} relays; ${temps.length} hidden temp files left by killed writes (ignored by the agent)`,
    );
    assert.deepEqual(seen.errors.slice(0, 5), []);
    assert.deepEqual([...agentErrors], []);
    assert.ok(seen.files > 0, 'the reader never saw a file');
    assert.ok(
      temps.every((n) => n.startsWith('.')),
      `visible temp files: ${temps.join(', ')}`,
    );
  },
);
