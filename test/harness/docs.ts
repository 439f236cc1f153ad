// What the docs tests read: the repository's Markdown (README, docs/, the manifests' and the chart's
// READMEs, BENCHMARKS.md, …) and the comment lines of the manifests and the chart, each line with its
// file and number, so a failure points at the line to fix.
import { lstatSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { REPO } from './manifest-load.js';

/** Folders that hold no docs of the project's own (dependencies, build output, test binaries, results). */
const SKIPPED = new Set(['node_modules', '.git', '.testbin', 'dist', 'bench']);

/** Every .md file under `dir` (default: the repository), symlinks not followed (the chart's files/manifests). */
export function markdownFiles(dir = REPO): string[] {
  return readdirSync(dir)
    .sort()
    .flatMap((n) => {
      if (SKIPPED.has(n)) return [];
      const p = path.join(dir, n);
      const st = lstatSync(p);
      if (st.isSymbolicLink()) return [];
      return st.isDirectory() ? markdownFiles(p) : n.endsWith('.md') ? [p] : [];
    });
}

function yamlLike(dir: string): string[] {
  return readdirSync(dir)
    .sort()
    .flatMap((n) => {
      const p = path.join(dir, n);
      const st = lstatSync(p);
      if (st.isSymbolicLink()) return [];
      return st.isDirectory() ? yamlLike(p) : /\.(ya?ml|txt|tpl)$/.test(n) ? [p] : [];
    });
}

export interface DocLine {
  /** Repository-relative file. */
  file: string;
  line: number;
  text: string;
}

/** `file:line` for assertion messages. */
export const where = (l: DocLine): string => (l.line > 0 ? `${l.file}:${l.line}` : l.file);

/** Every line of the Markdown docs. */
export function markdownLines(): DocLine[] {
  return markdownFiles().flatMap((f) =>
    readFileSync(f, 'utf8')
      .split('\n')
      .map((text, i) => ({ file: path.relative(REPO, f), line: i + 1, text })),
  );
}

/** The comment lines (`# …`) of the manifests and of the chart (values, templates), and the chart's NOTES.txt. */
export function commentLines(): DocLine[] {
  const files = [...yamlLike(path.join(REPO, 'manifests')), ...yamlLike(path.join(REPO, 'charts'))];
  return files.flatMap((f) =>
    readFileSync(f, 'utf8')
      .split('\n')
      .flatMap((text, i) => {
        const rel = path.relative(REPO, f);
        if (rel.endsWith('NOTES.txt')) return [{ file: rel, line: i + 1, text }];
        const hash = text.indexOf('#');
        return hash >= 0 && /^\s*#/.test(text) ? [{ file: rel, line: i + 1, text: text.slice(hash + 1) }] : [];
      }),
  );
}

/** The rows of the Markdown table whose header row is `header` (cells trimmed), in `file`. */
export function tableRows(file: string, header: string[]): { row: string[]; line: number }[] {
  const lines = readFileSync(path.join(REPO, file), 'utf8').split('\n');
  const cells = (l: string) =>
    l
      .trim()
      .replace(/^\||\|$/g, '')
      .split('|')
      .map((c) => c.trim());
  const start = lines.findIndex((l) => l.trim().startsWith('|') && JSON.stringify(cells(l)) === JSON.stringify(header));
  if (start < 0) return [];
  const out: { row: string[]; line: number }[] = [];
  for (let i = start + 2; i < lines.length && lines[i]!.trim().startsWith('|'); i++)
    out.push({ row: cells(lines[i]!), line: i + 1 });
  return out;
}

/** The fenced code blocks of the Markdown docs, each located at its opening fence. */
export function codeBlocks(): DocLine[] {
  return markdownFiles().flatMap((f) => {
    const text = readFileSync(f, 'utf8');
    return [...text.matchAll(/^```[^\n]*\n([\s\S]*?)^```/gm)].map((m) => ({
      file: path.relative(REPO, f),
      line: text.slice(0, m.index).split('\n').length,
      text: m[1]!,
    }));
  });
}
