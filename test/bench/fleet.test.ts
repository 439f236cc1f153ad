// The fleet benchmark's arithmetic: the API server's /metrics read right (labels with escapes and
// commas, histograms' _sum/_count), watch events counted across chunk boundaries, rates over a window,
// and the goals' judgements (flat within 20 %, linear through the smallest and largest N). A real
// counting proxy in front of a real HTTP server counts a watch's events and bytes as the client got them.
import assert from 'node:assert/strict';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { makeWebhookCerts } from '../../certs/selfsigned.js';
import {
  WatchStreamCounter,
  flatWithin,
  growthExponent,
  parsePrometheus,
  ratePerSecond,
  spreadOffsetMs,
  total,
  verbOf,
} from '../../bench/fleet/measure.js';
import { startCountingProxy } from '../../bench/fleet/proxy.js';
import { apiserverRates, fleetFigures, traffic, type Point } from '../../bench/fleet/run.js';

const METRICS = `# HELP apiserver_watch_events_total [ALPHA] Number of events sent in watch clients
# TYPE apiserver_watch_events_total counter
apiserver_watch_events_total{group="coordination.k8s.io",resource="leases",version="v1"} 120
apiserver_watch_events_total{group="",resource="nodes",version="v1"} 30
apiserver_watch_events_sizes_sum{group="",resource="nodes",version="v1"} 61440
apiserver_request_total{code="200",component="apiserver",dry_run="",group="",resource="nodes",scope="resource",subresource="status",verb="PATCH",version="v1"} 1000
apiserver_request_total{code="201",component="apiserver",dry_run="",group="coordination.k8s.io",resource="leases",scope="resource",subresource="",verb="POST",version="v1"} 7
etcd_request_duration_seconds_sum{group="",operation="update",type="nodes"} 2.5
etcd_request_duration_seconds_count{group="",operation="update",type="nodes"} 1000
weird_label{msg="a \\"quoted\\", comma}"} 3
not a metric line at all {
process_start_time_seconds 1.7e+09
`;

test('parsePrometheus: labels (escaped quotes, commas and braces in values), plain samples, junk skipped', () => {
  const s = parsePrometheus(METRICS);
  assert.equal(total(s, 'apiserver_watch_events_total'), 150);
  assert.equal(
    total(s, 'apiserver_watch_events_total', (l) => l.resource === 'leases'),
    120,
  );
  assert.deepEqual(s.find((x) => x.name === 'weird_label')?.labels, { msg: 'a "quoted", comma}' });
  assert.equal(total(s, 'process_start_time_seconds'), 1.7e9);
  assert.equal(
    s.some((x) => x.name === 'not'),
    false,
  );
});

test('apiserverRates: deltas over the window; etcd mean from the histogram sum and count deltas', () => {
  const before = parsePrometheus(METRICS);
  const after = parsePrometheus(
    METRICS.replace('} 120', '} 420')
      .replace('} 61440', '} 122880')
      .replace('} 1000\napiserver_request_total', '} 1600\napiserver_request_total')
      .replace(
        'etcd_request_duration_seconds_sum{group="",operation="update",type="nodes"} 2.5',
        'etcd_request_duration_seconds_sum{group="",operation="update",type="nodes"} 3.1',
      )
      .replace(
        'etcd_request_duration_seconds_count{group="",operation="update",type="nodes"} 1000',
        'etcd_request_duration_seconds_count{group="",operation="update",type="nodes"} 1300',
      ),
  );
  const r = apiserverRates(before, after, 60);
  assert.equal(r.watchEventsPerSecond, 5);
  assert.equal(r.relayWatchEventsPerSecond, 0, 'no Relay events in either scrape');
  assert.equal(r.watchBytesPerSecond, 1024);
  assert.equal(r.requestsPerSecond, 10);
  assert.equal(Math.round(r.etcdMeanMs * 1000) / 1000, 2);
});

test('ratePerSecond: a counter reset (a restart) counts from zero; no window is NaN', () => {
  assert.equal(ratePerSecond(100, 160, 30), 2);
  assert.equal(ratePerSecond(100, 30, 30), 1);
  assert.ok(Number.isNaN(ratePerSecond(0, 10, 0)));
});

