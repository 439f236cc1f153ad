// The pure parts of the benchmarks: statistics, figures (ratio, goal, met), parameters, the table.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { figure, formatTable, type FigureInput } from '../../bench/lib/figures.js';
import { BadParameter, list, num } from '../../bench/lib/params.js';
import { median, percentile } from '../../bench/lib/stats.js';

test('percentile is nearest-rank over unsorted samples', () => {
  const cases: { samples: number[]; p: number; want: number }[] = [
    { samples: [5, 1, 3, 2, 4], p: 50, want: 3 },
    { samples: Array.from({ length: 100 }, (_, i) => 100 - i), p: 99, want: 99 },
    { samples: Array.from({ length: 100 }, (_, i) => i + 1), p: 100, want: 100 },
    { samples: [7], p: 1, want: 7 },
  ];
  for (const c of cases) assert.equal(percentile(c.samples, c.p), c.want, JSON.stringify(c));
  assert.ok(Number.isNaN(percentile([], 50)));
});

test('median of an even count is the mean of the middle two; of none, NaN', () => {
  assert.equal(median([4, 1, 3, 2]), 2.5);
  assert.equal(median([9, 1, 5]), 5);
  assert.ok(Number.isNaN(median([])));
});

test('figure computes ratio to the baseline and judges the goal on the ratio or the value', () => {
  const cases: { name: string; in: FigureInput; ratio: number | null; goal: string | null; met: boolean | null }[] = [
    {
      name: 'throughput at 0.85 of baseline meets >= 0.8',
      in: { name: 'a', unit: 'req/s', value: 850, baseline: 1000, goal: { on: 'ratio', op: '>=', target: 0.8 } },
      ratio: 0.85,
      goal: '>= 0.8 × baseline',
      met: true,
    },
    {
      name: 'throughput at 0.25 of baseline misses >= 0.8',
      in: { name: 'a', unit: 'req/s', value: 250, baseline: 1000, goal: { on: 'ratio', op: '>=', target: 0.8 } },
      ratio: 0.25,
      goal: '>= 0.8 × baseline',
      met: false,
    },
    {
      name: 'p99 of 6 ms misses <= 5 ms whatever the baseline',
      in: { name: 'b', unit: 'ms', value: 6, baseline: 1, goal: { on: 'value', op: '<=', target: 5 } },
      ratio: 6,
      goal: '<= 5 ms',
      met: false,
    },
    { name: 'no goal: met is null', in: { name: 'c', unit: 'MiB', value: 12 }, ratio: null, goal: null, met: null },
    {
      name: 'a ratio goal without a baseline is not met',
      in: { name: 'd', unit: 'ms', value: 3, goal: { on: 'ratio', op: '<=', target: 2 } },
      ratio: null,
      goal: '<= 2 × baseline',
      met: false,
    },
    {
      name: 'a NaN value is reported as null and misses its goal',
      in: { name: 'e', unit: 'ms', value: Number.NaN, goal: { on: 'value', op: '<=', target: 1 } },
      ratio: null,
      goal: '<= 1 ms',
      met: false,
    },
  ];
  for (const c of cases) {
    const f = figure(c.in);
    assert.equal(f.ratio, c.ratio, c.name);
    assert.equal(f.goal, c.goal, c.name);
    assert.equal(f.met, c.met, c.name);
  }
});

test('figure keeps four significant digits', () => {
  const f = figure({ name: 'x', unit: 'ms', value: 0.123456, baseline: 12345.678 });
  assert.equal(f.value, 0.1235);
  assert.equal(f.baseline, 12350);
});

test('the table has a row per figure and says NO for a missed goal', () => {
  const out = formatTable('t', [
    figure({ name: 'kept', unit: 'ms', value: 1, goal: { on: 'value', op: '<=', target: 2 } }),
    figure({ name: 'missed', unit: 'ms', value: 3, goal: { on: 'value', op: '<=', target: 2 } }),
  ]);
  const rows = out.trim().split('\n');
  assert.equal(rows.length, 5);
  assert.match(rows[3] ?? '', /^kept .* yes$/);
  assert.match(rows[4] ?? '', /^missed .* NO$/);
});

test('parameters: env value, quick default, or BadParameter', () => {
  assert.equal(num({}, 'BENCH_X', 10, 2), 10);
  assert.equal(num({ BENCH_QUICK: '1' }, 'BENCH_X', 10, 2), 2);
  assert.equal(num({ BENCH_X: '7', BENCH_QUICK: '1' }, 'BENCH_X', 10, 2), 7);
  assert.throws(() => num({ BENCH_X: 'lots' }, 'BENCH_X', 10), BadParameter);
  assert.throws(() => num({ BENCH_X: '-1' }, 'BENCH_X', 10), BadParameter);
  assert.deepEqual(list({ BENCH_L: '1, 2,3' }, 'BENCH_L', [9]), [1, 2, 3]);
  assert.throws(() => list({ BENCH_L: '1,x' }, 'BENCH_L', [9]), BadParameter);
});
