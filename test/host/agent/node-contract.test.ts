// The node contract (node-contract/): the status file's schema round-trips through its own writer and
// parser with its version, its fields are the ones version 1 promises (a change must bump the
// version), the staleness rule's bounds, the relay file's annotations, the atomic write and the
// bounded read.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import {
  BoundedReadError,
  STATUS_VERSION,
  consumerNamespacesOf,
  formatAgentStatus,
  isConfigTempFileName,
  isManagedContent,
  parseAgentStatus,
  readRelayFile,
  relayFileContent,
  staleAgentStatusAge,
  writeFileAtomic,
  type AgentStatus,
} from '../../../node-contract/index.js';
import { buildAgentStatus } from '../../../node-agent/status.js';
import { interpretConfig } from '../../../node-contract/index.js';
import { readFileBounded, tempFileName } from '../../../lib/fs.js';
import type { Relay } from '../../../relay/index.js';

function fullStatus(): AgentStatus {
  const relay: Relay = {
    apiVersion: 'socat.io/v1alpha1',
    kind: 'Relay',
    metadata: { name: 'kube-scheduler', generation: 4 },
    spec: { target: { host: '127.0.0.1', port: 10259 }, consumers: { namespaces: ['monitoring'] } },
  };
  const config = interpretConfig([
    { name: 'kube-scheduler.json', text: JSON.stringify(relay) },
    { name: 'bad.json', text: '{"kind":"Relay","metadata":{"name":"bad"},"spec":{}}' },
  ]);
  return buildAgentStatus({
    agent: {
      pid: 42,
      startedAt: '2026-11-30T00:00:00.000Z',
      configDir: '/etc/socat-relay/relays.d',
      socketDir: '/run/socat-relay',
      heartbeatSeconds: 30,
    },
    now: '2026-11-30T00:01:00.000Z',
    config,
    processes: [
      {
        name: 'kube-scheduler',
        running: true,
        pid: 4242,
        restarts: 2,
        lastError: 'exit 1',
        since: '2026-11-30T00:00:30.000Z',
        connections: 7,
      } as never,
    ],
    socketOf: (r) => `/run/socat-relay/${r}/socket`,
  });
}

test('the status file round-trips through formatAgentStatus and parseAgentStatus, carrying the schema version', () => {
  const st = fullStatus();
  assert.equal(st.version, STATUS_VERSION);
  assert.deepEqual(parseAgentStatus(formatAgentStatus(st)), st);
});

test('status schema version 1 has exactly these fields (changing them means bumping STATUS_VERSION and this list)', () => {
  const st = fullStatus();
  assert.equal(STATUS_VERSION, 1);
  assert.deepEqual(Object.keys(st).sort(), ['agent', 'files', 'relays', 'version', 'warnings']);
  assert.deepEqual(Object.keys(st.agent).sort(), [
    'configDir',
    'heartbeatSeconds',
    'pid',
    'socketDir',
    'startedAt',
    'updatedAt',
  ]);
  assert.deepEqual(Object.keys(st.relays['kube-scheduler']!).sort(), [
    'connections',
    'file',
    'generation',
    'lastError',
    'pid',
    'protocol',
    'restarts',
    'running',
    'since',
    'socket',
  ]);
  assert.deepEqual(Object.keys(st.files['bad.json']!).sort(), ['error', 'relay']);
});

test('staleness: fresh inside three heartbeats plus 15 s, stale one second later; no heartbeat never stale', () => {
  const st = fullStatus();
  const updated = Date.parse(st.agent.updatedAt);
  assert.equal(staleAgentStatusAge(st, updated + (3 * 30 + 15) * 1000), undefined);
  assert.equal(staleAgentStatusAge(st, updated + (3 * 30 + 16) * 1000), 106);
  const { heartbeatSeconds: _, ...agent } = st.agent;
  assert.equal(staleAgentStatusAge({ ...st, agent }, updated + 3_600_000), undefined);
});

test("the relay file marks the controller's files and carries resolved consumer namespaces (sorted, unique)", () => {
  const relay: Relay = {
    apiVersion: 'socat.io/v1alpha1',
    kind: 'Relay',
    metadata: { name: 'r' },
    spec: { target: { host: '127.0.0.1', port: 1 }, consumers: { namespaceSelector: {} } },
  };
  const text = relayFileContent(relay, ['b', 'a', 'b']);
  assert.equal(isManagedContent(text), true);
  assert.deepEqual(consumerNamespacesOf(JSON.parse(text)), ['a', 'b']);
  assert.equal(consumerNamespacesOf(JSON.parse(relayFileContent(relay))), undefined);
  assert.equal(isManagedContent('{"metadata":{"annotations":{"socat.io/managed-by":"someone-else"}}}'), false);
  assert.equal(isManagedContent('not json'), false);
  assert.equal(
    consumerNamespacesOf({ metadata: { annotations: { 'socat.io/consumer-namespaces': 7 } } }),
    undefined,
    'a non-string annotation counts as absent',
  );
});

test('writeFileAtomic leaves no temp file, replaces the inode, and the temp name is one the cleanup recognises', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'srcontract-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  await writeFileAtomic(path.join(dir, 'a.json'), 'one', 0o600);
  await writeFileAtomic(path.join(dir, 'a.json'), 'two', 0o600);
  assert.deepEqual(readdirSync(dir), ['a.json']);
  assert.equal(await readRelayFile(path.join(dir, 'a.json')), 'two');
  assert.equal(isConfigTempFileName(tempFileName('a.json')), true);
  assert.equal(isConfigTempFileName(tempFileName('status.txt')), false);
  assert.equal(isConfigTempFileName('.keep-me'), false);
});

test('the bounded read refuses a FIFO without blocking, and a file over its limit', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'srcontract-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  execFileSync('mkfifo', [path.join(dir, 'fifo.json')]);
  await assert.rejects(
    readRelayFile(path.join(dir, 'fifo.json')),
    (e: unknown) => e instanceof BoundedReadError && /a FIFO/.test(e.message),
  );
  writeFileSync(path.join(dir, 'big'), 'x'.repeat(11));
  await assert.rejects(
    readFileBounded(path.join(dir, 'big'), 10, 'a test file'),
    /11 bytes is larger than the 10 bytes a test file may have/,
  );
  assert.equal(await readFileBounded(path.join(dir, 'big'), 11), 'x'.repeat(11));
});
