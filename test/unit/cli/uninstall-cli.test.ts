// socat-relay uninstall without a cluster: its arguments are checked before anything is touched, and it
// recognises the report each node-cleanup pod ends with — the real `socat-relay cleanup` output, both
// when it removed folders and when there was nothing to remove.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { run as cleanup } from '../../../cli/cleanup.js';
import { cleanupDone, run } from '../../../cli/uninstall.js';

function io(env: Record<string, string> = {}) {
  const out = { stdout: '', stderr: '' };
  return {
    out,
    io: {
      stdin: process.stdin,
      stdout: { write: (s: string) => (out.stdout += s) },
      stderr: { write: (s: string) => (out.stderr += s) },
      env,
    },
  };
}

test('bad arguments: exit 2 naming the flag, before any API call; a missing manifest: exit 1 saying what to give', async () => {
  for (const [args, want] of [
    [['--timeout', '0'], /--timeout must be a number of seconds from 1 to 3600, got "0"/],
    [['--timeout', '5m'], /--timeout must be/],
    [['--namespace', 'Not_A_Namespace'], /--namespace: not a namespace name: "Not_A_Namespace"/],
    [['--nope'], /Unknown option '--nope'/],
  ] as [string[], RegExp][]) {
    const { out, io: cio } = io();
    assert.equal(await run(args, cio), 2, args.join(' '));
    assert.match(out.stderr, want);
  }
  const { out, io: cio } = io({ KUBECONFIG: '/nonexistent/kubeconfig' });
  assert.equal(await run(['--daemonset', '/nonexistent/node-cleanup.yaml'], cio), 1);
  assert.match(out.stderr, /uninstall: .*node-cleanup\.yaml/);
  const help = io();
  assert.equal(await run(['--help'], help.io), 0);
  assert.match(help.out.stdout, /usage: socat-relay uninstall/);
});

test("a node-cleanup pod is done once its log holds cleanup's report", async (t) => {
  const root = mkdtempSync(path.join(os.tmpdir(), 'socat-relay-host-'));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  mkdirSync(path.join(root, 'etc', 'socat-relay', 'relays.d'), { recursive: true });
  const first = io({ NODE_NAME: 'node-1' });
  assert.equal(await cleanup(['--host-root', root], first.io), 0);
  assert.equal(cleanupDone(first.out.stdout), 'removed /etc/socat-relay on node-1');
  const again = io({ NODE_NAME: 'node-1' });
  assert.equal(await cleanup(['--host-root', root], again.io), 0);
  assert.equal(cleanupDone(again.out.stdout), 'nothing to remove on node-1');
  assert.equal(cleanupDone(''), undefined, 'a pod that has not run yet');
  assert.equal(cleanupDone('cleanup: EACCES: permission denied\n'), undefined, 'a pod that failed');
});
