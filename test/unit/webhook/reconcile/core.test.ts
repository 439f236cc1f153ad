// The reconcile's pure decisions: desired files, the folder diff, this node's entries and its RelayNode,
// and the Events. (The Relays' summary is the elected controller's: test/unit/webhook/cluster/summary.test.ts.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseDocuments, type Relay, type RelayNodeEntry } from '../../../../relay/index.js';
import { interpretConfig } from '../../../../node-contract/index.js';
import { parseAgentStatus, relayFileContent, stableJson } from '../../../../node-contract/index.js';
import { readConfigFiles, removeStaleTempFiles } from '../../../../webhook/reconcile/files.js';
import { desiredFiles, diffFiles, type CurrentFile } from '../../../../webhook/reconcile/desired.js';
import { agentView, nodeEntry, transitionEvent, type AgentView } from '../../../../webhook/reconcile/node-status.js';
import { relayNodeBody, relayNodeEntries } from '../../../../webhook/reconcile/relay-node.js';
import { REPO_ROOT } from '../../../harness/binaries.js';

const FIX = path.join(REPO_ROOT, 'test', 'fixtures', 'node');
const relays = (): Relay[] => parseDocuments(readFileSync(path.join(FIX, 'relays.yaml'), 'utf8')) as Relay[];
const byName = (n: string): Relay => structuredClone(relays().find((r) => r.metadata.name === n)!);
const CONTROL_PLANE = { 'node-role.kubernetes.io/control-plane': '', 'kubernetes.io/os': 'linux' };

const selectCases: { name: string; labels: Record<string, string>; files: string[] }[] = [
  {
    name: 'a control-plane node gets the scheduler and the all-nodes relay',
    labels: CONTROL_PLANE,
    files: ['kube-scheduler.json', 'syslog.json'],
  },
  { name: 'a worker gets only the all-nodes relay', labels: { 'kubernetes.io/os': 'linux' }, files: ['syslog.json'] },
  {
    name: 'a GPU worker also gets the GPU exporter',
    labels: { accelerator: 'nvidia' },
    files: ['gpu-exporter.json', 'syslog.json'],
  },
];
for (const c of selectCases) {
  test(`desiredFiles: ${c.name}; the invalid relay (metadata server) never gets a file`, () => {
    assert.deepEqual([...desiredFiles(relays(), c.labels).keys()].sort(), c.files);
  });
}

test('desiredFiles: the content is the Relay object the agent accepts, marked as managed, without status', () => {
  const r = byName('kube-scheduler');
  r.status = { readyNodes: 1 };
  r.metadata.resourceVersion = '77';
  const text = desiredFiles([r], CONTROL_PLANE).get('kube-scheduler.json')!;
  const obj = JSON.parse(text);
  assert.deepEqual(Object.keys(obj), ['apiVersion', 'kind', 'metadata', 'spec']);
  // The uid names the relay's folder on the node: a Relay re-created under the same name is a new relay.
  assert.deepEqual(obj.metadata, {
    annotations: { 'socat.io/managed-by': 'socat-relay-controller' },
    generation: 2,
    name: 'kube-scheduler',
    uid: r.metadata.uid,
  });
  assert.ok(r.metadata.uid);
  const s = interpretConfig([{ name: 'kube-scheduler.json', text }]);
  assert.deepEqual([...s.wanted.keys()], ['kube-scheduler']);
  assert.equal(s.wanted.get('kube-scheduler')!.generation, 2);
  assert.deepEqual(s.errors, []);
  assert.deepEqual(s.warnings, []);
});

test('desiredFiles: the same relay with keys in another order and other metadata gives identical bytes', () => {
  const a = byName('kube-scheduler');
  const b = JSON.parse(
    JSON.stringify({
      spec: {
        consumers: a.spec.consumers,
        nodeSelector: a.spec.nodeSelector,
        target: { port: 10259, host: '127.0.0.1' },
        protocol: 'TCP',
      },
      metadata: {
        resourceVersion: '9',
        name: 'kube-scheduler',
        uid: a.metadata.uid,
        generation: 2,
        labels: { x: 'y' },
      },
      kind: 'Relay',
      apiVersion: 'socat.io/v1alpha1',
    }),
  ) as Relay;
  assert.equal(relayFileContent(a), relayFileContent(b));
  // Another uid is another relay (re-created under the same name): other bytes, so the node is told.
  assert.notEqual(
    relayFileContent(a),
    relayFileContent({ ...b, metadata: { ...b.metadata, uid: '22222222-2222-2222-2222-222222222222' } }),
  );
  assert.equal(
    stableJson({ b: 1, a: [{ d: 1, c: 2 }] }),
    '{\n  "a": [\n    {\n      "c": 2,\n      "d": 1\n    }\n  ],\n  "b": 1\n}\n',
  );
});

