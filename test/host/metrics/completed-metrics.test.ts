// The metrics issue 21 asked for, read back from the real exposition text: socat_relay_build_info of
// every process, the serving certificate's validity from the real WebhookServer (set at start and on a
// reload), socat_relay_relay_ready from the controller's catalog, the agent's per-relay ready gauge with
// a real socat and a real socket (and process_*), and the admission histogram up to the 5 s timeout.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { mkdtemp, mkdir, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Registry } from 'prom-client';
import { packageVersion } from '../../../lib/build-info.js';
import { silentLogger } from '../../../lib/log.js';
import { makeWebhookCerts } from '../../../certs/selfsigned.js';
import { writeCerts } from '../../../certs/write.js';
import { createMetrics, observeRelays, relayReadyValue } from '../../../webhook/metrics.js';
import { StaticCatalog } from '../../../webhook/catalog/catalog.js';
import { WebhookServer } from '../../../webhook/server/server.js';
import { AgentMetrics, relayReady } from '../../../node-agent/metrics.js';
import { CsiMetrics } from '../../../node-agent/csi/metrics.js';
import { socketPath } from '../../../relay/index.js';
import type { Relay } from '../../../relay/index.js';
import type { RelayProcess } from '../../../node-agent/supervisor.js';
import {
  httpService,
  socatUnavailable,
  startAgent,
  tempDirs,
  waitFor,
  waitRunning,
  writeRelay,
} from '../../harness/agent.js';
import { required } from '../../harness/required.js';

/** The value of one series in an exposition text, or undefined when the series is absent. */
function value(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

const VERSION = JSON.parse(readFileSync(path.resolve(import.meta.dirname, '../../../package.json'), 'utf8'))
  .version as string;

test("socat_relay_build_info{version, component} is 1 in the controller's, the agent's and the CSI plugin's registry, with package.json's version", async () => {
  assert.equal(packageVersion(), VERSION);
  const texts: [string, string][] = [
    ['controller', await createMetrics().registry.metrics()],
    ['agent', await new AgentMetrics(new Registry(), { defaultMetrics: false }).registry.metrics()],
    ['csi', await new CsiMetrics(new Registry(), { defaultMetrics: false }).registry.metrics()],
  ];
  for (const [component, text] of texts)
    assert.equal(value(text, `socat_relay_build_info{version="${VERSION}",component="${component}"}`), 1, component);
});

test('the admission histogram reaches the webhooks\' 5 s timeout: a 3 s answer is counted at le="5", not at le="1"', async () => {
  const m = createMetrics();
  m.latency.observe({ webhook: 'mutate-pods' }, 3);
  const text = await m.registry.metrics();
  for (const le of ['0.5', '1', '2.5'])
    assert.equal(value(text, `socat_relay_admission_duration_seconds_bucket{le="${le}",webhook="mutate-pods"}`), 0, le);
  assert.equal(value(text, 'socat_relay_admission_duration_seconds_bucket{le="5",webhook="mutate-pods"}'), 1);
  const timeouts = readFileSync(
    path.resolve(import.meta.dirname, '../../../manifests/webhook/mutating-webhook.yaml'),
    'utf8',
  ).match(/timeoutSeconds: (\d+)/g)!;
  for (const t of timeouts) assert.ok(text.includes(`le="${t.split(' ')[1]}"`), `a bucket at the webhook's ${t}`);
});

test("the serving certificate's validity: exported once the webhook server loaded it, updated on a reload, absent before", async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'cert-metrics-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const files = await writeCerts(dir, await makeWebhookCerts({ days: 30 }));
  const metrics = createMetrics();
  assert.doesNotMatch(
    await metrics.registry.metrics(),
    /socat_relay_certificate_expiry_timestamp_seconds/,
    'no 0 that would read as expired',
  );
  const server = new WebhookServer({
    port: 0,
    host: '127.0.0.1',
    certFile: files.cert!,
    keyFile: files.key!,
    certPollMs: 60_000,
    metrics,
    log: silentLogger,
    catalog: new StaticCatalog(),
    namespaceLabels: () => undefined,
    injectOptions: () => {
      throw new Error('not called');
    },
  });
  await server.start();
  t.after(() => server.stop());
  const expect = async (certFile: string): Promise<void> => {
    const x = new X509Certificate(readFileSync(certFile));
    const text = await metrics.registry.metrics();
    assert.equal(value(text, 'socat_relay_certificate_expiry_timestamp_seconds'), Date.parse(x.validTo) / 1000);
    assert.equal(value(text, 'socat_relay_certificate_not_before_timestamp_seconds'), Date.parse(x.validFrom) / 1000);
  };
  await expect(files.cert!);
  const before = value(await metrics.registry.metrics(), 'socat_relay_certificate_expiry_timestamp_seconds')!;
  assert.ok(Math.abs(before - (Date.now() / 1000 + 30 * 86400)) < 600, 'about 30 days from now');
  await writeCerts(dir, await makeWebhookCerts({ days: 400 }));
  await server.reloadCertificate();
  await expect(files.cert!);
  assert.ok(
    value(await metrics.registry.metrics(), 'socat_relay_certificate_expiry_timestamp_seconds')! > before + 300 * 86400,
    "the reloaded certificate's expiry",
  );
  // A rejected pair (key of another certificate) keeps the gauges of the pair still in use.
  const other = await makeWebhookCerts({ days: 5 });
  writeFileSync(files.cert!, other.serving.cert);
  await server.reloadCertificate();
  assert.ok(
    value(await metrics.registry.metrics(), 'socat_relay_certificate_expiry_timestamp_seconds')! > before + 300 * 86400,
    'kept: the rejected one is not served',
  );
  assert.equal(value(await metrics.registry.metrics(), 'socat_relay_cert_reloads_total{result="rejected"}'), 1);
});

