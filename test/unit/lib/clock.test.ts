// lib/clock.ts: sleep and every go through the schedule seam they are given.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { every, sleep, type ScheduleFn } from '../../../lib/clock.js';

/** A schedule that runs nothing by itself: the test fires the timers. */
function manualSchedule() {
  const timers: { fn: () => void; ms: number; cancelled: boolean }[] = [];
  const schedule: ScheduleFn = (fn, ms) => {
    const t = { fn, ms, cancelled: false };
    timers.push(t);
    return () => {
      t.cancelled = true;
    };
  };
  const fireLast = (): void => {
    const t = timers.at(-1)!;
    if (!t.cancelled) t.fn();
  };
  return { schedule, timers, fireLast };
}

test('sleep resolves when its timer fires, not before', async () => {
  const m = manualSchedule();
  let done = false;
  const p = sleep(20, m.schedule).then(() => {
    done = true;
  });
  await new Promise((r) => setImmediate(r));
  assert.equal(done, false);
  assert.deepEqual(
    m.timers.map((t) => t.ms),
    [20],
  );
  m.fireLast();
  await p;
  assert.equal(done, true);
});

test('every calls fn at each tick, re-arms itself, and stops when cancelled', () => {
  const m = manualSchedule();
  let calls = 0;
  const cancel = every(() => calls++, 1000, m.schedule);
  m.fireLast();
  m.fireLast();
  assert.equal(calls, 2);
  assert.equal(m.timers.length, 3, 'one timer armed per tick');
  cancel();
  assert.equal(m.timers.at(-1)!.cancelled, true);
  m.timers.at(-1)!.fn(); // a timer that fires anyway after the cancel
  assert.equal(calls, 2);
});

test('sleep with the real timers waits', async () => {
  const t0 = performance.now();
  await sleep(30);
  assert.ok(performance.now() - t0 >= 25);
});