const managed = (content: string): CurrentFile => ({ content, managed: true });
const admins = (content: string): CurrentFile => ({ content, managed: false });
const diffCases: {
  name: string;
  desired: Record<string, string>;
  current: Record<string, CurrentFile>;
  write: string[];
  remove: string[];
  blocked: string[];
}[] = [
  {
    name: 'a new relay is written',
    desired: { 'a.json': 'A' },
    current: {},
    write: ['a.json'],
    remove: [],
    blocked: [],
  },
  {
    name: 'an unchanged file is not rewritten',
    desired: { 'a.json': 'A' },
    current: { 'a.json': managed('A') },
    write: [],
    remove: [],
    blocked: [],
  },
  {
    name: 'a changed relay is rewritten',
    desired: { 'a.json': 'A2' },
    current: { 'a.json': managed('A') },
    write: ['a.json'],
    remove: [],
    blocked: [],
  },
  {
    name: 'a managed file no longer desired is removed',
    desired: {},
    current: { 'a.json': managed('A') },
    write: [],
    remove: ['a.json'],
    blocked: [],
  },
  {
    name: "an admin's file is never removed",
    desired: {},
    current: { 'mine.json': admins('M') },
    write: [],
    remove: [],
    blocked: [],
  },
  {
    name: "an admin's file with a desired name is not overwritten",
    desired: { 'a.json': 'A' },
    current: { 'a.json': admins('M') },
    write: [],
    remove: [],
    blocked: ['a.json'],
  },
];
for (const c of diffCases) {
  test(`diffFiles: ${c.name}`, () => {
    const d = diffFiles(new Map(Object.entries(c.desired)), new Map(Object.entries(c.current)));
    assert.deepEqual(
      d.write.map((w) => w.file),
      c.write,
    );
    assert.deepEqual(d.remove, c.remove);
    assert.deepEqual(d.blocked, c.blocked);
  });
}