test('WatchStreamCounter: one event per line, split anywhere; bookmarks apart; blank lines are not events', () => {
  const stream =
    '{"type":"ADDED","object":{"kind":"Lease","metadata":{"name":"a"}}}\n' +
    '\n' +
    '{"type":"BOOKMARK","object":{"kind":"Lease","metadata":{"resourceVersion":"9"}}}\n' +
    '{"type":"MODIFIED","object":{"kind":"Lease","metadata":{"name":"a"},"spec":{"holderIdentity":"' +
    'x'.repeat(5000) +
    '"}}}\n';
  for (const size of [1, 3, 7, 64, 4096, stream.length]) {
    const c = new WatchStreamCounter();
    for (let i = 0; i < stream.length; i += size) c.feed(Buffer.from(stream.slice(i, i + size)));
    assert.deepEqual([c.events, c.bookmarks], [3, 1], `chunks of ${size}`);
  }
  const partial = new WatchStreamCounter();
  partial.feed('{"type":"ADDED"');
  assert.equal(partial.events, 0, 'a line is an event once it ends');
});

test('verbOf: a GET with watch=true or watch=1 is a WATCH; other methods are themselves', () => {
  assert.equal(verbOf('GET', '/apis/socat.io/v1alpha1/relays?watch=true&resourceVersion=5'), 'WATCH');
  assert.equal(verbOf('get', '/api/v1/nodes?fieldSelector=metadata.name%3Dx&watch=1'), 'WATCH');
  assert.equal(verbOf('GET', '/api/v1/nodes?watch=false'), 'GET');
  assert.equal(verbOf('GET', '/api/v1/nodes'), 'GET');
  assert.equal(verbOf('PATCH', '/apis/socat.io/v1alpha1/relaynodes/n?watch=true'), 'PATCH');
});

test('flatWithin and growthExponent: the goals judged', () => {
  assert.equal(flatWithin(0.05, 0.059, 0.2), true);
  assert.equal(flatWithin(0.05, 0.061, 0.2), false);
  assert.equal(flatWithin(0, 0, 0.2), true);
  assert.equal(flatWithin(0, 0.01, 0.2), false);
  const linear = growthExponent([
    { n: 100, value: 10 },
    { n: 1000, value: 100 },
    { n: 5000, value: 500 },
  ]);
  assert.equal(Math.round(linear * 1000) / 1000, 1);
  const quadratic = growthExponent([
    { n: 100, value: 1 },
    { n: 5000, value: 2500 },
  ]);
  assert.equal(Math.round(quadratic * 1000) / 1000, 2);
  assert.ok(Number.isNaN(growthExponent([{ n: 100, value: 1 }])));
  assert.ok(
    Number.isNaN(
      growthExponent([
        { n: 100, value: 0 },
        { n: 200, value: 0 },
      ]),
    ),
  );
});

test('spreadOffsetMs: n writers spread over the period, none at or past its end', () => {
  const offs = Array.from({ length: 7 }, (_, i) => spreadOffsetMs(i, 7, 10_000));
  assert.deepEqual(offs, [0, 1428, 2857, 4285, 5714, 7142, 8571]);
  assert.equal(spreadOffsetMs(3, 0, 10_000), 0);
});

function point(design: 'new' | 'old', n: number, nodeEvents: number, servingEvents: number): Point {
  const t = (e: number) => ({ eventsPerSecond: e, bytesPerSecond: e * 1000, requestsPerSecond: 0.1 });
  return {
    design,
    n,
    nodes: [t(nodeEvents), t(nodeEvents)],
    serving: t(servingEvents),
    apiserver: { watchEventsPerSecond: n, watchBytesPerSecond: n * 100, requestsPerSecond: n / 5, etcdMeanMs: 2 },
    relayBytes: design === 'new' ? 3000 : n * 400,
    relayNodeBytes: 1500,
    footprint: { controllerRss: 90 * 2 ** 20, agentRss: 50 * 2 ** 20, socatRss: 0, controllerMc: 1, agentMc: 0.5 },
    servingRss: 150 * 2 ** 20,
    servingMc: 20,
    rollout: { requests: 60, bytes: 4096, peakPerSecond: 30, seconds: 30, readySeconds: 5 },
    simulator: { writesPerSecond: n / 5, failed: 0, late: 0, lastError: '' },
    settledAfterSeconds: 10,
  };
}

