// The supported runtime: scripts/setup.sh installs Node 24 LTS where the machine's node is older, and
// scripts/test.sh runs every suite under it. This fails when the tests run on an older node.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';

test('the tests run on Node >= 24, the version package.json requires', async () => {
  const major = Number(process.versions.node.split('.')[0]);
  assert.ok(major >= 24, `running on node ${process.versions.node}`);
  const pkg = JSON.parse(await readFile(new URL('../../package.json', import.meta.url), 'utf8')) as {
    engines: { node: string };
  };
  assert.equal(pkg.engines.node, '>=24');
});
