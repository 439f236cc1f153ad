// No test passes by skipping in CI. test/harness/required.ts decides what a missing part does: outside
// CI the test skips saying what is missing, in CI the run fails naming it. Checked here three ways:
//   - which environments count as CI (what CI systems set: CI=true, CI=1, …; .ci/run's REQUIRE_APISERVER=1);
//   - a small test file run in a child `node --test`, once per environment: without CI it exits 0 with
//     its tests skipped, in CI it exits non-zero with each missing part in its output — through
//     required() itself and through every helper the suites use (control plane, helm, podman, CSI);
//   - every `skip` option of every test file is decided by required() (directly or through one of those
//     helpers), no test file reads CI itself, and none skips at run time (t.skip, test.skip).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import ts from 'typescript';
import { ciDemand } from '../../harness/required.js';
import { REPO_ROOT } from '../../harness/binaries.js';

const ROOT = REPO_ROOT;

test('CI is any value of CI or REQUIRE_APISERVER but empty, "false" or "0"', () => {
  const cases: [NodeJS.ProcessEnv, string | undefined][] = [
    [{}, undefined],
    [{ CI: '' }, undefined],
    [{ CI: 'false' }, undefined],
    [{ CI: 'False' }, undefined],
    [{ CI: '0' }, undefined],
    [{ CI: ' ' }, undefined],
    [{ REQUIRE_APISERVER: '0' }, undefined],
    [{ CI: 'true' }, 'CI=true'],
    [{ CI: '1' }, 'CI=1'],
    [{ CI: 'yes' }, 'CI=yes'],
    [{ CI: 'woodpecker' }, 'CI=woodpecker'],
    [{ REQUIRE_APISERVER: '1' }, 'REQUIRE_APISERVER=1'],
    [{ CI: 'false', REQUIRE_APISERVER: '1' }, 'REQUIRE_APISERVER=1'],
  ];
  for (const [env, want] of cases) assert.equal(ciDemand(env), want, JSON.stringify(env));
});

const FROBNICATOR = 'the frobnicator is not installed';
const at = (rel: string): string => JSON.stringify(pathToFileURL(path.join(ROOT, rel)).href);

/** A test file with one test that needs nothing and one per way a suite says what it needs. */
const PROBE = `
import { test } from 'node:test';
import { required } from ${at('test/harness/required.ts')};
import { skipUnlessControlPlane } from ${at('test/harness/binaries.ts')};
import { skipWithout } from ${at('test/harness/tools.ts')};
import { skipWithoutPodman } from ${at('test/harness/podman.ts')};
import { skipUnlessCsi } from ${at('test/host/csi/plugin.ts')};
test('needs nothing', { skip: required(null, undefined, false, '') }, () => {});
test('needs the frobnicator', { skip: required(${JSON.stringify(FROBNICATOR)}) }, () => {});
test('needs the control plane', { skip: skipUnlessControlPlane() }, () => {});
test('needs helm', { skip: skipWithout('helm') }, () => {});
test('needs podman', { skip: skipWithoutPodman() }, () => {});
test('needs the CSI tools', { skip: skipUnlessCsi() }, () => {});
`;
/** What each missing part is called in the output (PATH and TESTBIN_DIR point at an empty folder). */
const NAMED = [
  FROBNICATOR,
  'kube-apiserver/',
  'helm not found',
  'podman is not installed',
  'is not installed (util-linux, socat)',
];

interface Run {
  code: number | null;
  out: string;
}

