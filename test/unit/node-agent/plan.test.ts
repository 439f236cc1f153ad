// The agent's pure decisions: plan(), restart backoff, interpreting the config folder, the status file.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { plan, type Action } from '../../../node-agent/plan.js';
import { Backoff } from '../../../lib/backoff.js';
import { RESTART_BACKOFF } from '../../../node-agent/supervisor.js';
import { ConfigMemo, interpretConfig } from '../../../node-contract/index.js';
import { buildAgentStatus } from '../../../node-agent/status.js';
import { parseAgentStatus, StatusParseError, type AgentStatus } from '../../../node-contract/index.js';
import { orphanPids } from '../../../node-agent/orphans.js';

const cmd = (...argv: string[]) => ({ argv });
const m = (o: Record<string, string[]>) => new Map(Object.entries(o).map(([k, v]) => [k, cmd(...v)]));

const planCases: {
  name: string;
  wanted: Record<string, string[]>;
  running: Record<string, string[]>;
  want: Action[];
}[] = [
  { name: 'nothing wanted, nothing running: no action', wanted: {}, running: {}, want: [] },
  {
    name: 'a new relay is started',
    wanted: { a: ['x'] },
    running: {},
    want: [{ type: 'start', name: 'a', argv: ['x'] }],
  },
  { name: 'a removed relay is stopped', wanted: {}, running: { a: ['x'] }, want: [{ type: 'stop', name: 'a' }] },
  { name: 'an unchanged relay is left alone', wanted: { a: ['x', 'y'] }, running: { a: ['x', 'y'] }, want: [] },
  {
    name: 'a changed relay is restarted, the unchanged one is not',
    wanted: { a: ['x', 'z'], b: ['b'] },
    running: { a: ['x', 'y'], b: ['b'] },
    want: [{ type: 'restart', name: 'a', argv: ['x', 'z'] }],
  },
  {
    name: 'an argv that only grew is a change',
    wanted: { a: ['x', 'y'] },
    running: { a: ['x'] },
    want: [{ type: 'restart', name: 'a', argv: ['x', 'y'] }],
  },
  {
    name: 'stops come first, then starts and restarts by name',
    wanted: { c: ['c'], a: ['a2'] },
    running: { a: ['a1'], b: ['b'] },
    want: [
      { type: 'stop', name: 'b' },
      { type: 'restart', name: 'a', argv: ['a2'] },
      { type: 'start', name: 'c', argv: ['c'] },
    ],
  },
];
for (const c of planCases) {
  test(`plan: ${c.name}`, () => {
    assert.deepEqual(plan(m(c.wanted), m(c.running)), c.want);
  });
}

test('restart backoff: delays double from 200 ms and stop at 30 s', () => {
  const b = new Backoff(RESTART_BACKOFF);
  assert.deepEqual(
    [1, 2, 3, 4, 5].map(() => b.failAfterRun(50)),
    [200, 400, 800, 1600, 3200],
  );
  for (let i = 0; i < 20; i++) b.failAfterRun(50);
  assert.equal(b.failAfterRun(50), 30_000);
});

test('restart backoff: a quick exit counts one more failure, a process that ran 10 s starts over at 1', () => {
  const b = new Backoff(RESTART_BACKOFF);
  b.failAfterRun(50);
  b.failAfterRun(50);
  b.failAfterRun(50);
  assert.equal(b.failAfterRun(9_999), 1600);
  assert.equal(b.failures, 4);
  assert.equal(b.failAfterRun(10_000), 200);
  assert.equal(b.failures, 1);
});

const relayYaml = (name: string, port = 8080, extra = '') => `apiVersion: socat.io/v1alpha1
kind: Relay
metadata:
  name: ${name}
  generation: 3
spec:
  target: {host: 127.0.0.1, port: ${port}}
  consumers: {namespaces: [default]}
${extra}`;

test('config: valid files become wanted relays with their file and generation', () => {
  const s = interpretConfig([
    { name: 'a.yaml', text: relayYaml('a') },
    {
      name: 'b.json',
      text: JSON.stringify({
        apiVersion: 'socat.io/v1alpha1',
        kind: 'Relay',
        metadata: { name: 'b' },
        spec: { protocol: 'UDP', target: { host: 'localhost', port: 5514 }, consumers: { namespaces: ['logs'] } },
      }),
    },
  ]);
  assert.deepEqual([...s.wanted.keys()], ['a', 'b']);
  assert.equal(s.wanted.get('a')!.file, 'a.yaml');
  assert.equal(s.wanted.get('a')!.generation, 3);
  assert.equal(s.wanted.get('b')!.resolved.targetHost, '127.0.0.1');
  assert.deepEqual(s.errors, []);
  assert.deepEqual(s.warnings, []);
});

