// The elected controller's pure decisions: each Relay's summary from every node's RelayNode and the
// stale set (readyNodes, desiredNodes, "3/5", the Ready condition, observedGeneration, listenPort),
// whether the stored status must be rewritten (and the deprecated status.nodes removed), the Node
// rule of staleness, and the leader election's decision on the Lease it read.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Relay, RelayNode, RelayNodeEntry } from '../../../../relay/index.js';
import {
  relaySummary,
  reportsByRelay,
  summarize,
  summaryWait,
  summaryWrite,
  type SummaryStatus,
} from '../../../../webhook/cluster/summary.js';
import { SummaryPacer } from '../../../../webhook/cluster/pacer.js';
import { mergeStale, STALE_AFTER_SECONDS, staleNodes } from '../../../../webhook/cluster/stale.js';
import { electionAction } from '../../../../webhook/cluster/election.js';

const NOW = '2026-11-30T01:00:00.000Z';
const entry = (name: string, ready: boolean, uid = `uid-${name}`): RelayNodeEntry => ({
  name,
  uid,
  ready,
  state: ready ? 'Running' : 'Failing',
  lastTransitionTime: '2026-11-30T00:00:00Z',
});
const relayNode = (node: string, ...relays: RelayNodeEntry[]): RelayNode => ({
  apiVersion: 'socat.io/v1alpha1',
  kind: 'RelayNode',
  metadata: { name: node },
  status: { relays },
});
const relay = (name: string, extra: Partial<Relay['metadata']> = {}): Relay => ({
  apiVersion: 'socat.io/v1alpha1',
  kind: 'Relay',
  metadata: { name, uid: `uid-${name}`, generation: 3, ...extra },
  spec: { target: { host: '127.0.0.1', port: 10259 }, consumers: { namespaces: ['monitoring'] } },
});

const fleet = [
  relayNode('cp-1', entry('sched', true), entry('syslog', true)),
  relayNode('cp-2', entry('sched', true), entry('syslog', false)),
  relayNode('cp-3', entry('sched', false)),
  relayNode('worker-1', entry('syslog', true)),
  relayNode('worker-2'),
];

test("reportsByRelay: one pass over every RelayNode, each relay's reporting nodes sorted", () => {
  const idx = reportsByRelay([...fleet].reverse());
  assert.deepEqual([...idx.keys()].sort(), ['sched', 'syslog']);
  assert.deepEqual(
    idx.get('sched')!.map((r) => r.node),
    ['cp-1', 'cp-2', 'cp-3'],
  );
  assert.deepEqual(
    idx.get('syslog')!.map((r) => [r.node, r.entry.ready]),
    [
      ['cp-1', true],
      ['cp-2', false],
      ['worker-1', true],
    ],
  );
  // Hostile or half-written objects are skipped, not fatal.
  assert.equal(
    reportsByRelay([
      { metadata: {} } as any,
      { metadata: { name: 'x' }, status: { relays: [null, { ready: true }] } } as any,
    ]).size,
    0,
  );
});

const cases: {
  name: string;
  relayNodes: RelayNode[];
  stale?: Map<string, string>;
  want: { ready: string; status: string; reason: string; message: RegExp };
}[] = [
  {
    name: 'two of three control-plane nodes run it: 2/3, False naming the third',
    relayNodes: fleet,
    want: {
      ready: '2/3',
      status: 'False',
      reason: 'NodesNotReady',
      message: /^2\/3 nodes ready; not ready: cp-3 \(Failing\)$/,
    },
  },
  {
    name: 'every reporting node ready: True',
    relayNodes: fleet.slice(0, 2),
    want: { ready: '2/2', status: 'True', reason: 'AllNodesReady', message: /^2\/2 nodes ready$/ },
  },
  {
    name: 'no node reports it: 0/0, NoNodes',
    relayNodes: [],
    want: { ready: '0/0', status: 'False', reason: 'NoNodes', message: /nodeSelector/ },
  },
  {
    name: 'a stale node counts as not ready, named with why',
    relayNodes: fleet.slice(0, 2),
    stale: new Map([['cp-2', 'controller lease not renewed for over 120 s']]),
    want: {
      ready: '1/2',
      status: 'False',
      reason: 'NodesNotReady',
      message: /cp-2 \(Running, stale: controller lease not renewed for over 120 s\)/,
    },
  },
  {
    name: 'a report on an older Relay of the same name (other uid) does not count',
    relayNodes: [
      relayNode('cp-1', entry('sched', true)),
      relayNode('cp-2', entry('sched', true, 'uid-of-the-deleted-one')),
    ],
    want: { ready: '1/1', status: 'True', reason: 'AllNodesReady', message: /^1\/1 nodes ready$/ },
  },
];
for (const c of cases) {
  test(`relaySummary: ${c.name}`, () => {
    const s = relaySummary(relay('sched'), reportsByRelay(c.relayNodes).get('sched') ?? [], NOW, c.stale);
    const cond = s.conditions[0]!;
    assert.deepEqual(
      [s.ready, cond.type, cond.status, cond.reason],
      [c.want.ready, 'Ready', c.want.status, c.want.reason],
    );
    assert.equal(`${s.readyNodes}/${s.desiredNodes}`, s.ready);
    assert.match(cond.message, c.want.message);
    assert.equal(s.observedGeneration, 3);
    assert.equal(cond.observedGeneration, 3);
    assert.equal(s.listenPort, 10259, 'listen.port unset: the target port');
  });
}

