// `socat-relay version` / `--version`, and `validate -o json` next to its unchanged text output.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { REPO_ROOT } from '../../harness/binaries.js';
import { runCli } from '../../harness/cli.js';

const ROOT = REPO_ROOT;
const PKG_VERSION = (JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
const GOOD = readFileSync(path.join(ROOT, 'test/fixtures/relays/kube-scheduler.yaml'), 'utf8');
const BAD = GOOD.replace('name: kube-scheduler', 'name: bad-port').replace('port: 10259', 'port: 70000');

test("version prints package.json's version and the Node.js version; --version is the same; -o json parses", async () => {
  const text = await runCli(['version']);
  assert.equal(text.code, 0, text.stderr);
  assert.equal(text.stdout, `socat-relay ${PKG_VERSION} (node ${process.version})\n`);
  assert.deepEqual(await runCli(['--version']), text);
  const json = await runCli(['version', '-o', 'json']);
  assert.equal(json.code, 0);
  assert.deepEqual(JSON.parse(json.stdout), { version: PKG_VERSION, node: process.version });
  const bad = await runCli(['version', '-o', 'yaml']);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--output must be text or json, got "yaml"/);
});

test('validate -o json: one entry per document with its problems (field, message); exit codes as in text mode', async () => {
  const r = await runCli(['validate', '-f', '-', '-o', 'json'], `${GOOD}---\n${BAD}`);
  assert.equal(r.code, 1);
  assert.equal(r.stderr, '');
  const out = JSON.parse(r.stdout) as {
    valid: boolean;
    documents: {
      file: string;
      relay: string;
      valid: boolean;
      problems: { field: string; message: string }[];
      warnings: string[];
    }[];
    errors: unknown[];
  };
  assert.equal(out.valid, false);
  assert.deepEqual(
    out.documents.map((d) => [d.relay, d.valid]),
    [
      ['kube-scheduler', true],
      ['bad-port', false],
    ],
  );
  assert.deepEqual(out.documents[0]!.problems, []);
  assert.ok(
    out.documents[1]!.problems.some((p) => p.field === 'spec.target.port'),
    JSON.stringify(out.documents[1]!.problems),
  );
  const ok = await runCli(['validate', '-f', '-', '-o', 'json'], GOOD);
  assert.equal(ok.code, 0);
  assert.equal((JSON.parse(ok.stdout) as { valid: boolean }).valid, true);
  const broken = await runCli(['validate', '-f', '-', '-o', 'json'], 'a: [');
  assert.equal(broken.code, 1);
  const b = JSON.parse(broken.stdout) as { errors: { file: string; message: string }[] };
  assert.equal(b.errors.length, 1);
  assert.equal(b.errors[0]!.file, '-');
});

test('validate without -o keeps its text output: one line per problem on stdout naming the field', async () => {
  const r = await runCli(['validate', '-f', '-'], BAD);
  assert.equal(r.code, 1);
  assert.match(r.stdout, /^-: relay bad-port: spec\.target\.port: /);
  assert.doesNotMatch(r.stdout, /^\{/);
  assert.equal((await runCli(['validate', '-f', '-', '-o', 'xml'], GOOD)).code, 2);
});
