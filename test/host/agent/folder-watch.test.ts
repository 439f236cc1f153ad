// lib/folder-watch.ts, the one folder watch of the agent, the reconcile and the certificate watcher, on
// real folders: a change is reported (debounced), a folder that appears later is watched once it is
// there, a deleted and re-created folder (a new inode) is watched anew, `poll` calls at every tick, and
// the tick runs at `tickMs` while watched, at `unwatchedTickMs` while not.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { FolderWatch } from '../../../lib/folder-watch.js';
import { waitFor } from '../../harness/agent.js';

function tempDir(t: { after(fn: () => void): void }): string {
  const d = mkdtempSync(path.join(tmpdir(), 'srfw-'));
  t.after(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

test('a write in the folder is reported once per burst (debounced)', async (t) => {
  const dir = tempDir(t);
  let calls = 0;
  const w = new FolderWatch({ dir, onChange: () => calls++, debounceMs: 50, tickMs: 60_000 }).start();
  t.after(() => w.close());
  assert.equal(w.watching(), true);
  for (let i = 0; i < 5; i++) writeFileSync(path.join(dir, `f${i}`), 'x');
  await waitFor('one change reported', () => calls >= 1);
  await new Promise((r) => setTimeout(r, 200));
  assert.equal(calls, 1, 'five writes within the debounce time are one change');
});

test('a folder missing at start is watched once it appears, and reported', async (t) => {
  const dir = path.join(tempDir(t), 'later');
  let calls = 0;
  const w = new FolderWatch({ dir, onChange: () => calls++, debounceMs: 10, tickMs: 50 }).start();
  t.after(() => w.close());
  assert.equal(w.watching(), false);
  mkdirSync(dir);
  await waitFor('watched after it appeared', () => w.watching() && calls >= 1);
  const before = calls;
  writeFileSync(path.join(dir, 'a'), 'x');
  await waitFor('a change in the new folder', () => calls > before);
});

test('a folder replaced by another (new inode) is watched anew: changes in the new one are seen', async (t) => {
  const root = tempDir(t);
  const dir = path.join(root, 'd');
  mkdirSync(dir);
  let calls = 0;
  const w = new FolderWatch({ dir, onChange: () => calls++, debounceMs: 10, tickMs: 50 }).start();
  t.after(() => w.close());
  const fresh = path.join(root, 'fresh');
  mkdirSync(fresh);
  rmSync(dir, { recursive: true });
  renameSync(fresh, dir);
  await new Promise((r) => setTimeout(r, 200)); // a tick or two: the inode check re-arms the watch
  const before = calls;
  writeFileSync(path.join(dir, 'b'), 'x');
  await waitFor('a change in the replacing folder', () => calls > before, 3000);
});

test('poll: onChange at every tick even without events; close stops everything', async (t) => {
  const dir = tempDir(t);
  let calls = 0;
  const w = new FolderWatch({ dir, onChange: () => calls++, tickMs: 30, poll: true }).start();
  await waitFor('three ticks', () => calls >= 3);
  w.close();
  const after = calls;
  await new Promise((r) => setTimeout(r, 150));
  assert.equal(calls, after, 'no call after close');
});

test('the tick: at tickMs while the folder is watched, at unwatchedTickMs once it is gone, slow again once watched', async (t) => {
  const dir = path.join(tempDir(t), 'd');
  mkdirSync(dir);
  let calls = 0;
  const w = new FolderWatch({ dir, onChange: () => calls++, tickMs: 60_000, unwatchedTickMs: 30, poll: true }).start();
  t.after(() => w.close());
  await new Promise((r) => setTimeout(r, 200));
  assert.equal(calls, 0, 'no poll while watched: the tick is 60 s');
  rmSync(dir, { recursive: true });
  await waitFor('not watched once deleted', () => !w.watching());
  await waitFor('polled every 30 ms while missing', () => calls >= 3, 2000);
  mkdirSync(dir);
  await waitFor('watched again once re-created', () => w.watching(), 2000);
  await new Promise((r) => setTimeout(r, 100)); // a debounced event from the mkdir may still land
  const settled = calls;
  await new Promise((r) => setTimeout(r, 200));
  assert.equal(calls, settled, 'no poll once watched again');
  writeFileSync(path.join(dir, 'c'), 'x');
  await waitFor('a change in the re-created folder', () => calls > settled);
});