const relay = (name: string, ready?: 'True' | 'False'): Relay => ({
  apiVersion: 'socat.io/v1alpha1',
  kind: 'Relay',
  metadata: { name },
  spec: { target: { host: '127.0.0.1', port: 1 }, consumers: { namespaces: ['x'] } },
  ...(ready
    ? {
        status: {
          conditions: [
            { type: 'Ready', status: ready, reason: 'r', message: 'm', lastTransitionTime: '2026-01-01T00:00:00Z' },
          ],
        },
      }
    : {}),
});

test("socat_relay_relay_ready{relay}: each Relay's Ready condition from the catalog at scrape time; no condition yet, no series; a deleted Relay, no series", async () => {
  assert.equal(relayReadyValue(relay('a', 'True')), 1);
  assert.equal(relayReadyValue(relay('a', 'False')), 0);
  assert.equal(relayReadyValue(relay('a')), undefined);
  const m = createMetrics();
  let relays = [relay('sched', 'True'), relay('etcd', 'False'), relay('new')];
  observeRelays(m.registry, { list: () => relays });
  let text = await m.registry.metrics();
  assert.equal(value(text, 'socat_relay_relay_ready{relay="sched"}'), 1);
  assert.equal(value(text, 'socat_relay_relay_ready{relay="etcd"}'), 0);
  assert.doesNotMatch(text, /relay="new"/);
  relays = [relay('etcd', 'True')];
  text = await m.registry.metrics();
  assert.equal(value(text, 'socat_relay_relay_ready{relay="etcd"}'), 1);
  assert.doesNotMatch(text, /relay="sched"/);
});

const proc = (name: string, running: boolean): RelayProcess => ({
  name,
  running,
  restarts: 0,
  connections: 0,
  argv: [],
  since: '',
});

test('socat_relay_agent_relay_ready: 1 only while the socat runs and its socket is in place (a socket, not a file or nothing); process_* of the agent', async (t) => {
  assert.deepEqual([relayReady(true, true), relayReady(true, false), relayReady(false, true)], [1, 0, 0]);
  const socketDir = await mkdtemp(path.join(os.tmpdir(), 'agent-ready-'));
  t.after(() => rm(socketDir, { recursive: true, force: true }));
  for (const n of ['listening', 'no-socket', 'a-file', 'stopped']) await mkdir(path.join(socketDir, n));
  const server = createServer();
  await new Promise<void>((r) => server.listen(socketPath(socketDir, 'listening'), r));
  t.after(() => new Promise<void>((r) => server.close(() => r())));
  writeFileSync(socketPath(socketDir, 'a-file'), '');
  const stopped = createServer();
  await new Promise<void>((r) => stopped.listen(socketPath(socketDir, 'stopped'), r));
  t.after(() => new Promise<void>((r) => stopped.close(() => r())));
  const m = new AgentMetrics(new Registry(), { socketDir });
  m.update(4, 0, [proc('listening', true), proc('no-socket', true), proc('a-file', true), proc('stopped', false)]);
  const text = await m.registry.metrics();
  assert.equal(value(text, 'socat_relay_agent_relay_ready{relay="listening"}'), 1);
  assert.equal(value(text, 'socat_relay_agent_relay_ready{relay="no-socket"}'), 0);
  assert.equal(value(text, 'socat_relay_agent_relay_ready{relay="a-file"}'), 0);
  assert.equal(value(text, 'socat_relay_agent_relay_ready{relay="stopped"}'), 0);
  assert.ok((value(text, 'process_resident_memory_bytes') ?? 0) > 0, 'process_* of the agent');
  m.update(1, 0, [proc('listening', true)]);
  assert.doesNotMatch(await m.registry.metrics(), /relay="no-socket"/, 'a relay gone from the config: its series too');
});

const noSocat = socatUnavailable();
const notRoot = process.getuid?.() !== 0 ? 'needs root (chown of the socket to the socket group)' : null;

test(
  'the real agent with a real socat: relay_ready 1 while it serves; its socket deleted under it: relay_up stays 1, relay_ready 0',
  { skip: required(noSocat, notRoot) },
  async (t) => {
    const dirs = await tempDirs(t, 'agent-ready');
    const svc = await httpService(t, 'r');
    await writeRelay(dirs.configDir, 'r', { target: { host: '127.0.0.1', port: svc.port } });
    const agent = await startAgent(t, dirs);
    await waitRunning(dirs.socketDir, 'r');
    await waitFor(
      'ready 1',
      async () => value(await agent.registry.metrics(), 'socat_relay_agent_relay_ready{relay="r"}') === 1,
    );
    rmSync(socketPath(dirs.socketDir, 'r'));
    const text = await agent.registry.metrics();
    assert.equal(value(text, 'socat_relay_agent_relay_up{relay="r"}'), 1, 'socat still runs');
    assert.equal(value(text, 'socat_relay_agent_relay_ready{relay="r"}'), 0, 'but nobody can connect');
  },
);
