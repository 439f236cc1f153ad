// A figure is one reported number: {name, unit, value, baseline, ratio, goal, met}. Goals are data, so
// the JSON says what was aimed at and the table can show it; `met` is computed here, never by hand.

type Comparator = '>=' | '<=';

/** A goal on the figure's value (`<= 5 ms`) or on its ratio to the baseline (`>= 0.8 × baseline`). */
export interface Goal {
  on: 'value' | 'ratio';
  op: Comparator;
  target: number;
}

export interface Figure {
  name: string;
  unit: string;
  value: number | null;
  baseline: number | null;
  ratio: number | null;
  goal: string | null;
  met: boolean | null;
  /** Free text: what was compared, parameters, the cause of a miss. */
  note?: string;
}

export interface FigureInput {
  name: string;
  unit: string;
  value: number;
  baseline?: number;
  goal?: Goal;
  note?: string;
}

const finite = (x: number | undefined): x is number => x !== undefined && Number.isFinite(x);

function goalText(g: Goal, unit: string): string {
  return g.on === 'ratio' ? `${g.op} ${g.target} × baseline` : `${g.op} ${g.target} ${unit}`.trimEnd();
}

function compare(x: number, op: Comparator, target: number): boolean {
  return op === '>=' ? x >= target : x <= target;
}

/** Builds a figure: ratio = value / baseline; `met` is null when there is no goal or no number to judge. */
export function figure(i: FigureInput): Figure {
  const value = finite(i.value) ? i.value : null;
  const baseline = finite(i.baseline) ? i.baseline : null;
  const ratio = value !== null && baseline !== null && baseline !== 0 ? value / baseline : null;
  let met: boolean | null = null;
  if (i.goal) {
    const judged = i.goal.on === 'ratio' ? ratio : value;
    met = judged === null ? false : compare(judged, i.goal.op, i.goal.target);
  }
  return {
    name: i.name,
    unit: i.unit,
    value: round(value),
    baseline: round(baseline),
    ratio: ratio === null ? null : Math.round(ratio * 1000) / 1000,
    goal: i.goal ? goalText(i.goal, i.unit) : null,
    met,
    ...(i.note ? { note: i.note } : {}),
  };
}

/** Keeps 4 significant digits: enough for noisy measurements, short in the JSON. */
function round(x: number | null): number | null {
  if (x === null) return null;
  if (x === 0) return 0;
  return Number(x.toPrecision(4));
}

function fmt(x: number | null): string {
  if (x === null) return '-';
  const a = Math.abs(x);
  if (a >= 1e6) return x.toExponential(3);
  if (a >= 100) return x.toFixed(0);
  if (a >= 1) return x.toFixed(2);
  return x.toPrecision(3);
}

/** The human table: one row per figure, aligned columns. */
export function formatTable(title: string, figures: readonly Figure[]): string {
  const head = ['figure', 'value', 'unit', 'baseline', 'ratio', 'goal', 'met'];
  const rows = figures.map((f) => [
    f.name,
    fmt(f.value),
    f.unit,
    fmt(f.baseline),
    f.ratio === null ? '-' : f.ratio.toFixed(2),
    f.goal ?? '-',
    f.met === null ? '-' : f.met ? 'yes' : 'NO',
  ]);
  const widths = head.map((h, c) => Math.max(h.length, ...rows.map((r) => (r[c] ?? '').length)));
  const line = (r: string[]) =>
    r
      .map((cell, c) => (c === 0 || c === 2 || c === 5 ? cell.padEnd(widths[c] ?? 0) : cell.padStart(widths[c] ?? 0)))
      .join('  ');
  return [`== ${title}`, line(head), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n') + '\n';
}

/** The same figures as a Markdown table (for BENCHMARKS.md). */
export function formatMarkdown(figures: readonly Figure[]): string {
  const rows = figures.map(
    (f) =>
      `| ${f.name} | ${fmt(f.value)} ${f.unit} | ${fmt(f.baseline)} | ${f.ratio === null ? '–' : f.ratio.toFixed(2)} | ${f.goal ?? '–'} | ${f.met === null ? '–' : f.met ? 'yes' : '**no**'} |`,
  );
  return ['| figure | value | baseline | ratio | goal | met |', '|---|---|---|---|---|---|', ...rows].join('\n') + '\n';
}
