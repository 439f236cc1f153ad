// A shape rule for the product's code: no function longer than MAX_LINES lines in the controller
// (webhook/), the agent (node-agent/), the node contract, the shared model (relay/), lib/, certs/ and
// the CLI, unless the comment right above it states why, starting with `Long:`. Long functions are
// where mutable locals, timers and inline side effects hide; split them into named steps instead.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import ts from 'typescript';

const ROOT = path.resolve(import.meta.dirname, '../..');
const FOLDERS = ['webhook', 'node-agent', 'node-contract', 'relay', 'lib', 'certs', 'cli'];
const MAX_LINES = 60;
const REASON = /\bLong:/;

interface LongFunction { where: string; name: string; lines: number }

/** The functions (declarations, methods, arrows, expressions) of one source text longer than `max` lines without a `Long:` reason. */
function longFunctions(file: string, text: string, max = MAX_LINES): LongFunction[] {
  const src = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
  const out: LongFunction[] = [];
  const visit = (n: ts.Node): void => {
    if (ts.isFunctionLike(n) && 'body' in n && n.body) {
      const first = src.getLineAndCharacterOfPosition(n.getStart(src)).line;
      const lines = src.getLineAndCharacterOfPosition(n.getEnd()).line - first + 1;
      // The comment may sit above the function or above the statement that holds it (const f = …).
      let holder: ts.Node = n;
      while (holder.parent && !ts.isSourceFile(holder.parent) && !ts.isBlock(holder.parent) && !ts.isClassLike(holder.parent)) holder = holder.parent;
      const comments = ts.getLeadingCommentRanges(text, holder.getFullStart()) ?? [];
      const reasoned = comments.some((c) => REASON.test(text.slice(c.pos, c.end)));
      if (lines > max && !reasoned) {
        const name = (n).name?.getText(src) ?? '(anonymous)';
        out.push({ where: `${file}:${first + 1}`, name, lines });
      }
    }
    ts.forEachChild(n, visit);
  };
  visit(src);
  return out;
}

function tsFiles(dir: string): string[] {
  const abs = path.join(ROOT, dir);
  if (!existsSync(abs)) return [];
  return readdirSync(abs, { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.ts') && !f.endsWith('.generated.ts') && !f.endsWith('.d.ts'))
    .map((f) => path.join(dir, f))
    .filter((f) => statSync(path.join(ROOT, f)).isFile());
}

test(`no function in ${FOLDERS.join('/, ')}/ is longer than ${MAX_LINES} lines without a "Long:" reason beside it`, () => {
  const files = FOLDERS.flatMap(tsFiles);
  assert.ok(files.length > 50, `only ${files.length} files found: wrong folders?`);
  const long = files.flatMap((f) => longFunctions(f, readFileSync(path.join(ROOT, f), 'utf8')));
  assert.deepEqual(long.map((l) => `${l.where} ${l.name}: ${l.lines} lines`), []);
});

test('the rule sees a long function, a long arrow and a long method, and accepts a stated reason', () => {
  const body = (n: number): string => Array.from({ length: n }, (_, i) => `  x += ${i};`).join('\n');
  const text = [
    `function tooLong(): void {\n  let x = 0;\n${body(MAX_LINES)}\n}`,
    `const arrow = (): void => {\n  let x = 0;\n${body(MAX_LINES)}\n};`,
    `class C {\n  method(): void {\n    let x = 0;\n${body(MAX_LINES)}\n  }\n}`,
    `// Long: one table of cases, read top to bottom.\nfunction reasoned(): void {\n  let x = 0;\n${body(MAX_LINES)}\n}`,
    `function short(): void {\n  let x = 0;\n${body(MAX_LINES - 3)}\n}`,
  ].join('\n');
  assert.deepEqual(longFunctions('x.ts', text).map((l) => l.name), ['tooLong', '(anonymous)', 'method']);
});