const badFiles: { name: string; file: string; text: string; error: RegExp; relay?: string }[] = [
  { name: 'corrupt YAML', file: 'x.yaml', text: 'apiVersion: [unclosed\n', error: /x\.yaml/ },
  { name: 'an empty file', file: 'e.yaml', text: '', error: /holds no relay/ },
  {
    name: 'a non-loopback target',
    file: 'meta.yaml',
    text: relayYaml('meta').replace('127.0.0.1', '169.254.169.254'),
    error: /spec\.target\.host/,
    relay: 'meta',
  },
  { name: 'a port out of range', file: 'p.yaml', text: relayYaml('p', 70000), error: /spec\.target\.port/, relay: 'p' },
  { name: 'JSON that is not an object', file: 'n.json', text: '42', error: /must be an object/ },
];
for (const c of badFiles) {
  test(`config: ${c.name} is reported with its file and skipped, the valid file still runs`, () => {
    const s = interpretConfig([
      { name: 'ok.yaml', text: relayYaml('ok') },
      { name: c.file, text: c.text },
    ]);
    assert.deepEqual([...s.wanted.keys()], ['ok']);
    assert.equal(s.errors.length, 1);
    assert.equal(s.errors[0]!.file, c.file);
    assert.match(s.errors[0]!.error, c.error);
    assert.equal(s.errors[0]!.relay, c.relay);
  });
}

test('config: two files naming one relay: the first by name wins, the second is an error', () => {
  const s = interpretConfig([
    { name: 'z-copy.yaml', text: relayYaml('a', 9000) },
    { name: 'a.yaml', text: relayYaml('a', 8080) },
  ]);
  assert.equal(s.wanted.get('a')!.resolved.targetPort, 8080);
  assert.deepEqual(
    s.errors.map((e) => [e.file, e.relay]),
    [['z-copy.yaml', 'a']],
  );
  assert.match(s.errors[0]!.error, /already defined in a\.yaml/);
});

test('config: a file not named after its relay runs, with a warning', () => {
  const s = interpretConfig([{ name: 'scheduler.yaml', text: relayYaml('kube-scheduler') }]);
  assert.deepEqual([...s.wanted.keys()], ['kube-scheduler']);
  assert.match(s.warnings[0]!.message, /name the file kube-scheduler\.yaml/);
});

test('config: hidden files (temp files of atomic writes) and other extensions are ignored', () => {
  const s = interpretConfig([
    { name: '.a.json.1234.tmp', text: '{' },
    { name: '.b.yaml', text: relayYaml('b') },
    { name: 'README.md', text: '#' },
    { name: 'c.yml', text: relayYaml('c') },
  ]);
  assert.deepEqual([...s.wanted.keys()], ['c']);
  assert.deepEqual(s.errors, []);
});

test('config: a kind: List file holds several relays', () => {
  const list = {
    kind: 'List',
    items: [
      JSON.parse(
        JSON.stringify({
          apiVersion: 'socat.io/v1alpha1',
          kind: 'Relay',
          metadata: { name: 'a' },
          spec: { target: { host: '127.0.0.1', port: 2001 }, consumers: { namespaces: ['x'] } },
        }),
      ),
      {
        apiVersion: 'socat.io/v1alpha1',
        kind: 'Relay',
        metadata: { name: 'b' },
        spec: { target: { host: '127.0.0.1', port: 2002 }, consumers: { namespaces: ['x'] } },
      },
    ],
  };
  const s = interpretConfig([{ name: 'all.json', text: JSON.stringify(list) }]);
  assert.deepEqual([...s.wanted.keys()], ['a', 'b']);
  assert.deepEqual(s.warnings, []);
});

test('with a memo, a pass reads only the files whose text changed, and means the same as without one', () => {
  const memo = new ConfigMemo();
  const files = [
    { name: 'a.yaml', text: relayYaml('a') },
    { name: 'b.yaml', text: relayYaml('b') },
    { name: 'bad.yaml', text: '[' },
    {
      name: 'many.json',
      text: JSON.stringify({
        apiVersion: 'socat.io/v1alpha1',
        kind: 'Relay',
        metadata: { name: 'many' },
        spec: { target: { host: '127.0.0.1', port: 80 }, consumers: { namespaces: Array(5000).fill('A') } },
      }),
    },
  ];
  const first = interpretConfig(files, memo);
  assert.deepEqual(first, interpretConfig(files), 'the same meaning as a pass without memo');
  const second = interpretConfig(
    files.map((f) => ({ ...f })),
    memo,
  );
  assert.deepEqual(second, first);
  // Unchanged text: the very same resolved objects, i.e. not parsed or validated again.
  assert.equal(second.wanted.get('a')!.resolved, first.wanted.get('a')!.resolved);
  assert.equal(second.wanted.get('b')!.resolved, first.wanted.get('b')!.resolved);
  // b's text changes, a is removed: b is read again, a forgotten.
  const third = interpretConfig([{ name: 'b.yaml', text: relayYaml('b', 9090) }, files[2]!, files[3]!], memo);
  assert.notEqual(third.wanted.get('b')!.resolved, first.wanted.get('b')!.resolved);
  assert.equal(third.wanted.get('b')!.resolved.targetPort, 9090);
  assert.deepEqual([...third.wanted.keys()], ['b']);
  assert.equal(memo.size, 3, 'a.yaml forgotten');
  assert.deepEqual(
    third.errors.map((e) => e.file),
    ['bad.yaml', 'many.json'],
  );
});