test('summarize: more than five nodes not ready are counted, not listed; the condition keeps its time while its status is unchanged', () => {
  const nodes = Array.from({ length: 8 }, (_, i) => ({ name: `n${i}`, ready: false, state: 'Failing' as const }));
  assert.match(summarize(nodes, 1, NOW).ready.message, /n4 \(Failing\), and 3 more$/);
  const prev = summarize([{ name: 'a', ready: true, state: 'Running' }], 1, '2026-01-01T00:00:00.000Z').ready;
  assert.equal(
    summarize(
      [
        { name: 'a', ready: true, state: 'Running' },
        { name: 'b', ready: true, state: 'Running' },
      ],
      1,
      NOW,
      prev,
    ).ready.lastTransitionTime,
    '2026-01-01T00:00:00.000Z',
  );
  assert.equal(summarize([{ name: 'a', ready: false, state: 'Failing' }], 1, NOW, prev).ready.lastTransitionTime, NOW);
});

test('summaryWrite: nothing when the stored summary says the same; the summary when it differs; status.nodes of an older version removed', () => {
  const r = relay('sched');
  const wanted = relaySummary(r, reportsByRelay(fleet).get('sched')!, NOW);
  assert.deepEqual(summaryWrite(r, wanted), { apply: wanted, clearNodes: false }, 'no status yet');
  const stored = {
    ...r,
    status: { ...wanted, conditions: [{ ...wanted.conditions[0]!, lastTransitionTime: 'earlier' }] },
  };
  assert.deepEqual(
    summaryWrite(stored, relaySummary(stored, reportsByRelay(fleet).get('sched')!, 'later')),
    { clearNodes: false },
    'same summary: no write (time aside)',
  );
  const changed = relaySummary(stored, reportsByRelay(fleet.slice(0, 2)).get('sched')!, 'later');
  assert.equal(summaryWrite(stored, changed).apply?.ready, '2/2');
  const old = {
    ...stored,
    status: { ...stored.status, nodes: [{ name: 'cp-1', ready: true, state: 'Running' as const }] },
  };
  assert.deepEqual(summaryWrite(old, relaySummary(old, reportsByRelay(fleet).get('sched')!, 'later')), {
    clearNodes: true,
  });
});

test('staleNodes: NotReady or Unknown since more than the stated time; Ready, recent or unknown nodes are not stale; one set with the Lease rule', () => {
  assert.equal(STALE_AFTER_SECONDS, 300);
  const now = new Date('2026-11-30T01:00:00Z');
  const node = (name: string, status?: string, since?: string) => ({
    metadata: { name },
    status: status ? { conditions: [{ type: 'Ready', status, lastTransitionTime: since as any }] } : {},
  });
  const got = staleNodes(
    [
      node('down-long', 'False', '2026-11-30T00:50:00Z'),
      node('unknown-long', 'Unknown', '2026-11-30T00:54:59Z'),
      node('down-short', 'False', '2026-11-30T00:56:00Z'),
      node('ready', 'True', '2026-11-30T00:00:00Z'),
      node('no-status'),
    ],
    now,
  );
  assert.deepEqual([...got.keys()].sort(), ['down-long', 'unknown-long']);
  const m = mergeStale(
    new Map([['a', 'node not Ready']]),
    new Map([
      ['a', 'no controller lease'],
      ['b', 'no controller lease'],
    ]),
  );
  assert.deepEqual(
    [...m],
    [
      ['a', 'node not Ready'],
      ['b', 'no controller lease'],
    ],
  );
});

