// The webhook under stress: its serving certificate rotated 6 times while 8 clients (half of them
// opening a new TLS connection per request) hammer it — no request may fail; and the controller (local
// mode, its own process) under sustained load for WEBHOOK_LOAD_SECONDS (20) with its RSS sampled every
// second — memory must level off.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { once } from 'node:events';
import https from 'node:https';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import fc from 'fast-check';
import { silentLogger } from '../../../lib/log.js';
import { makeCA, makeWebhookCerts } from '../../../certs/selfsigned.js';
import { writeCerts } from '../../../certs/write.js';
import { createMetrics } from '../../../webhook/metrics.js';
import { WebhookServer } from '../../../webhook/server/index.js';
import { REPO_ROOT } from '../../harness/binaries.js';
import { httpsGet } from '../../harness/controller.js';
import { freePort } from '../../harness/ports.js';
import { spawnManaged } from '../../harness/processes.js';
import { waitFor } from '../../harness/wait.js';
import { postRaw } from '../../harness/https.js';
import { bodyArb } from '../../harness/arbitraries.js';
import { rssBytes } from '../../harness/proc.js';
import { FIXTURES, fuzzContext } from '../../harness/review.js';

const LOAD_SECONDS = Number(process.env.WEBHOOK_LOAD_SECONDS ?? 20);
const HEAP_CAP_MB = Number(process.env.WEBHOOK_HEAP_CAP_MB ?? 160);
const tmpDirs: string[] = [];
after(async () => {
  for (const d of tmpDirs) await rm(d, { recursive: true, force: true });
});

const POD_REVIEW = (uid: string) =>
  JSON.stringify({
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid,
      kind: { group: '', version: 'v1', kind: 'Pod' },
      resource: { group: '', version: 'v1', resource: 'pods' },
      namespace: 'monitoring',
      operation: 'CREATE',
      object: {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { generateName: 'p-', namespace: 'monitoring', labels: { 'socat.io/consume': 'kube-scheduler' } },
        spec: { containers: [{ name: 'app', image: 'busybox' }] },
      },
    },
  });

function servedFingerprint(port: number, ca: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = tls.connect({ host: '127.0.0.1', port, ca, servername: 'localhost' }, () => {
      const fp = s.getPeerX509Certificate()?.fingerprint256 ?? '';
      s.end();
      resolve(fp);
    });
    s.on('error', reject);
  });
}

test(
  'certificate rotated 6 times under load: every request succeeds, new connections get the new certificate',
  { timeout: 120_000 },
  async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'socat-relay-rotate-'));
    tmpDirs.push(dir);
    const ca = await makeCA('rotation-ca');
    const sets = [];
    for (let i = 0; i < 7; i++) sets.push(await makeWebhookCerts({ ca, extraHosts: ['127.0.0.1', 'localhost'] }));
    const files = await writeCerts(dir, sets[0]!);
    const ctx = fuzzContext();
    const metrics = createMetrics();
    const server = new WebhookServer({
      port: 0,
      host: '127.0.0.1',
      certFile: files.cert!,
      keyFile: files.key!,
      certPollMs: 500,
      catalog: ctx.catalog,
      namespaceLabels: ctx.namespaceLabels,
      injectOptions: () => ctx.options,
      metrics,
      log: silentLogger,
    });
    const { port } = await server.start();
    try {
      let stop = false;
      const stats = { ok: 0, failed: [] as string[], fresh: 0 };
      const worker = async (w: number) => {
        const agent = new https.Agent({ keepAlive: w % 2 === 0, maxSockets: 1 });
        let i = 0;
        while (!stop) {
          const uid = `w${w}-${i++}`;
          try {
            const res = await postRaw(agent, '/mutate-pods', POD_REVIEW(uid), { port, ca: ca.cert });
            const review = JSON.parse(res.text) as { response?: { uid?: string; patch?: string } };
            if (res.status === 200 && review.response?.uid === uid && review.response.patch) stats.ok++;
            else stats.failed.push(`${uid}: HTTP ${res.status} ${res.text.slice(0, 80)}`);
          } catch (e) {
            stats.failed.push(`${uid}: ${(e as Error).message}`);
          }
          if (w % 2 === 1) stats.fresh++;
        }
        agent.destroy();
      };
      const workers = Array.from({ length: 8 }, (_, w) => worker(w));
      const served: string[] = [];
      for (let r = 1; r < sets.length; r++) {
        await new Promise((res) => setTimeout(res, 600));
        const reloaded = once(server.events, 'certificate-reloaded');
        await writeCerts(dir, sets[r]!);
        await reloaded;
        served.push(await servedFingerprint(port, ca.cert));
      }
      await new Promise((res) => setTimeout(res, 600));
      stop = true;
      await Promise.all(workers);
      const expected = sets.slice(1).map((s) => new X509Certificate(s.serving.cert).fingerprint256);
      const text = await metrics.registry.metrics();
      const reloads = /socat_relay_cert_reloads_total\{result="ok"\} (\d+)/.exec(text)?.[1];
      console.log(
        `[webhook-faults] rotation: ${sets.length - 1} rotations under load; ${stats.ok} requests ok (${stats.fresh} on fresh TLS connections), ${stats.failed.length} failed; reloads ok ${reloads}; new connections served the new certificate after ${served.filter((f, i) => f === expected[i]).length}/${expected.length} rotations`,
      );
      assert.deepEqual(stats.failed.slice(0, 5), []);
      assert.ok(stats.ok > 50, 'the load did not run');
      assert.deepEqual(served, expected);
    } finally {
      await server.stop();
    }
  },
);

