// The rules ESLint holds the product's code to (eslint.config.js; scripts/test.sh runs `eslint .` on a
// full run): the import rule of docs/architecture.md's parts table and the function length of the
// product's folders. Here: that they report what they must, on real files of the repository with a
// changed text, and that the table keeps the controller and the agent apart through any chain of parts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { ESLint } from 'eslint';
import tseslint from 'typescript-eslint';
import { tableRows } from '../harness/docs.js';
import { REPO } from '../harness/manifest-load.js';

// The syntax rules only: the type-checked ones would build the whole program for each text.
const eslint = new ESLint({ cwd: REPO, overrideConfig: tseslint.configs.disableTypeChecked });

/** The rules (`rule: line`) ESLint reports for `code` as the text of the repository file `file`. */
async function reported(file: string, code: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath: path.join(REPO, file) });
  assert.ok(result, `a result for ${file}`);
  const fatal = result.messages.filter((m) => m.fatal);
  assert.deepEqual(fatal, [], `${file} parses`);
  return result.messages.map((m) => `${m.ruleId}: ${m.line}`);
}

const IMPORT_RULE = '@typescript-eslint/no-restricted-imports';

test("a value import across docs/architecture.md's table is an error; an import type, or one the row allows, is not", async () => {
  const cases: [file: string, code: string, denied: boolean][] = [
    ['webhook/server/app.ts', "import { startReconcile } from '../reconcile/index.js';", true],
    ['webhook/server/app.ts', "import type { ReconcileOptions } from '../reconcile/index.js';", false],
    ['webhook/server/app.ts', "import { decidePod } from '../admission/index.js';", false],
    ['webhook/server/app.ts', "import { loadConfig } from '../config.js';", true],
    ['webhook/server/app.ts', "import { registry } from '../metrics.js';", false],
    ['webhook/config.ts', "import { x } from './server/app.js';", true],
    ['webhook/config.ts', "import { x } from './admission/index.js';", false],
    ['webhook/admission/pod.ts', "export { RelayCatalog } from '../catalog/catalog.js';", true],
    ['node-agent/csi/server.ts', "import { loadConfig } from '../../webhook/config.js';", true],
    ['node-agent/csi/server.ts', "import { CsiError } from './errors.js';", false],
    ['node-agent/csi/server.ts', "import { supervise } from '../supervisor.js';", false],
    ['node-agent/csi/server.ts', "import { x } from '../../node-contract/index.js';", false],
    ['node-contract/layout.ts', "import { x } from '../node-agent/agent.js';", true],
    ['relay/names.ts', "import { x } from '../node-contract/index.js';", true],
    ['lib/fs.ts', "import { x } from '../relay/index.js';", true],
    ['lib/fs.ts', "import { x } from './log.js';", false],
    ['certs/selfsigned.ts', "import { x } from '../test/harness/index.js';", true],
    ['cli/main.ts', "import { x } from '../webhook/config.js';\nimport { y } from '../node-agent/agent.js';", false],
  ];
  const wrong: string[] = [];
  for (const [file, code, denied] of cases) {
    const got = (await reported(file, code)).filter((r) => r.startsWith(IMPORT_RULE));
    if (got.length > 0 !== denied) wrong.push(`${file}: ${code} → ${got.length ? 'denied' : 'allowed'}`);
  }
  assert.deepEqual(wrong, []);
});

test("a function over 60 lines in the product's folders is an error unless a Long: reason disables the rule for it", async () => {
  const body = (n: number): string => Array.from({ length: n }, (_, i) => `  x += ${i};`).join('\n');
  const fn = (name: string, lines: number): string =>
    `export function ${name}(): number {\n  let x = 0;\n${body(lines - 4)}\n  return x;\n}\n`;
  const arrow = `export const arrow = (): number => {\n  let x = 0;\n${body(57)}\n  return x;\n};\n`;
  const method = `export class C {\n  m(): number {\n    let x = 0;\n${body(57)}\n    return x;\n  }\n}\n`;
  const reason =
    '// eslint-disable-next-line max-lines-per-function -- Long: one table of cases, read top to bottom.\n';
  const rule = (r: string[]) => r.filter((x) => x.startsWith('max-lines-per-function'));
  assert.deepEqual(rule(await reported('webhook/admission/pod.ts', fn('long', 61))), ['max-lines-per-function: 1']);
  assert.deepEqual(rule(await reported('webhook/admission/pod.ts', fn('fits', 60))), []);
  assert.deepEqual(rule(await reported('node-agent/agent.ts', arrow)), ['max-lines-per-function: 1']);
  assert.deepEqual(rule(await reported('lib/fs.ts', method)), ['max-lines-per-function: 2']);
  assert.deepEqual(rule(await reported('cli/main.ts', reason + fn('reasoned', 61))), []);
  assert.deepEqual(rule(await reported('test/harness/docs.ts', fn('aTestHelper', 61))), [], 'tests are not held to it');
});

test("docs/architecture.md's table keeps webhook/ and node-agent/ apart, and node-contract/ off both, through any chain of parts", () => {
  const rows = tableRows('docs/architecture.md', ['folder', 'what it is', 'may import']);
  const ticks = (cell: string) => [...cell.matchAll(/`([^`]+)`/g)].map((m) => m[1]!);
  const parts = rows.map(({ row }) => ({
    part: ticks(row[0]!)[0]!,
    allowed: row[2] === 'everything' ? ['*'] : ticks(row[2]!),
  }));
  assert.ok(parts.length >= 8, 'the parts table');
  // The parts a part may reach: what it may import, what those may import, and so on.
  const under = (a: string, b: string) => b === '*' || a.startsWith(b.replace(/\/?(\*\.ts)?$/, ''));
  const reach = (start: string): Set<string> => {
    const seen = new Set<string>();
    const next = [start];
    for (let p = next.pop(); p !== undefined; p = next.pop()) {
      for (const a of parts.find((x) => x.part === p)?.allowed ?? []) {
        for (const q of parts.filter((x) => under(x.part, a) || under(a, x.part))) {
          if (seen.has(q.part)) continue;
          seen.add(q.part);
          next.push(q.part);
        }
      }
    }
    return seen;
  };
  const reaches = (from: string, to: string) => [...reach(from)].filter((p) => p.startsWith(to));
  for (const p of parts.filter((x) => x.part.startsWith('webhook/')))
    assert.deepEqual(reaches(p.part, 'node-agent/'), [], p.part);
  assert.deepEqual(reaches('node-agent/', 'webhook/'), []);
  assert.deepEqual([...reaches('node-contract/', 'webhook/'), ...reaches('node-contract/', 'node-agent/')], []);
  assert.ok(
    reaches('cli/', 'node-agent/').length > 0 && reaches('webhook/reconcile/', 'node-contract/').length > 0,
    'the walk follows the table',
  );
});
