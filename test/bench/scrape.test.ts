// The pure parts of the scrape benchmark: what counts as exposed on the node, Prometheus's answers,
// the variant that undoes the TCP_NODELAY fix, and the figures with their goals.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parse } from 'yaml';
import { nodeArgv, resolveRelay, sidecarArgv } from '../../relay/index.js';
import { hackArgv, prometheusConfig, schedulerArgv, versionLine } from '../../bench/scrape/parts.js';
import { parseDialerConnections, parseQueryResult } from '../../bench/scrape/prometheus.js';
import { SCRAPE_VARIANTS, scrapeFigures, type PathStats } from '../../bench/scrape/run.js';
import { exposedListeners, isLoopback, parseListeners } from '../../bench/scrape/sockets.js';

test('isLoopback: 127/8 and ::1 in the forms ss prints; anything else is exposed', () => {
  const cases: [string, boolean][] = [
    ['127.0.0.1:10259', true],
    ['127.0.0.53%lo:53', true],
    ['[::1]:9090', true],
    ['[::ffff:127.0.0.1]:80', true],
    ['0.0.0.0:10259', false],
    ['*:10259', false],
    ['[::]:10259', false],
    ['10.0.0.5:80', false],
    ['[fe80::1%eth0]:22', false],
  ];
  for (const [local, want] of cases) assert.equal(isLoopback(local), want, local);
});

test('exposedListeners keeps the non-loopback sockets of the given pids only', () => {
  const ss = [
    'tcp LISTEN 0 4096 127.0.0.1:10259 0.0.0.0:* users:(("kube-scheduler",pid=10,fd=3))',
    'tcp LISTEN 0 4096 0.0.0.0:31000 0.0.0.0:* users:(("haproxy",pid=20,fd=7),("haproxy",pid=21,fd=7))',
    'tcp LISTEN 0 5 *:31001 *:* users:(("socat",pid=30,fd=5))',
    'udp UNCONN 0 0 0.0.0.0:5353 0.0.0.0:*',
    '',
  ].join('\n');
  const all = parseListeners(ss);
  assert.equal(all.length, 4);
  assert.deepEqual(all[1]?.pids, [20, 21]);
  assert.deepEqual(
    exposedListeners(all, new Set([21])).map((l) => l.local),
    ['0.0.0.0:31000'],
  );
  assert.deepEqual(
    exposedListeners(all, new Set([30])).map((l) => l.local),
    ['*:31001'],
  );
  assert.deepEqual(exposedListeners(all, new Set([10])), [], 'loopback is not exposed');
  assert.deepEqual(exposedListeners(all, new Set([99])), [], 'a socket without an owner belongs to no path');
});

test("parseQueryResult reads vectors and matrices, and throws with Prometheus's error", () => {
  const matrix = JSON.stringify({
    status: 'success',
    data: {
      resultType: 'matrix',
      result: [
        {
          metric: { job: 'relay' },
          values: [
            [1, '0.012'],
            [2, '0.011'],
          ],
        },
      ],
    },
  });
  assert.deepEqual(parseQueryResult(matrix), [
    {
      labels: { job: 'relay' },
      values: [
        [1, 0.012],
        [2, 0.011],
      ],
    },
  ]);
  const vector = JSON.stringify({
    status: 'success',
    data: { resultType: 'vector', result: [{ metric: {}, value: [5, '1'] }] },
  });
  assert.deepEqual(parseQueryResult(vector)[0]?.values, [[5, 1]]);
  assert.throws(
    () => parseQueryResult(JSON.stringify({ status: 'error', error: 'parse error at char 3' })),
    /parse error at char 3/,
  );
});

test('parseDialerConnections: the connections each scrape job opened', () => {
  const text =
    '# HELP x\nnet_conntrack_dialer_conn_established_total{dialer_name="direct"} 3\nnet_conntrack_dialer_conn_established_total{dialer_name="relay"} 41\nnet_conntrack_dialer_conn_failed_total{dialer_name="relay",reason="refused"} 2\n';
  assert.deepEqual(parseDialerConnections(text), { direct: 3, relay: 41 });
});