test('electionAction: create a missing Lease, renew our own, take over a released one or one not renewed for its duration on our clock, else wait', () => {
  const D = 15_000;
  const lease = (holder: string, renew: string, duration = 15) => ({
    spec: { holderIdentity: holder, renewTime: renew, leaseDurationSeconds: duration },
  });
  assert.equal(electionAction(undefined, 'me', undefined, 0, D).action, 'create');
  assert.equal(electionAction(lease('me', NOW), 'me', undefined, 0, D).action, 'renew');
  assert.equal(electionAction(lease('', NOW), 'me', undefined, 0, D).action, 'takeover');
  // Another holder: first sight waits, whatever its renewTime says (its clock may be off).
  const first = electionAction(lease('other', '2020-01-01T00:00:00Z'), 'me', undefined, 1000, D);
  assert.equal(first.action, 'wait');
  // Unchanged for the duration on our clock: take over; renewed meanwhile: wait again, counted anew.
  assert.equal(
    electionAction(lease('other', '2020-01-01T00:00:00Z'), 'me', first.observed, 1000 + D, D).action,
    'wait',
    'exactly the duration: not yet',
  );
  assert.equal(
    electionAction(lease('other', '2020-01-01T00:00:00Z'), 'me', first.observed, 1001 + D, D).action,
    'takeover',
  );
  const renewed = electionAction(lease('other', '2020-01-01T00:00:02Z'), 'me', first.observed, 1001 + D, D);
  assert.deepEqual([renewed.action, renewed.observed?.seenAt], ['wait', 1001 + D]);
  // Its own stated duration counts.
  assert.equal(
    electionAction(lease('other', NOW, 60), 'me', { holder: 'other', renewMs: Date.parse(NOW), seenAt: 0 }, 30_000, D)
      .action,
    'wait',
  );
});

test('summaryWait: a first summary and a new generation at once; otherwise one write per 6 ms × selected nodes, from 1 s to 30 s', () => {
  const wanted = (desiredNodes: number, observedGeneration = 3): SummaryStatus => ({
    readyNodes: 1,
    desiredNodes,
    ready: `1/${desiredNodes}`,
    observedGeneration,
    conditions: [],
  });
  const stored = { ready: '0/3', observedGeneration: 3 };
  const at = 100_000;
  // Never written by this controller, or no summary stored yet: now.
  assert.equal(summaryWait({ lastWriteMs: undefined, nowMs: at, stored, wanted: wanted(5000) }), 0);
  assert.equal(summaryWait({ lastWriteMs: at, nowMs: at, stored: undefined, wanted: wanted(5000) }), 0);
  assert.equal(summaryWait({ lastWriteMs: at, nowMs: at, stored: {}, wanted: wanted(5000) }), 0);
  // A spec change (new generation): now, whatever the last write.
  assert.equal(summaryWait({ lastWriteMs: at, nowMs: at, stored, wanted: wanted(5000, 4) }), 0);
  // Small clusters: 1 s after the last write.
  assert.equal(summaryWait({ lastWriteMs: at, nowMs: at + 200, stored, wanted: wanted(3) }), 800);
  assert.equal(summaryWait({ lastWriteMs: at, nowMs: at + 1000, stored, wanted: wanted(3) }), 0);
  // 1 000 nodes: 6 s; 5 000 and more: 30 s.
  assert.equal(summaryWait({ lastWriteMs: at, nowMs: at + 1000, stored, wanted: wanted(1000) }), 5000);
  assert.equal(summaryWait({ lastWriteMs: at, nowMs: at, stored, wanted: wanted(5000) }), 30_000);
  assert.equal(summaryWait({ lastWriteMs: at, nowMs: at, stored, wanted: wanted(20_000) }), 30_000);
});

test('SummaryPacer: a paced write arms one timer per Relay, which queues it again; a deleted Relay loses its timer', () => {
  let now = 0;
  const timers: { fn: () => void; at: number; cancelled: boolean }[] = [];
  const requeued: string[] = [];
  const pacer = new SummaryPacer({
    now: () => now,
    schedule: (fn, ms) => {
      const t = { fn, at: now + ms, cancelled: false };
      timers.push(t);
      return () => {
        t.cancelled = true;
      };
    },
    requeue: (name) => requeued.push(name),
  });
  const stored = { ready: '1/3', observedGeneration: 3 };
  const wanted: SummaryStatus = { readyNodes: 2, desiredNodes: 3, ready: '2/3', observedGeneration: 3, conditions: [] };
  assert.equal(pacer.admit('a', stored, wanted), true, 'the first write goes');
  now = 300;
  assert.equal(pacer.admit('a', stored, wanted), false, 'a second within 1 s waits');
  assert.equal(pacer.admit('a', stored, wanted), false);
  assert.deepEqual(
    timers.map((t) => t.at),
    [1000],
    'one timer, at the end of the interval',
  );
  now = 1000;
  timers[0]!.fn();
  assert.deepEqual(requeued, ['a']);
  assert.equal(pacer.admit('a', stored, wanted), true, 'due at the end of the interval');
  now = 1200;
  assert.equal(pacer.admit('a', stored, wanted), false);
  pacer.forget('a');
  assert.equal(timers[1]!.cancelled, true, "a deleted Relay's timer is cancelled");
  assert.equal(pacer.admit('a', stored, wanted), true, 'a Relay of that name again is new');
});
