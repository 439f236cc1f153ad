// The harness itself: whatever happens to the test process, etcd, kube-apiserver and
// kube-controller-manager do not outlive it
// and (unless it was SIGKILLed) its temp dir is gone; missing binaries give a clear error.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import {
  MissingBinariesError,
  REPO_ROOT,
  skipUnlessControlPlane,
  startControlPlane,
  waitFor,
} from '../harness/index.js';

const CHILD = path.join(REPO_ROOT, 'test', 'fixtures', 'apiserver', 'start-and-wait.ts');

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function startChild(): Promise<{ child: ReturnType<typeof spawn>; dir: string; pids: number[] }> {
  const child = spawn(process.execPath, ['--import', 'tsx', CHILD], {
    stdio: ['ignore', 'pipe', 'inherit'],
    cwd: REPO_ROOT,
  });
  const line = await new Promise<string>((resolve, reject) => {
    const rl = createInterface({ input: child.stdout });
    rl.once('line', resolve);
    child.once('exit', (code) => reject(new Error(`child exited with ${code} before starting the control plane`)));
  });
  return { child, ...(JSON.parse(line) as { dir: string; pids: number[] }) };
}

// SIGINT and SIGHUP take the same path as SIGTERM (test/harness/cleanup.ts); each case costs a start.
// Each test carries the skip (not the suite) so the run's summary counts them as skipped.
const skip = skipUnlessControlPlane();

describe('the control-plane harness cleans up', () => {
  const cases: { signal: NodeJS.Signals; dirRemoved: boolean }[] = [
    { signal: 'SIGTERM', dirRemoved: true },
    { signal: 'SIGKILL', dirRemoved: false },
  ];
  for (const c of cases) {
    test(
      `a test process ended by ${c.signal} leaves no etcd, kube-apiserver or kube-controller-manager running${c.dirRemoved ? ' and no temp dir' : ''}`,
      { skip },
      async (t) => {
        const { child, dir, pids } = await startChild();
        t.after(() => {
          for (const p of pids) if (alive(p)) process.kill(p, 'SIGKILL');
          rmSync(dir, { recursive: true, force: true });
        });
        assert.equal(pids.length, 3);
        assert.ok(pids.every(alive), 'all three running before the signal');
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill(c.signal);
        await exited;
        await waitFor(
          'etcd, kube-apiserver and kube-controller-manager to be gone',
          () => pids.every((p) => !alive(p)),
          { timeoutMs: 10_000 },
        );
        assert.equal(existsSync(dir), !c.dirRemoved);
      },
    );
  }
});

test('without the binaries, startControlPlane fails with MissingBinariesError saying how to build them', async () => {
  await assert.rejects(
    startControlPlane({ testbin: '/nonexistent' }),
    (e: unknown) => e instanceof MissingBinariesError && /npm run build:testbin/.test(e.message),
  );
});
