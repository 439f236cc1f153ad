// Graceful shutdown of the controller: SIGTERM → /readyz fails at once → admission requests are still
// answered for the drain period → the servers close and the process exits 0. Once with the pure
// parts (order, readiness), once with the real CLI process over real TLS.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Drain, gracefulShutdown } from '../../../webhook/server/shutdown.js';
import { freePort, REPO_ROOT, waitFor } from '../../harness/index.js';
import { FIXTURES, pod, podRequest } from '../../harness/admission.js';
import { httpsRequest } from '../../harness/https.js';

/** Each request on a fresh connection (agent: false). */
const request = (url: string, ca: string, body?: unknown) => httpsRequest(url, ca, body, { agent: false });

test('the order: readiness fails first, the drain period passes, then stop', async () => {
  const drain = new Drain();
  const events: string[] = [];
  const ready = drain.readiness(() => ({ ok: true }));
  assert.deepEqual(ready(), { ok: true });
  const inner = drain.readiness(() => ({ ok: false, reason: 'namespace cache not synced' }));
  assert.deepEqual(inner(), { ok: false, reason: 'namespace cache not synced' });
  await gracefulShutdown({
    drain,
    drainMs: 1234,
    log: { info: () => undefined },
    delay: async (ms) => {
      events.push(`drain ${ms} (ready: ${ready().ok}, ${ready().reason})`);
    },
    stop: async () => {
      events.push('stop');
    },
  });
  assert.deepEqual(events, ['drain 1234 (ready: false, shutting down)', 'stop']);
  assert.deepEqual(inner(), { ok: false, reason: 'shutting down' });
});

test(
  'the real controller on SIGTERM: /readyz 503 at once, admission still answered during the drain, exit 0 after it',
  { timeout: 90_000 },
  async (t) => {
    const DRAIN_S = 4;
    const dir = await mkdtemp(path.join(os.tmpdir(), 'socat-relay-shutdown-'));
    t.after(() => rm(dir, { recursive: true, force: true }));
    const port = await freePort();
    const child = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        'cli/main.ts',
        'controller',
        '--relays',
        path.join(FIXTURES, 'admission/valid-relays.yaml'),
        '--self-signed',
        path.join(dir, 'tls'),
        '--port',
        String(port),
        '--metrics-port',
        '0',
        '--shutdown-drain-seconds',
        String(DRAIN_S),
        '--log-level',
        'info',
      ],
      {
        cwd: REPO_ROOT,
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    t.after(() => {
      if (child.exitCode === null) child.kill('SIGKILL');
    });
    let log = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => {
      log += s;
    });
    child.stderr.setEncoding('utf8').on('data', (s: string) => {
      log += s;
    });
    const exited = once(child, 'exit');
    const base = `https://127.0.0.1:${port}`;
    const ca = await waitFor(
      'the CA file',
      () => readFile(path.join(dir, 'tls', 'ca.crt'), 'utf8').catch(() => undefined),
      { timeoutMs: 60_000 },
    );
    await waitFor('ready', async () => (await request(`${base}/readyz`, ca).catch(() => undefined))?.status === 200, {
      timeoutMs: 60_000,
    });

    const t0 = Date.now();
    child.kill('SIGTERM');
    const notReady = await waitFor(
      '/readyz to fail',
      async () => {
        const r = await request(`${base}/readyz`, ca).catch(() => undefined);
        return r?.status === 503 ? r : undefined;
      },
      { timeoutMs: 10_000, intervalMs: 50 },
    );
    assert.equal(notReady.text, 'shutting down\n');
    assert.ok(Date.now() - t0 < (DRAIN_S * 1000) / 2, `readiness failed only after ${Date.now() - t0} ms`);
    const review = await request(`${base}/mutate-pods`, ca, {
      apiVersion: 'admission.k8s.io/v1',
      kind: 'AdmissionReview',
      request: podRequest(pod('basic')),
    });
    assert.equal(review.status, 200, 'still answering during the drain');
    assert.ok(JSON.parse(review.text).response.patch, 'and still injecting');
    assert.equal(child.exitCode, null, 'still running during the drain');

    const [code, signal] = await exited;
    const took = Date.now() - t0;
    assert.deepEqual([code, signal], [0, null], log);
    assert.ok(took >= (DRAIN_S - 1) * 1000, `exited after ${took} ms, before the ${DRAIN_S} s drain`);
    assert.ok(took < (DRAIN_S + 20) * 1000, `took ${took} ms to exit`);
    assert.match(log, /shutting down: readiness fails/);
    await assert.rejects(request(`${base}/readyz`, ca), /ECONNREFUSED/, 'closed after the drain');
  },
);
