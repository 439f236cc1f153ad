// ESLint for the whole repository (npm run lint; scripts/test.sh runs it before the suites):
// typescript-eslint's type-checked rules, the function-length rule of the product's folders, the import
// rule of docs/architecture.md's parts table and eslint-config-prettier (Prettier formats); then the
// 120-column limit for what Prettier does not wrap.
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import js from '@eslint/js';
import stylistic from '@stylistic/eslint-plugin';
import prettier from 'eslint-config-prettier';
import { defineConfig } from 'eslint/config';
import tseslint from 'typescript-eslint';

const ROOT = import.meta.dirname;

/** The product's folders: functions at most 60 lines. */
const PRODUCT_FOLDERS = ['webhook', 'node-agent', 'node-contract', 'relay', 'lib', 'certs', 'cli'];
const MAX_FUNCTION_LINES = 60;

/**
 * The parts table of docs/architecture.md (| folder | what it is | may import |): the one home of the
 * import rule. A part is `dir/` (every file below it unless a more specific part claims it) or `dir/*.ts`
 * (its own files only); `may import` lists parts, folders or files in backticks, or says `everything`.
 */
function partsTable(markdown) {
  const lines = markdown.split('\n');
  const header = lines.findIndex((l) => /^\|\s*folder\s*\|\s*what it is\s*\|\s*may import\s*\|$/.test(l.trim()));
  const end = lines.findIndex((l, i) => i > header && !l.startsWith('|'));
  const rows = header < 0 ? [] : lines.slice(header + 2, end < 0 ? undefined : end);
  return rows.map((row) => {
    const cells = row
      .split('|')
      .slice(1, -1)
      .map((c) => c.trim());
    const ticks = (cell) => [...cell.matchAll(/`([^`]+)`/g)].map((m) => m[1]);
    return { part: ticks(cells[0])[0], allowed: ticks(cells[2] ?? ''), everything: cells[2] === 'everything' };
  });
}

const home = (part) => (part.endsWith('/*.ts') ? part.slice(0, -'*.ts'.length) : part);
const escape = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** The part that owns a file or folder (repository path with a trailing / for folders): the most specific. */
function ownerOf(parts, rel) {
  return parts
    .filter((p) => (p.part.endsWith('/*.ts') ? path.dirname(rel) + '/' === home(p.part) : rel.startsWith(p.part)))
    .sort((a, b) => b.part.length - a.part.length)[0];
}

/**
 * A regular expression (an alternation, to anchor) for the relative specifiers a file in `dir` may
 * write: into its own part or an allowed one (`import type` is free: the rule's allowTypeImports). A
 * folder target allows everything below it, a `*.ts` part its own files, a `.ts` file that file (as
 * `.js`, as the code imports it).
 */
function allowedSpecifiers(dir, part, allowed) {
  const toDir = (target) => {
    const rel = path.relative(dir, target.replace(/\/$/, ''));
    if (rel === '') return '\\./';
    // An ancestor of dir: ./ and up to it, but not above it.
    if (/^(\.\.\/)*\.\.$/.test(rel)) return `\\./|${escape(rel)}/(?!\\.\\./)`;
    return `${rel.startsWith('.') ? '' : '\\./'}${escape(rel)}/`;
  };
  const own = part.part.endsWith('/*.ts') ? `${toDir(home(part.part))}[^/]+$` : toDir(part.part);
  const others = allowed.map((a) => {
    if (!a.endsWith('.ts')) return toDir(a);
    const rel = path.relative(dir, a).replace(/\.ts$/, '.js');
    return `${rel.startsWith('.') ? '' : '\\./'}${escape(rel)}$`;
  });
  return `(?:${[own, ...others].join('|')})`;
}

/** One config block per product folder: @typescript-eslint/no-restricted-imports with that folder's rule. */
function importRules() {
  const parts = partsTable(readFileSync(path.join(ROOT, 'docs/architecture.md'), 'utf8'));
  if (parts.length < 8 || parts.some((p) => !p.part)) {
    throw new Error(
      `docs/architecture.md: the parts table (| folder | what it is | may import |) has ${parts.length} rows`,
    );
  }
  const dirs = (d) => [
    d,
    ...readdirSync(path.join(ROOT, d), { withFileTypes: true })
      .filter((e) => e.isDirectory())
      .flatMap((e) => dirs(`${d}/${e.name}`)),
  ];
  const roots = [...new Set(parts.map((p) => home(p.part).split('/')[0]))];
  return roots.flatMap(dirs).flatMap((dir) => {
    const part = ownerOf(parts, `${dir}/x.ts`);
    if (!part || part.everything) return [];
    const allowed = allowedSpecifiers(
      dir,
      part,
      part.allowed.map((a) => (a.endsWith('.ts') || a.endsWith('/') ? a : `${a}/`)),
    );
    const message = `docs/architecture.md: \`${part.part}\` may import ${part.allowed.join(', ') || 'nothing of the project'} (values; import type is free)`;
    return [
      {
        files: [`${dir}/*.ts`],
        rules: {
          '@typescript-eslint/no-restricted-imports': [
            'error',
            {
              patterns: [{ regex: `^(?!${allowed})\\.`, allowTypeImports: true, message }],
            },
          ],
        },
      },
    ];
  });
}

export default defineConfig(
  // Generated: relay/schema.generated.ts (npm run gen:relay-schema), node-agent/csi/generated/ (npm run gen:proto).
  {
    ignores: [
      'node_modules/',
      'dist/',
      '.testbin/',
      'bench/results/',
      'relay/schema.generated.ts',
      'node-agent/csi/generated/',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: { allowDefaultProject: ['*.js'] }, tsconfigRootDir: ROOT },
    },
    linterOptions: { reportUnusedDisableDirectives: 'error' },
    rules: {
      // `_`-prefixed names say "unused on purpose" (a callback's position, a destructured rest).
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' },
      ],
      // An async function that implements a Promise-returning interface (a fake, a no-op seam, a command's
      // run()) need not await anything.
      '@typescript-eslint/require-await': 'off',
      // node:test's test()/describe() return promises the runner itself awaits.
      '@typescript-eslint/no-floating-promises': [
        'error',
        {
          allowForKnownSafeCalls: [
            { from: 'package', package: 'node:test', name: ['test', 'it', 'describe', 'suite'] },
          ],
        },
      ],
    },
  },
  {
    files: ['test/**/*.ts'],
    rules: {
      // Tests walk parsed YAML/JSON (manifests, API bodies, hostile inputs) typed `any` and assert on what
      // they find: the assertion is the check; the product's code keeps every no-unsafe rule.
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
    },
  },
  { files: ['**/*.js'], ...tseslint.configs.disableTypeChecked },
  {
    files: PRODUCT_FOLDERS.map((f) => `${f}/**/*.ts`),
    ignores: ['**/*.generated.ts'],
    rules: {
      // Long functions are where mutable locals, timers and inline side effects hide: split them into
      // named steps, or say why not: `// eslint-disable-next-line max-lines-per-function -- Long: <why>`.
      'max-lines-per-function': ['error', { max: MAX_FUNCTION_LINES, IIFEs: true }],
    },
  },
  ...importRules(),
  prettier,
  {
    // Prettier keeps code within 120 columns but leaves comments and long literals alone: comments too,
    // then (a message or a test name stays one literal, so it can be searched for).
    plugins: { '@stylistic': stylistic },
    rules: {
      '@stylistic/max-len': [
        'error',
        {
          code: 120,
          ignoreStrings: true,
          ignoreTemplateLiterals: true,
          ignoreRegExpLiterals: true,
          ignoreUrls: true,
        },
      ],
    },
  },
);
