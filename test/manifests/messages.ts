// The messages the project can produce, as patterns: every string and template literal of the code
// (TypeScript's own parser; an interpolation is a wildcard, or the value of a string constant of
// relay/constants.ts; between double quotes, a name) and every CEL message of the manifests (a
// messageExpression's quoted parts, with a wildcard between them). A message a doc quotes, its
// placeholders (`X`, `N`, …) as names and `…` as a wildcard, must be able to be one of them, with most
// of its words matched by the code's words rather than swallowed by a wildcard (`alignedLiterals`).
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import ts from 'typescript';
import * as constants from '../../relay/constants.js';
import { loadManifests, REPO } from '../harness/manifest-load.js';

/** A pattern: literal text with STAR (any text, possibly empty) in between. */
const STAR = '\u0000';

const CONSTANTS = new Map<string, string>(
  Object.entries(constants as Record<string, unknown>).flatMap(([k, v]) =>
    typeof v === 'string' ? [[k, v] as [string, string]] : [],
  ),
);

function fromNode(node: ts.Node, out: string[]): void {
  if (ts.isStringLiteral(node) || ts.isNoSubstitutionTemplateLiteral(node)) out.push(node.text);
  else if (ts.isTemplateExpression(node)) {
    let p = node.head.text;
    for (const span of node.templateSpans) {
      const e = span.expression;
      p += (ts.isIdentifier(e) ? CONSTANTS.get(e.text) : undefined) ?? STAR;
      p += span.literal.text;
    }
    out.push(p);
  }
  ts.forEachChild(node, (n) => fromNode(n, out));
}

function tsFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = path.join(dir, n);
    return statSync(p).isDirectory() ? tsFiles(p) : n.endsWith('.ts') ? [p] : [];
  });
}

/** The literals of the parts and the CLI (where the messages users see are written). */
export function codeMessages(
  dirs = ['cli', 'webhook', 'node-agent', 'node-contract', 'relay', 'lib', 'certs'],
): string[] {
  const out: string[] = [];
  for (const f of dirs.flatMap((d) => tsFiles(path.join(REPO, d)))) {
    fromNode(ts.createSourceFile(f, readFileSync(f, 'utf8'), ts.ScriptTarget.Latest, false), out);
  }
  return out;
}

/**
 * The CEL messages of the manifests (policies, the CRD's rules): `message`, and `messageExpression` as quoted parts
 * with wildcards between.
 */
export function celMessages(): string[] {
  const out: string[] = [];
  const walk = (v: unknown): void => {
    if (Array.isArray(v)) {
      v.forEach(walk);
      return;
    }
    if (v === null || typeof v !== 'object') return;
    for (const [k, x] of Object.entries(v)) {
      if (k === 'message' && typeof x === 'string') out.push(x);
      else if (k === 'messageExpression' && typeof x === 'string') {
        // A join's separator is inside a wildcard, not text of the message.
        const parts = [
          ...x.replace(/\.join\(\s*'(?:[^'\\]|\\.)*'\s*\)/g, '').matchAll(/'((?:[^'\\]|\\.)*)'|"((?:[^"\\]|\\.)*)"/g),
        ].map((m) => (m[1] ?? m[2]!).replace(/\\(.)/g, '$1'));
        out.push(`${STAR}${parts.join(STAR)}${STAR}`);
      } else walk(x);
    }
  };
  for (const { object } of loadManifests()) walk(object);
  return out;
}

/** A wildcard for a name: any run of characters without a space or a double quote. */
const NAME = '\u0001';

/** Interpolations between double quotes ("${relay}") are names; every other one stays STAR. */
export function templatePattern(t: string): string {
  return t.replaceAll(`"${STAR}"`, `"${NAME}"`);
}

/**
 * A quoted message of the docs as a pattern: the placeholders X, N, P, C, R (whole words) are names, `…` (with the
 * spaces around it) is STAR.
 */
export function docPattern(quoted: string): string {
  return quoted.replace(/\s*…\s*/g, STAR).replace(/(?<![A-Za-z0-9_])[XNPCR](?![A-Za-z0-9_])/g, NAME);
}

/** The literal characters of a pattern. */
export const literalLength = (p: string): number => [...p].filter((c) => !isWild(c)).length;

const isWild = (c: string): boolean => c === STAR || c === NAME;
/** Whether the wildcard `w` can take the literal character `c`. */
const takes = (w: string, c: string): boolean => w === STAR || (c !== ' ' && c !== '"');

/**
 * The most literal characters of `a` that a common string of both patterns can take from literal
 * characters of `b` (wildcards match zero or more characters); -1 when no string matches both. A
 * doc's message whose words the code's wildcards swallow matches with few: the caller asks for most.
 */
export function alignedLiterals(a: string, b: string): number {
  const n = a.length;
  const m = b.length;
  const NO = -1;
  // next[j] / cur[j]: the best for a[i+1:] / a[i:] against b[j:], from i = n down to 0.
  let next = new Array<number>(m + 1).fill(NO);
  next[m] = 0;
  for (let j = m - 1; j >= 0; j--) next[j] = isWild(b[j]!) ? next[j + 1]! : NO;
  for (let i = n - 1; i >= 0; i--) {
    const cur = new Array<number>(m + 1).fill(NO);
    const x = a[i]!;
    cur[m] = isWild(x) ? next[m]! : NO;
    for (let j = m - 1; j >= 0; j--) {
      const y = b[j]!;
      let best = NO;
      if (isWild(x)) best = Math.max(best, next[j]!, !isWild(y) && takes(x, y) ? cur[j + 1]! : NO);
      if (isWild(y)) best = Math.max(best, cur[j + 1]!, !isWild(x) && takes(y, x) ? next[j]! : NO);
      if (!isWild(x) && !isWild(y) && x === y && next[j + 1]! >= 0) best = Math.max(best, next[j + 1]! + 1);
      cur[j] = best;
    }
    next = cur;
  }
  return next[0]!;
}