const running = parseAgentStatus(readFileSync(path.join(FIX, 'status-running.json'), 'utf8'));
const NOW = '2026-11-25T12:00:00.000Z';
const ok: AgentView = { kind: 'ok', status: running };
const entryCases: {
  name: string;
  relay: string;
  agent: AgentView;
  previous?: RelayNodeEntry;
  want: Partial<RelayNodeEntry>;
}[] = [
  {
    name: 'running in the agent: Running, ready, its restarts and generation',
    relay: 'kube-scheduler',
    agent: ok,
    want: { state: 'Running', ready: true, restarts: 0, observedGeneration: 2, lastTransitionTime: NOW },
  },
  {
    name: "not running: Failing with socat's last error",
    relay: 'syslog',
    agent: ok,
    want: {
      state: 'Failing',
      ready: false,
      restarts: 4,
      message: 'socat exited with code 1: bind(): Address already in use',
    },
  },
  {
    name: 'no status file: AgentMissing',
    relay: 'kube-scheduler',
    agent: { kind: 'missing', message: 'no agent status at /run/socat-relay/.agent/status.json' },
    want: { state: 'AgentMissing', ready: false, message: 'no agent status at /run/socat-relay/.agent/status.json' },
  },
  {
    name: 'a half-written status file: AgentMissing, saying so',
    relay: 'kube-scheduler',
    agent: { kind: 'unreadable', message: 'status file is not valid JSON' },
    want: { state: 'AgentMissing', ready: false, message: 'status file is not valid JSON' },
  },
  {
    name: "the agent reports the relay's file as invalid: Invalid",
    relay: 'gpu-exporter',
    agent: ok,
    want: { state: 'Invalid', message: 'admin-copy.yaml: spec.target.port: required' },
  },
  {
    name: 'the relay itself is invalid: Invalid naming the field',
    relay: 'metadata-server',
    agent: ok,
    want: { state: 'Invalid', ready: false },
  },
  {
    name: 'the agent still runs an older generation: Starting',
    relay: 'kube-scheduler',
    agent: {
      kind: 'ok',
      status: { ...running, relays: { 'kube-scheduler': { ...running.relays['kube-scheduler']!, generation: 1 } } },
    },
    want: { state: 'Starting', ready: false, message: 'the agent still runs generation 1 (waiting for 2)' },
  },
  {
    name: 'the agent has not picked the file up yet: Starting',
    relay: 'kube-scheduler',
    agent: { kind: 'ok', status: { ...running, relays: {} } },
    want: { state: 'Starting', message: 'waiting for the agent to start kube-scheduler.json' },
  },
  {
    name: 'an unchanged state keeps its lastTransitionTime',
    relay: 'kube-scheduler',
    agent: ok,
    previous: { name: 'kube-scheduler', ready: true, state: 'Running', lastTransitionTime: '2026-01-01T00:00:00.000Z' },
    want: { state: 'Running', lastTransitionTime: '2026-01-01T00:00:00.000Z' },
  },
  {
    name: 'a changed state gets a new lastTransitionTime',
    relay: 'syslog',
    agent: ok,
    previous: { name: 'syslog', ready: true, state: 'Running', lastTransitionTime: '2026-01-01T00:00:00.000Z' },
    want: { state: 'Failing', lastTransitionTime: NOW },
  },
  {
    name: 'the same name, another Relay (deleted and re-created: another uid): a new lastTransitionTime',
    relay: 'kube-scheduler',
    agent: ok,
    previous: {
      name: 'kube-scheduler',
      uid: 'an-older-uid',
      ready: true,
      state: 'Running',
      lastTransitionTime: '2026-01-01T00:00:00.000Z',
    },
    want: { state: 'Running', uid: '11111111-1111-1111-1111-111111111111', lastTransitionTime: NOW },
  },
];
for (const c of entryCases) {
  test(`nodeEntry: ${c.name}`, () => {
    const e = nodeEntry({
      relay: byName(c.relay),
      nodeName: 'node-a',
      agent: c.agent,
      now: NOW,
      ...(c.previous ? { previous: c.previous } : {}),
    });
    assert.equal(e.name, c.relay, 'keyed by the relay (the RelayNode is the node)');
    for (const [k, v] of Object.entries(c.want)) assert.deepEqual(e[k as keyof RelayNodeEntry], v, k);
    if (c.relay === 'metadata-server') assert.match(e.message ?? '', /spec\.target\.host/);
  });
}

const node = (
  name: string,
  ready: boolean,
  state: RelayNodeEntry['state'] = ready ? 'Running' : 'Failing',
): RelayNodeEntry => ({ name, ready, state });

test('relayNodeEntries: one entry per relay that selects the node (an invalid one where its raw selector matches), sorted; relayNodeBody counts them and names its owner', () => {
  const entries = relayNodeEntries({
    relays: relays(),
    nodeLabels: CONTROL_PLANE,
    nodeName: 'node-a',
    agent: ok,
    now: NOW,
    previous: new Map(),
  });
  assert.deepEqual(
    entries.map((e) => [e.name, e.state]),
    [
      ['kube-scheduler', 'Running'],
      ['metadata-server', 'Invalid'],
      ['syslog', 'Failing'],
    ],
  );
  const worker = relayNodeEntries({
    relays: relays(),
    nodeLabels: { 'kubernetes.io/os': 'linux' },
    nodeName: 'node-b',
    agent: ok,
    now: NOW,
    previous: new Map(),
  });
  assert.deepEqual(
    worker.map((e) => e.name),
    ['metadata-server', 'syslog'],
  );
  const body = relayNodeBody('node-a', 'uid-a', entries);
  assert.deepEqual(body.metadata.ownerReferences, [{ apiVersion: 'v1', kind: 'Node', name: 'node-a', uid: 'uid-a' }]);
  assert.deepEqual(
    [body.kind, body.metadata.name, body.status!.relayCount, body.status!.readyRelays, body.status!.ready],
    ['RelayNode', 'node-a', 3, 1, '1/3'],
  );
  assert.deepEqual(relayNodeBody('node-a', 'uid-a', []).status, {
    relays: [],
    relayCount: 0,
    readyRelays: 0,
    ready: '0/0',
  });
});

