// The fleet benchmark's pure arithmetic: the API server's /metrics text read into samples, the watch
// stream's events counted across chunk boundaries, rates over a window, and the two judgements the goals
// need — "flat in N" (within a tolerance of the smallest N's figure) and "linear in N" (the exponent of
// a power law through the smallest and the largest N).

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

/** Prometheus text exposition → samples; comments, blank and unreadable lines are skipped, never thrown on. */
export function parsePrometheus(text: string): Sample[] {
  const out: Sample[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const brace = line.indexOf('{');
    const close = line.lastIndexOf('}');
    let name: string;
    let rest: string;
    const labels: Record<string, string> = {};
    if (brace >= 0 && close > brace) {
      name = line.slice(0, brace);
      for (const m of line.slice(brace + 1, close).matchAll(LABEL))
        labels[m[1]!] = m[2]!.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
      rest = line.slice(close + 1).trim();
    } else {
      const sp = line.indexOf(' ');
      if (sp < 0) continue;
      name = line.slice(0, sp);
      rest = line.slice(sp + 1).trim();
    }
    const value = Number(rest.split(/\s+/)[0]);
    if (!/^[a-zA-Z_:][a-zA-Z0-9_:]*$/.test(name) || Number.isNaN(value)) continue;
    out.push({ name, labels, value });
  }
  return out;
}

/** The sum of every sample named `name` whose labels pass `match` (all of them without one). */
export function total(
  samples: readonly Sample[],
  name: string,
  match?: (l: Record<string, string>) => boolean,
): number {
  let sum = 0;
  for (const s of samples) if (s.name === name && (!match || match(s.labels))) sum += s.value;
  return sum;
}

/** A counter's increase per second over a window; a counter that went down (a restart) counts from 0. */
export function ratePerSecond(before: number, after: number, seconds: number): number {
  if (!(seconds > 0)) return Number.NaN;
  return (after >= before ? after - before : after) / seconds;
}

/**
 * Counts the events of one watch response: the API server writes one JSON object per line
 * (`{"type":"ADDED","object":…}\n`); a chunk may end mid-line. BOOKMARKs are events too, counted apart.
 */
export class WatchStreamCounter {
  events = 0;
  bookmarks = 0;
  private head = '';
  private inLine = false;
  /** Feeds the next chunk of the body. Keeps at most the first 32 bytes of a line (its type). */
  feed(chunk: Buffer | string): void {
    const s = typeof chunk === 'string' ? chunk : chunk.toString('latin1');
    let start = 0;
    for (;;) {
      const nl = s.indexOf('\n', start);
      const piece = s.slice(start, nl < 0 ? s.length : nl);
      if (this.head.length < 32) this.head += piece.slice(0, 32 - this.head.length);
      if (piece.length) this.inLine = true;
      if (nl < 0) return;
      if (this.inLine) {
        this.events++;
        if (/^\s*\{\s*"type"\s*:\s*"BOOKMARK"/.test(this.head)) this.bookmarks++;
      }
      this.head = '';
      this.inLine = false;
      start = nl + 1;
    }
  }
}

/** A request as the counting proxy classifies it: the Kubernetes verb (a GET with watch=true|1 is WATCH). */
export function verbOf(method: string, url: string): string {
  const m = method.toUpperCase();
  if (m !== 'GET') return m;
  const q = url.indexOf('?');
  if (q < 0) return 'GET';
  const watch = new URLSearchParams(url.slice(q + 1)).get('watch');
  return watch === 'true' || watch === '1' ? 'WATCH' : 'GET';
}

/** |value / reference − 1| ≤ tolerance ("the same within 20 %": 0.2). A zero reference needs a zero value. */
export function flatWithin(reference: number, value: number, tolerance: number): boolean {
  if (reference === 0) return value === 0;
  return Math.abs(value / reference - 1) <= tolerance;
}

/**
 * The exponent k of cost ∝ N^k through the smallest and the largest N measured (NaN with fewer than two
 * distinct N or a non-positive cost): 1 is linear, 2 quadratic, 0 flat.
 */
export function growthExponent(points: readonly { n: number; value: number }[]): number {
  const valid = points.filter((p) => p.n > 0 && p.value > 0);
  if (valid.length < 2) return Number.NaN;
  const lo = valid.reduce((a, b) => (b.n < a.n ? b : a));
  const hi = valid.reduce((a, b) => (b.n > a.n ? b : a));
  if (hi.n === lo.n) return Number.NaN;
  return Math.log(hi.value / lo.value) / Math.log(hi.n / lo.n);
}

/** The offset (ms) of item i of n in a period, so n periodic writers spread evenly instead of firing together. */
export function spreadOffsetMs(i: number, n: number, periodMs: number): number {
  if (n <= 0) return 0;
  return Math.floor(((i % n) * periodMs) / n);
}