test("variants: no-nodelay undoes exactly the TCP_NODELAY fix on both halves; the hack variants add nodelay or the relay's buffer", () => {
  const r = resolveRelay({
    apiVersion: 'socat.io/v1alpha1',
    kind: 'Relay',
    metadata: { name: 'ks' },
    spec: { target: { host: '127.0.0.1', port: 10259 }, consumers: { namespaces: ['m'] } },
  });
  const v = SCRAPE_VARIANTS['no-nodelay']!;
  const node = nodeArgv(r, { socketDir: '/run/socat-relay' });
  const side = sidecarArgv(r);
  assert.ok(
    node.some((a) => a.endsWith(',nodelay')) && side.some((a) => a.includes(',nodelay')),
    'the shipped argv has nodelay on both halves',
  );
  assert.ok(v.relay);
  assert.deepEqual(
    v.relay.node(node),
    node.map((a) => a.replace(',nodelay', '')),
  );
  assert.deepEqual(
    v.relay.sidecar(side),
    side.map((a) => a.replace(',nodelay', '')),
  );
  assert.ok(![...v.relay.node(node), ...v.relay.sidecar(side)].some((a) => a.includes('nodelay')));
  const hack = hackArgv({ listenPort: 1, targetPort: 2 });
  assert.deepEqual(SCRAPE_VARIANTS['hack-nodelay']?.hack?.(hack), [
    'TCP-LISTEN:1,fork,reuseaddr,nodelay',
    'TCP:127.0.0.1:2,nodelay',
  ]);
  assert.deepEqual(SCRAPE_VARIANTS['hack-b128k']?.hack?.(hack), ['-b131072', ...hack]);
});

test('prometheusConfig: one HTTPS job per path with the bearer token file; the scheduler stays on loopback', () => {
  const cfg = parse(prometheusConfig([{ name: 'relay', target: '127.0.0.1:10259', tokenFile: '/t' }], 10)) as {
    global: Record<string, string>;
    scrape_configs: Record<string, unknown>[];
  };
  assert.equal(cfg.global.scrape_interval, '10s');
  assert.deepEqual(cfg.scrape_configs[0], {
    job_name: 'relay',
    scheme: 'https',
    tls_config: { insecure_skip_verify: true },
    authorization: { credentials_file: '/t' },
    static_configs: [{ targets: ['127.0.0.1:10259'] }],
  });
  assert.ok(schedulerArgv({ kubeconfig: '/k', port: 1, certDir: '/c' }).includes('--bind-address=127.0.0.1'));
  assert.equal(
    versionLine('prometheus, version 2.42.0+ds (branch: debian/sid)\n  build user: x'),
    'prometheus, version 2.42.0+ds (branch: debian/sid)',
  );
});

const stats = (ms: number[], o: Partial<PathStats> = {}): PathStats => ({
  durationsMs: ms,
  up: ms.map(() => 1),
  samples: ms.map(() => 900),
  cpuMs: 10,
  connections: 0,
  rssBytes: 1 << 20,
  exposed: 0,
  freshMs: ms,
  ...o,
});

test('scrapeFigures judges the goals: relay p50 ≤ 1.5× direct, CPU ≤ haproxy and ≤ 2× hack, nothing exposed, up, samples within 1 %', () => {
  const params = {
    seconds: 60,
    intervalSeconds: 10,
    freshConnections: 3,
    variants: [],
    window: 60,
    recorded: 'v',
    agentRssBytes: 50 << 20,
  };
  const f = scrapeFigures(
    {
      direct: stats([10, 10, 10], { exposed: null }),
      haproxy: stats([11, 11, 11], { cpuMs: 30, exposed: 1 }),
      hack: stats([12, 12, 12], { cpuMs: 24, exposed: 1 }),
      relay: stats([14, 16, 60], { cpuMs: 45, up: [1, 1, 0], samples: [892, 892, 892] }),
    },
    params,
  );
  const met = (name: string) => f.find((x) => x.name === name)?.met;
  assert.equal(met('scrape p50, relay / direct'), false, '16 > 1.5 × 10');
  assert.equal(met('CPU per scrape, relay / haproxy'), false, '15 > 10 ms');
  assert.equal(met('CPU per scrape, relay / hack'), true, '15 ≤ 2 × 8 ms');
  assert.equal(met('up, relay'), false, 'one scrape failed');
  assert.equal(met('samples scraped, relay vs direct'), true, '0.9 % apart');
  assert.equal(met("listening sockets on the node's network (not loopback), relay"), true);
  const ok = scrapeFigures(
    {
      direct: stats([10, 10, 10]),
      haproxy: stats([11], { cpuMs: 30 }),
      hack: stats([12], { cpuMs: 30 }),
      relay: stats([12, 14, 15], { samples: [880, 880, 880] }),
    },
    params,
  );
  assert.equal(ok.find((x) => x.name === 'scrape p50, relay / direct')?.met, true);
  assert.equal(ok.find((x) => x.name === 'samples scraped, relay vs direct')?.met, false, '2.2 % apart');
});