test('status: built from processes and config, and parsed back unchanged', () => {
  const config = interpretConfig([
    { name: 'a.yaml', text: relayYaml('a') },
    { name: 'bad.yaml', text: '[' },
  ]);
  const st = buildAgentStatus({
    agent: { pid: 1, startedAt: '2026-01-01T00:00:00.000Z', configDir: '/c', socketDir: '/s' },
    now: '2026-01-01T00:00:01.000Z',
    config,
    processes: [
      {
        name: 'a',
        argv: [],
        running: true,
        pid: 42,
        restarts: 2,
        since: '2026-01-01T00:00:00.500Z',
        connections: 7,
        lastError: 'boom',
      },
    ],
    socketOf: (r) => `/s/${r}/socket`,
  });
  assert.deepEqual(st.relays.a, {
    running: true,
    pid: 42,
    restarts: 2,
    lastError: 'boom',
    since: '2026-01-01T00:00:00.500Z',
    file: 'a.yaml',
    protocol: 'TCP',
    generation: 3,
    socket: '/s/a/socket',
    connections: 7,
  });
  assert.deepEqual(Object.keys(st.files), ['bad.yaml']);
  assert.deepEqual(parseAgentStatus(JSON.stringify(st)), st);
});

const badStatus: [string, string][] = [
  ['half-written JSON', '{"version":1,"agent":{"pid":1},"rel'],
  ['an empty file', ''],
  ['JSON of the wrong shape', '{"hello":"world"}'],
  ['a relay entry without running', '{"version":1,"agent":{},"relays":{"a":{"pid":3}}}'],
];
for (const [name, text] of badStatus) {
  test(`status: ${name} is a StatusParseError`, () => {
    assert.throws(() => parseAgentStatus(text), StatusParseError);
  });
}

const previous: AgentStatus = {
  version: 1,
  agent: { pid: 10, startedAt: '', updatedAt: '', configDir: '/c', socketDir: '/s' },
  relays: {
    a: { running: true, pid: 101, restarts: 0, since: '', socket: '/s/a/socket' },
    b: { running: true, pid: 102, restarts: 0, since: '', socket: '/s/b/socket' },
    c: { running: true, pid: 103, restarts: 0, since: '', socket: '/s/c/socket' },
    d: { running: false, pid: 104, restarts: 3, since: '', socket: '/s/d/socket' },
    e: { running: true, pid: 105, restarts: 0, since: '', socket: '/s/e/socket' },
  },
  files: {},
  warnings: [],
};
const procs: Record<number, string[]> = {
  101: ['/usr/bin/socat', '-d', '-d', '-b131072', 'UNIX-LISTEN:/s/a/socket,fork,unlink-early', 'TCP4:127.0.0.1:1'], // still ours
  102: ['/usr/bin/socat', '-u', 'UNIX-RECV:/s/b/socket,unlink-early', 'UDP4-SENDTO:127.0.0.1:2'], // still ours (UDP)
  103: ['/usr/bin/python3', 'server.py'], // pid recycled by something else
  104: ['/usr/bin/socat', 'UNIX-LISTEN:/s/d/socket', 'TCP4:127.0.0.1:4'], // was not running per the status
  105: ['/usr/bin/socat', 'UNIX-LISTEN:/s/other/socket', 'TCP4:127.0.0.1:5'], // socat, another socket
};
test('orphans: only pids still running socat on the same socket are stopped', () => {
  assert.deepEqual(
    orphanPids(previous, (p) => procs[p], 999),
    [101, 102],
  );
});
test("orphans: nothing when there is no previous status, or it is this very process's", () => {
  assert.deepEqual(
    orphanPids(undefined, (p) => procs[p], 999),
    [],
  );
  assert.deepEqual(
    orphanPids(previous, (p) => procs[p], 10),
    [],
  );
});