test(
  `controller (local mode, own process) under sustained load for ${LOAD_SECONDS} s: no failure, memory levels off`,
  { timeout: (LOAD_SECONDS + 90) * 1000 },
  async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'socat-relay-webload-'));
    tmpDirs.push(dir);
    const port = await freePort();
    const metricsPort = await freePort();
    const proc = spawnManaged(
      'controller',
      process.execPath,
      [
        '--import',
        'tsx',
        path.join(REPO_ROOT, 'cli', 'main.ts'),
        'controller',
        '--relays',
        path.join(FIXTURES, 'local-relays.yaml'),
        '--self-signed',
        path.join(dir, 'tls'),
        '--port',
        String(port),
        '--metrics-port',
        String(metricsPort),
        '--shutdown-drain-seconds',
        '0',
        '--host',
        '127.0.0.1',
        '--log-level',
        'warn',
      ],
      {
        logFile: path.join(dir, 'controller.log'),
        cwd: REPO_ROOT,
        // A heap cap: a leak would end in an out-of-memory crash within the run instead of hiding in a large heap.
        env: { PATH: process.env.PATH, HOME: process.env.HOME, NODE_OPTIONS: `--max-old-space-size=${HEAP_CAP_MB}` },
      },
    );
    try {
      const { readFile } = await import('node:fs/promises');
      const ca = await waitFor(
        'the self-signed CA',
        () => readFile(path.join(dir, 'tls', 'ca.crt'), 'utf8').catch(() => undefined),
        { timeoutMs: 60_000 },
      );
      await waitFor(
        'controller ready',
        async () =>
          (await postRaw(new https.Agent(), '/mutate-pods', POD_REVIEW('ready'), { port, ca }).catch(() => undefined))
            ?.status === 200,
        { timeoutMs: 60_000 },
      );
      // A mix: patched pods, denials, malformed bodies (generated, no huge ones).
      const bodies = fc.sample(bodyArb, { numRuns: 2000, seed: 5 }).filter((b) => b.text.length < 100_000);
      const agent = new https.Agent({ keepAlive: true, maxSockets: 8 });
      const rss: number[] = [];
      const heap: number[] = [];
      const sampler = setInterval(() => {
        try {
          rss.push(rssBytes(proc.child.pid!));
        } catch {
          /* gone */
        }
        httpsGet(`https://127.0.0.1:${metricsPort}/metrics`, ca).then(
          (r) => {
            const m = /^nodejs_heap_size_used_bytes (\d+(?:\.\d+)?(?:e\+\d+)?)$/m.exec(r.body);
            if (m) heap.push(Number(m[1]));
          },
          () => undefined,
        );
      }, 1000);
      const deadline = Date.now() + LOAD_SECONDS * 1000;
      const stats = { n: 0, failed: [] as string[] };
      await Promise.all(
        Array.from({ length: 8 }, async (_, w) => {
          let i = w;
          while (Date.now() < deadline) {
            const b = bodies[i % bodies.length]!;
            i += 8;
            try {
              const res = await postRaw(agent, b.path, b.text, { port, ca });
              if (res.status >= 500) stats.failed.push(`HTTP ${res.status}`);
              stats.n++;
            } catch (e) {
              stats.failed.push((e as Error).message);
            }
          }
        }),
      );
      clearInterval(sampler);
      agent.destroy();
      const mb = (b: number) => (b / 2 ** 20).toFixed(1);
      const q = Math.max(1, Math.floor(heap.length / 4));
      const secondQuarter = Math.max(...heap.slice(q, 2 * q));
      const lastQuarter = Math.max(...heap.slice(-q));
      console.log(
        `[webhook-faults] sustained load: ${stats.n} requests in ${LOAD_SECONDS} s (${(stats.n / LOAD_SECONDS).toFixed(0)}/s), ${stats.failed.length} failed; old space capped at ${HEAP_CAP_MB} MiB`,
      );
      console.log(`[webhook-faults] heap used MiB per second: ${heap.map(mb).join(' ')}`);
      console.log(`[webhook-faults] RSS MiB per second: ${rss.map(mb).join(' ')}`);
      console.log(
        `[webhook-faults] heap used max 2nd quarter ${mb(secondQuarter)} MiB, last quarter ${mb(lastQuarter)} MiB (growth ${mb(lastQuarter - secondQuarter)} MiB); controller ${proc.running() ? 'alive' : 'DEAD'}`,
      );
      assert.deepEqual(stats.failed.slice(0, 5), []);
      assert.ok(proc.running(), `the controller died: ${proc.logTail(5)}`);
      assert.ok(heap.length >= 4, 'too few heap samples');
      assert.ok(lastQuarter - secondQuarter < 16 * 2 ** 20, 'heap still growing in the last quarter');
    } finally {
      await proc.stop();
    }
  },
);