function runProbe(dir: string, env: Record<string, string>): Promise<Run> {
  const empty = path.join(dir, 'empty');
  const base = { ...process.env };
  delete base.CI;
  delete base.REQUIRE_APISERVER;
  delete base.NODE_TEST_CONTEXT; // set for this file's own process: the child would not run its file
  // process.execPath: the child finds node without PATH; tsx comes from the repository's node_modules.
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', '--test', '--test-reporter=tap', path.join(dir, 'probe.test.ts')],
    {
      cwd: ROOT,
      env: { ...base, PATH: empty, TESTBIN_DIR: empty, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let out = '';
  child.stdout.on('data', (d: Buffer) => {
    out += d.toString();
  });
  child.stderr.on('data', (d: Buffer) => {
    out += d.toString();
  });
  return new Promise((resolve) => child.once('close', (code) => resolve({ code, out })));
}

const count = (out: string, what: string): number => Number(new RegExp(`^# ${what} (\\d+)$`, 'm').exec(out)?.[1] ?? -1);

test(
  'a missing part: skipped, exit 0 outside CI; a failure naming each part in CI (CI=true, REQUIRE_APISERVER=1)',
  { timeout: 120_000 },
  async (t) => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'required-probe-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    writeFileSync(path.join(dir, 'probe.test.ts'), PROBE);
    mkdirSync(path.join(dir, 'empty'));

    const outside = await runProbe(dir, {});
    assert.equal(outside.code, 0, outside.out);
    assert.deepEqual(
      [count(outside.out, 'pass'), count(outside.out, 'skipped'), count(outside.out, 'fail')],
      [1, 5, 0],
      outside.out,
    );
    for (const n of NAMED)
      assert.ok(outside.out.includes(`# SKIP`) && outside.out.includes(n), `the skip says "${n}":\n${outside.out}`);

    const notCi = await runProbe(dir, { CI: 'false' });
    assert.equal(notCi.code, 0, notCi.out);

    for (const [name, value] of [
      ['CI', 'true'],
      ['REQUIRE_APISERVER', '1'],
    ] as const) {
      const ci = await runProbe(dir, { [name]: value });
      assert.notEqual(ci.code, 0, `${name}=${value}: the run fails\n${ci.out}`);
      assert.equal(count(ci.out, 'fail'), NAMED.length, `${name}=${value}: one failure per missing part\n${ci.out}`);
      assert.equal(count(ci.out, 'pass'), 1, `${name}=${value}: what needs nothing still runs\n${ci.out}`);
      for (const n of NAMED) {
        assert.match(
          ci.out,
          new RegExp(
            `^not ok \\d+ - a part this suite needs is missing, and ${name}=${value} does not allow skipping: .*${n.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}`,
            'm',
          ),
          `${name}=${value}: "${n}" named in a failure\n${ci.out}`,
        );
      }
    }
  },
);

// --- Every skip in the test files goes through required() ---------------------------------------

/** The helpers that return required(what they found missing); the probe above runs each of them. */
const DECIDERS = new Set(['required', 'skipUnlessControlPlane', 'skipWithout', 'skipWithoutPodman', 'skipUnlessCsi']);
/**
 * Files that still decide on their own: the real-node suite (it reads CI and REQUIRE_APISERVER itself
 * and fails in its `before`; its owner moves it to required()), and the kind suite (it skips in CI
 * where the kind node image cannot be had: making that a failure fails CI on machines without it).
 */
const NOT_YET = ['test/node-e2e/node.test.ts', 'test/node-e2e/demo.test.ts', 'test/kind/kind.test.ts'];

/** Where a test file skips without required(), reads CI itself, or skips at run time. */
function ownSkips(file: string, text: string): string[] {
  const src = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
  const out: string[] = [];
  const where = (n: ts.Node) => `${file}:${src.getLineAndCharacterOfPosition(n.getStart(src)).line + 1}`;
  const initializers = new Map<string, ts.Expression[]>();
  const collect = (n: ts.Node): void => {
    if (ts.isVariableDeclaration(n) && ts.isIdentifier(n.name) && n.initializer) {
      initializers.set(n.name.text, [...(initializers.get(n.name.text) ?? []), n.initializer]);
    }
    ts.forEachChild(n, collect);
  };
  collect(src);
  const decided = (e: ts.Expression, depth = 0): boolean => {
    if (depth > 5) return false;
    if (ts.isParenthesizedExpression(e)) return decided(e.expression, depth);
    if (ts.isCallExpression(e)) return ts.isIdentifier(e.expression) && DECIDERS.has(e.expression.text);
    if (
      ts.isBinaryExpression(e) &&
      [ts.SyntaxKind.BarBarToken, ts.SyntaxKind.QuestionQuestionToken].includes(e.operatorToken.kind)
    ) {
      return decided(e.left, depth) && decided(e.right, depth);
    }
    if (ts.isIdentifier(e)) {
      const inits = initializers.get(e.text) ?? [];
      return inits.length > 0 && inits.every((i) => decided(i, depth + 1));
    }
    return false;
  };
  const visit = (n: ts.Node): void => {
    if (
      ts.isPropertyAssignment(n) &&
      n.name.getText(src) === 'skip' &&
      ts.isObjectLiteralExpression(n.parent) &&
      ts.isCallExpression(n.parent.parent) &&
      !decided(n.initializer)
    ) {
      out.push(`${where(n)} skip: ${n.initializer.getText(src)}`);
    }
    if (
      ts.isShorthandPropertyAssignment(n) &&
      n.name.text === 'skip' &&
      ts.isCallExpression(n.parent.parent) &&
      !decided(n.name)
    ) {
      out.push(`${where(n)} { skip } not from required()`);
    }
    if (ts.isCallExpression(n) && ts.isPropertyAccessExpression(n.expression) && n.expression.name.text === 'skip') {
      out.push(`${where(n)} ${n.expression.getText(src)}(): skips at run time`);
    }
    if (
      ts.isPropertyAccessExpression(n) &&
      /^process\.env$/.test(n.expression.getText(src)) &&
      ['CI', 'REQUIRE_APISERVER'].includes(n.name.text)
    ) {
      out.push(`${where(n)} reads ${n.getText(src)} itself`);
    }
    ts.forEachChild(n, visit);
  };
  visit(src);
  return out;
}

test('the check finds a skip decided without required(), a test that reads CI itself, and t.skip()', () => {
  const bad = [
    "test('a', { skip: socatUnavailable() ?? false }, () => {});",
    "const skip = why && !MUST_RUN ? why : false; describe('b', { skip }, () => {});",
    "const skip = skipUnlessControlPlane() || netnsUnavailable() || false; test('c', { skip }, () => {});",
    "const MUST = process.env.CI === 'true';",
    "test('d', (t) => { if (!x) return t.skip('no x'); });",
    "test.skip('e', () => {});",
  ];
  for (const text of bad) assert.equal(ownSkips('x.ts', text).length, 1, text);
  const good = [
    "test('a', { skip: required(socatUnavailable()) }, () => {});",
    "const skip = skipUnlessControlPlane() || required(netnsUnavailable()); test('c', { skip, timeout: 1 }, () => {});",
    "const skip = required(a, b); describe('b', { skip: skip }, () => { test('t', { skip }, () => {}); });",
    "test('f', { skip: skipWithout('kubectl', 'helm') }, () => {});",
    'const o = { skip: 3 }; // not an option of a call',
  ];
  for (const text of good) assert.deepEqual(ownSkips('x.ts', text), [], text);
});

test('every skip of every test file is decided by required(); none reads CI itself or skips at run time', () => {
  const files = readdirSync(path.join(ROOT, 'test'), { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.ts') && !f.startsWith('fixtures'))
    .map((f) => path.join('test', f))
    .filter(
      (f) => f !== 'test/harness/required.ts' && f !== 'test/unit/harness/required.test.ts' && !NOT_YET.includes(f),
    );
  assert.ok(files.length > 100, `only ${files.length} test files found`);
  const found = files.flatMap((f) => ownSkips(f, readFileSync(path.join(ROOT, f), 'utf8')));
  assert.deepEqual(found, []);
});
