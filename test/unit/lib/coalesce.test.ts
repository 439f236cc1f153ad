// lib/coalesce.ts: one run at a time; requests during a run become exactly one more run.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Coalescer } from '../../../lib/coalesce.js';
import type { ScheduleFn } from '../../../lib/clock.js';

/** A task whose runs end only when the test says so. */
function gatedTask() {
  const gates: (() => void)[] = [];
  let runs = 0;
  let active = 0;
  let maxActive = 0;
  const task = async (): Promise<void> => {
    runs++;
    active++;
    maxActive = Math.max(maxActive, active);
    await new Promise<void>((resolve) => gates.push(resolve));
    active--;
  };
  const open = async (): Promise<void> => {
    while (gates.length === 0) await new Promise((r) => setImmediate(r));
    gates.shift()!();
  };
  return { task, open, runs: () => runs, maxActive: () => maxActive };
}

test('a request while idle runs once', async () => {
  const g = gatedTask();
  const c = new Coalescer(g.task);
  const done = c.run();
  assert.equal(c.busy(), true);
  await g.open();
  await done;
  assert.equal(g.runs(), 1);
  assert.equal(c.busy(), false);
});

test('any number of requests during a run become exactly one more run, never two at once', async () => {
  const g = gatedTask();
  const c = new Coalescer(g.task);
  const first = c.run();
  const later = [c.run(), c.run(), c.run(), c.run()];
  await g.open(); // the first run ends; the one follow-up starts
  await g.open();
  await Promise.all([first, ...later]);
  assert.equal(g.runs(), 2);
  assert.equal(g.maxActive(), 1);
});

test('the promise of a request made during a run resolves only after the follow-up run', async () => {
  const g = gatedTask();
  const c = new Coalescer(g.task);
  void c.run();
  let settled = false;
  const p = c.run().then(() => {
    settled = true;
  });
  await g.open();
  await new Promise((r) => setImmediate(r));
  assert.equal(settled, false, 'the follow-up run has not ended yet');
  await g.open();
  await p;
  assert.equal(g.runs(), 2);
});

test('no follow-up run once stopped() says so', async () => {
  const g = gatedTask();
  let stopped = false;
  const c = new Coalescer(g.task, { stopped: () => stopped });
  const first = c.run();
  void c.run();
  stopped = true;
  await g.open();
  await first;
  await c.idle();
  assert.equal(g.runs(), 1);
});

test('the pause before a follow-up run goes through the schedule seam; none before a first run', async () => {
  const asked: number[] = [];
  const schedule: ScheduleFn = (fn, ms) => {
    asked.push(ms);
    setImmediate(fn);
    return () => undefined;
  };
  const g = gatedTask();
  const c = new Coalescer(g.task, { pauseMs: 50, schedule });
  const first = c.run();
  await g.open();
  await first;
  assert.deepEqual(asked, [], 'a lone run does not pause');
  const again = c.run();
  void c.run();
  await g.open();
  await g.open();
  await again;
  assert.deepEqual(asked, [50]);
  assert.equal(g.runs(), 3);
});

test('a failing run rejects the requests it covered; the next request runs again', async () => {
  let fail = true;
  let runs = 0;
  const c = new Coalescer(async () => {
    runs++;
    await new Promise((r) => setImmediate(r));
    if (fail) throw new Error('boom');
  });
  await assert.rejects(c.run(), /boom/);
  await c.idle();
  fail = false;
  await c.run();
  assert.equal(runs, 2);
});
