// readConfigDir on files that are not relay files: nothing blocks, nothing crashes, each is reported.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { readConfigDir } from '../../../node-contract/index.js';
import { MAX_CONFIG_FILE_BYTES } from '../../../node-contract/index.js';

const GOOD =
  'apiVersion: socat.io/v1alpha1\nkind: Relay\nmetadata: {name: good}\nspec: {target: {host: 127.0.0.1, port: 9}, consumers: {namespaces: [a]}}\n';

const CASES: { situation: string; file: string; make: (f: string) => void; error: RegExp }[] = [
  {
    situation: 'a FIFO named like a relay file',
    file: 'fifo.yaml',
    make: (f) => execFileSync('mkfifo', [f]),
    error: /not a regular file \(a FIFO\)/,
  },
  {
    situation: 'a folder named like a relay file',
    file: 'folder.json',
    make: (f) => mkdirSync(f),
    error: /not a regular file \(a folder\)/,
  },
  {
    situation: 'a dangling symlink',
    file: 'gone.yaml',
    make: (f) => symlinkSync('/nonexistent/relay.yaml', f),
    error: /dangling symlink/,
  },
  {
    situation: 'a file larger than any relay',
    file: 'huge.yaml',
    make: (f) => writeFileSync(f, `# ${'x'.repeat(MAX_CONFIG_FILE_BYTES)}\n`),
    error: /larger than the 1048576 bytes/,
  },
];

for (const c of CASES) {
  test(`${c.situation} is reported as an error and the good file is still read`, async (t) => {
    const dir = mkdtempSync(path.join(tmpdir(), 'srcfg-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    writeFileSync(path.join(dir, 'good.yaml'), GOOD);
    c.make(path.join(dir, c.file));
    const r = await Promise.race([
      readConfigDir(dir),
      new Promise<never>((_, reject) =>
        setTimeout(() => reject(new Error('readConfigDir blocked for 5 s')), 5000).unref(),
      ),
    ]);
    assert.deepEqual(
      r.files.map((f) => f.name),
      ['good.yaml'],
    );
    assert.equal(r.errors.length, 1);
    assert.equal(r.errors[0]!.file, c.file);
    assert.match(r.errors[0]!.error, c.error);
  });
}

test('a symlink to a readable relay file is followed', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'srcfg-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(path.join(dir, 'real.txt'), GOOD);
  symlinkSync(path.join(dir, 'real.txt'), path.join(dir, 'good.yaml'));
  const r = await readConfigDir(dir);
  assert.deepEqual(r.files, [{ name: 'good.yaml', text: GOOD }]);
  assert.deepEqual(r.errors, []);
});