const eventCases: {
  name: string;
  from: RelayNodeEntry['state'] | undefined;
  to: RelayNodeEntry;
  want: { type: string; reason: string } | undefined;
}[] = [
  {
    name: 'Failing → Running: Normal RelayReady',
    from: 'Failing',
    to: node('n', true),
    want: { type: 'Normal', reason: 'RelayReady' },
  },
  {
    name: 'Running → Failing: Warning RelayFailing',
    from: 'Running',
    to: node('n', false),
    want: { type: 'Warning', reason: 'RelayFailing' },
  },
  {
    name: 'first report Running: RelayReady',
    from: undefined,
    to: node('n', true),
    want: { type: 'Normal', reason: 'RelayReady' },
  },
  {
    name: 'Running → AgentMissing: Warning',
    from: 'Running',
    to: node('n', false, 'AgentMissing'),
    want: { type: 'Warning', reason: 'RelayAgentMissing' },
  },
  { name: 'Running → Running: nothing', from: 'Running', to: node('n', true), want: undefined },
  {
    name: 'Running → Starting (a config change): nothing',
    from: 'Running',
    to: node('n', false, 'Starting'),
    want: undefined,
  },
];
for (const c of eventCases) {
  test(`transitionEvent: ${c.name}`, () => {
    const e = transitionEvent(c.from, c.to, 'node-a');
    assert.deepEqual(e && { type: e.type, reason: e.reason }, c.want);
    if (e) assert.match(e.message, /node-a/);
  });
}

test('a FIFO named like a managed file does not stall reading the folder, and is left alone', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'srrec-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  execFileSync('mkfifo', [path.join(dir, 'pipe.json')]);
  writeFileSync(path.join(dir, 'plain.json'), '{}');
  const files = await Promise.race([
    readConfigFiles(dir),
    new Promise<never>((_, reject) => setTimeout(() => reject(new Error('blocked for 5 s on a FIFO')), 5000).unref()),
  ]);
  assert.deepEqual(files.get('pipe.json'), { content: '', managed: false });
  assert.equal(files.get('plain.json')?.content, '{}');
});

test('temp files of interrupted writes are removed once old; a fresh one and other hidden files stay', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'srrec-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  for (const f of ['.a.json.0123abcd.tmp', '.b.json.deadbeef.tmp', '.keep-me', 'c.json'])
    writeFileSync(path.join(dir, f), 'x');
  const old = new Date(Date.now() - 120_000);
  utimesSync(path.join(dir, '.a.json.0123abcd.tmp'), old, old);
  const removed = await removeStaleTempFiles(dir, 60_000);
  assert.deepEqual(removed, ['.a.json.0123abcd.tmp']);
  assert.deepEqual(readdirSync(dir).sort(), ['.b.json.deadbeef.tmp', '.keep-me', 'c.json']);
});

describeAgentView();
function describeAgentView(): void {
  const status = (updatedAt: string, heartbeatSeconds?: number) =>
    JSON.stringify({
      version: 1,
      agent: {
        pid: 1,
        startedAt: updatedAt,
        updatedAt,
        configDir: '/c',
        socketDir: '/s',
        ...(heartbeatSeconds !== undefined ? { heartbeatSeconds } : {}),
      },
      relays: {},
      files: {},
      warnings: [],
    });
  const now = Date.parse('2026-11-25T12:00:00Z');
  const cases: [string, string, AgentView['kind'], RegExp?][] = [
    ['a fresh status (10 s old, heartbeat 30 s)', status('2026-11-25T11:59:50Z', 30), 'ok'],
    ['a status just inside three heartbeats and the margin (100 s old)', status('2026-11-25T11:58:20Z', 30), 'ok'],
    [
      "a dead agent's last report (10 min old, heartbeat 30 s)",
      status('2026-11-25T11:50:00Z', 30),
      'missing',
      /last updated 600 s ago .*heartbeat every 30 s.*is the node agent/,
    ],
    ['an old status from an agent without a heartbeat field', status('2026-11-25T11:00:00Z'), 'ok'],
    [
      'a half-written status',
      status('2026-11-25T11:59:50Z', 30).slice(0, 40),
      'unreadable',
      /\/s\/\.agent\/status\.json: status file is not valid JSON/,
    ],
  ];
  for (const [situation, text, kind, message] of cases) {
    test(`agentView: ${situation} → ${kind}`, () => {
      const v = agentView(text, '/s/.agent/status.json', now);
      assert.equal(v.kind, kind);
      if (message && v.kind !== 'ok') assert.match(v.message, message);
    });
  }
}
