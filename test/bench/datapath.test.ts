// The data-path and scale benchmarks' honesty rules: failures add up over runs, the UDP ladder reports
// what was sent, each A/B variant undoes exactly one shipped option, the scale goals.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { nodeArgv, resolveRelay, sidecarArgv } from '../../relay/index.js';
import {
  datapathParams,
  datapathFigures,
  isShort,
  ladderText,
  maxLossless,
  Samples,
  sentRate,
  VARIANTS,
  type LadderStep,
} from '../../bench/datapath/run.js';
import { reconcileGoal } from '../../bench/scale/run.js';

test('a failure in one run of three shows: failure counts are summed, not the median', () => {
  const s = new Samples();
  for (const [nc, burst, lost] of [
    [0, 0, 0],
    [2, 0, 1],
    [0, 0, 0],
  ]) {
    s.add('nc-errors', 'chain', nc!);
    s.add('burst-errors', 'chain', burst!);
    s.add('rr-lost', 'chain', lost!);
  }
  assert.equal(s.med('nc-errors', 'chain'), 0, 'the median would hide it');
  assert.equal(s.sum('nc-errors', 'chain'), 2);
  const f = datapathFigures(s, {}, datapathParams({}), [], ['direct', 'hop', 'chain']);
  const failed = f.find((x) => x.name === 'failed connections (new + burst), chain');
  assert.equal(failed?.value, 2);
  assert.equal(failed?.met, false);
  assert.equal(f.find((x) => x.name === 'udp request/response lost, chain')?.met, false);
});

test('the UDP ladder reports the rate actually sent and marks a step where the sender fell short', () => {
  const steps: LadderStep[] = [
    { rate: 10000, sent: 10000, seconds: 1.0, received: 10000 },
    { rate: 20000, sent: 20000, seconds: 1.6, received: 20000 }, // the sender needed 1.6 s: 12 500/s
    { rate: 40000, sent: 40000, seconds: 1.0, received: 39000 },
  ];
  assert.equal(sentRate(steps[1]!), 12500);
  assert.deepEqual(steps.map(isShort), [false, true, false]);
  assert.equal(maxLossless(steps), 12500, 'the lossless figure is what was sent, not the 20 000 asked for');
  assert.equal(ladderText(steps), '10000→10000/s, 20000→12500/s (short), 40000→40000/s lost 1000');
  assert.equal(maxLossless([{ rate: 1000, sent: 1000, seconds: 1, received: 999 }]), 0);
});

test('each A/B variant undoes exactly one shipped option of the relay', () => {
  const tcp = resolveRelay({
    apiVersion: 'socat.io/v1alpha1',
    kind: 'Relay',
    metadata: { name: 'a' },
    spec: { target: { host: '127.0.0.1', port: 1 }, consumers: { namespaces: ['n'] } },
  });
  const udp = resolveRelay({
    apiVersion: 'socat.io/v1alpha1',
    kind: 'Relay',
    metadata: { name: 'b' },
    spec: { protocol: 'UDP', target: { host: '127.0.0.1', port: 2 }, consumers: { namespaces: ['n'] } },
  });
  const cases: { variant: string; relay: typeof tcp; gone: RegExp }[] = [
    { variant: 'no-nodelay', relay: tcp, gone: /nodelay/ },
    { variant: 'no-t10', relay: tcp, gone: /^-t10$/ },
    { variant: 'udp-no-rcvbuf', relay: udp, gone: /rcvbuf=/ },
    { variant: 'b8k', relay: tcp, gone: /^-b131072$/ },
  ];
  for (const c of cases) {
    const v = VARIANTS[c.variant];
    assert.ok(v, c.variant);
    for (const [argv, edit] of [
      [nodeArgv(c.relay, { socketDir: '/r' }), v.node],
      [sidecarArgv(c.relay), v.sidecar],
    ] as const) {
      assert.ok(
        argv.some((a) => c.gone.test(a)),
        `${c.variant}: the shipped argv has the option`,
      );
      const edited = edit([...argv]);
      assert.ok(!edited.some((a) => c.gone.test(a)), `${c.variant}: the variant removes it`);
      assert.ok(edited.length >= argv.length - 1, `${c.variant}: nothing else goes`);
    }
  }
});

test('scale goal: 1000 Relays reconciled to files in at most 1 s, proportionally for other sizes', () => {
  assert.deepEqual(reconcileGoal(1000), { on: 'value', op: '<=', target: 1000 });
  assert.equal(reconcileGoal(100).target, 100);
});