test('fleetFigures: goals on the new design at the largest N, the old design as the baseline, flatness and growth judged', () => {
  const figs = fleetFigures(
    [
      point('old', 100, 10, 10),
      point('new', 100, 0.02, 10),
      point('new', 5000, 0.021, 500),
      point('old', 5000, 500, 500),
    ],
    3,
  );
  const by = (name: string) => {
    const f = figs.find((x) => x.name === name);
    assert.ok(f, `figure ${name}`);
    return f;
  };
  const e5000 = by('now N=5000: node controller watch events');
  assert.deepEqual([e5000.value, e5000.baseline, e5000.goal, e5000.met], [0.021, 500, '<= 0.1 events/s', true]);
  assert.equal(
    by('now N=100: node controller watch events').goal,
    null,
    'the 0.1 events/s goal is stated at the largest N',
  );
  assert.equal(by('now N=5000: node controller received').met, true, '0.021 events/s × 1000 B = 21 B/s ≤ 1 KiB/s');
  assert.equal(by('node controller events/s, N=5000 vs N=100: |ratio − 1|').met, true);
  const k = by('elected controller events/s ∝ N^k: k');
  assert.equal(k.value, 1);
  assert.equal(k.met, true);
  assert.equal(by('now N=5000: Relay stored size').met, true);
  assert.equal(by('before N=5000: Relay stored size').goal, null, 'the old design carries no goals');
  assert.equal(by('worker footprint RSS (controller + agent), N=5000').value, 140);
  assert.equal(by('worker footprint RSS (controller + agent), N=5000').met, false);
  assert.equal(by('worker footprint CPU (controller + agent), N=5000').met, true);
});

test('traffic: per-second rates from two proxy counts', () => {
  const a = { requests: 10, byVerb: {}, bytesIn: 1000, bytesOut: 0, watchEvents: 5, bookmarks: 0, openWatches: 3 };
  const b = { ...a, requests: 16, bytesIn: 7000, watchEvents: 11 };
  assert.deepEqual(traffic(a, { ...b, bookmarks: 3 }, 60), {
    eventsPerSecond: 0.1,
    bookmarksPerSecond: 0.05,
    bytesPerSecond: 100,
    requestsPerSecond: 0.1,
  });
});

test('the counting proxy: a client behind it receives the watch unchanged; its events, bytes and requests are counted', async () => {
  const certs = await makeWebhookCerts({ extraHosts: ['127.0.0.1'] });
  const events = [
    '{"type":"ADDED","object":{"metadata":{"name":"a"}}}\n',
    '{"type":"MODIFIED","object":{"metadata":{"name":"a"}}}\n',
    '{"type":"BOOKMARK","object":{"metadata":{"resourceVersion":"3"}}}\n',
  ];
  const seen: { url: string; encoding: string | undefined }[] = [];
  const upstream = https.createServer({ cert: certs.serving.cert, key: certs.serving.key }, (req, res) => {
    seen.push({ url: req.url ?? '', encoding: req.headers['accept-encoding'] });
    if (req.url?.includes('watch=true')) {
      res.writeHead(200, { 'content-type': 'application/json' });
      // Written in pieces that split the lines, as a stream over TCP may arrive.
      const all = events.join('');
      res.write(all.slice(0, 20));
      setTimeout(() => res.end(all.slice(20)), 50);
    } else {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{"kind":"Status"}');
    }
  });
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
  const port = (upstream.address() as AddressInfo).port;
  const proxy = await startCountingProxy({
    url: `https://127.0.0.1:${port}`,
    ca: certs.ca.cert,
    cert: certs.serving.cert,
    key: certs.serving.key,
  });
  const get = (p: string) =>
    new Promise<string>((resolve, reject) => {
      http
        .get({ host: '127.0.0.1', port: proxy.port, path: p, headers: { 'accept-encoding': 'gzip' } }, (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
        })
        .on('error', reject);
    });
  try {
    assert.equal(await get('/apis/socat.io/v1alpha1/relays?watch=true'), events.join(''));
    assert.equal(await get('/api/v1/nodes/x'), '{"kind":"Status"}');
    const c = proxy.counts();
    assert.equal(c.requests, 2);
    assert.deepEqual(c.byVerb, { WATCH: 1, GET: 1 });
    assert.equal(c.watchEvents, 3);
    assert.equal(c.bookmarks, 1);
    assert.equal(c.bytesIn, Buffer.byteLength(events.join('')) + '{"kind":"Status"}'.length);
    assert.equal(seen[0]?.encoding, undefined, 'Accept-Encoding is dropped: the bytes counted are the bodies');
  } finally {
    await proxy.close();
    upstream.close();
  }
});
