// The import rule that keeps the node contract a contract: the controller (webhook/) never imports the
// agent (node-agent/), the agent never imports the controller, and node-contract/ imports neither —
// followed transitively through every relative import (a path through relay/ or lib/ counts too).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';

const ROOT = path.resolve(import.meta.dirname, '../..');
const SPECIFIER = /(?:^|[\s;])(?:import|export)\s[^'"]*?from\s*['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)|^\s*import\s*['"]([^'"]+)['"]/gm;

/** Relative imports of a .ts file, resolved to repository paths (.js → .ts, as tsx and tsc resolve them). */
function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const out: string[] = [];
  for (const m of text.matchAll(SPECIFIER)) {
    const spec = m[1] ?? m[2] ?? m[3];
    if (!spec || !spec.startsWith('.')) continue;
    const target = path.resolve(path.dirname(file), spec).replace(/\.js$/, '.ts');
    out.push(existsSync(target) ? target : target.endsWith('.ts') ? target : `${target}.ts`);
  }
  return out;
}

function tsFiles(dir: string): string[] {
  const abs = path.join(ROOT, dir);
  if (!existsSync(abs)) return [];
  return readdirSync(abs, { recursive: true, encoding: 'utf8' }).map((f) => path.join(abs, f)).filter((f) => f.endsWith('.ts') && statSync(f).isFile());
}

/** The first import chain from `from` that reaches a file under `forbidden`, or undefined. */
function forbiddenChain(from: string, forbidden: string): string[] | undefined {
  const bad = path.join(ROOT, forbidden) + path.sep;
  const seen = new Set<string>();
  const walk = (file: string, chain: string[]): string[] | undefined => {
    if (seen.has(file)) return undefined;
    seen.add(file);
    for (const dep of importsOf(file)) {
      const next = [...chain, path.relative(ROOT, dep)];
      if (dep.startsWith(bad)) return next;
      if (existsSync(dep)) {
        const found = walk(dep, next);
        if (found) return found;
      }
    }
    return undefined;
  };
  return walk(from, [path.relative(ROOT, from)]);
}

const RULES: [from: string, never: string][] = [
  ['webhook', 'node-agent'],
  ['node-agent', 'webhook'],
  ['node-contract', 'webhook'],
  ['node-contract', 'node-agent'],
];

for (const [from, never] of RULES) {
  test(`${from}/ never imports ${never}/, directly or through another module`, () => {
    const files = tsFiles(from);
    assert.ok(files.length > 0, `${from}/ has TypeScript files`);
    for (const f of files) {
      const chain = forbiddenChain(f, never);
      assert.equal(chain, undefined, `import chain ${chain?.join(' → ')}`);
    }
  });
}

test('the import scanner sees every form of import (so the rule above cannot pass by missing them)', () => {
  const deps = importsOf(path.join(ROOT, 'test/agent/imports.test.ts'));
  assert.deepEqual(deps, []);
  const agent = importsOf(path.join(ROOT, 'node-agent/agent.ts')).map((d) => path.relative(ROOT, d));
  assert.ok(agent.includes('node-contract/index.ts'), agent.join(' '));
  assert.ok(agent.includes('node-agent/supervisor.ts'), agent.join(' '));
  assert.ok(forbiddenChain(path.join(ROOT, 'cli/main.ts'), 'webhook'), 'cli/main.ts reaches webhook/ (the scanner follows chains)');
});
