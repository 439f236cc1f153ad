// Generated AdmissionReview bodies (fast-check): malformed JSON, wrong kinds and versions, missing uid,
// huge and deeply nested objects, pods of unusual but legal shapes. First through the pure admission
// handler (webhook/server/handler.ts: parse, decode, decide; with shrinking on failure), then as real HTTPS requests
// against the running
// WebhookServer (TLS, keep-alive agent). Every answer is judged by test/harness/review.ts.
// Counts: ADMISSION_FUZZ_PURE (10 000), ADMISSION_FUZZ_HTTPS (3 000 by default to keep the suite short on 2 cores;
// 10 000 passes too, ~85 s), FC_SEED.
import { forEachLimit } from '../../../lib/limit.js';
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import https from 'node:https';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { silentLogger } from '../../../lib/log.js';
import { makeWebhookCerts } from '../../../certs/selfsigned.js';
import { writeCerts } from '../../../certs/write.js';
import { createMetrics } from '../../../webhook/metrics.js';
import { WebhookServer } from '../../../webhook/server/index.js';
import { bodyArb, deepValue, type GeneratedBody } from '../../harness/arbitraries.js';
import { fuzzContext, judgeAnswer } from '../../harness/review.js';
import { handleAdmission } from '../../../webhook/server/handler.js';
import { postRaw } from '../../harness/https.js';

const PURE = Number(process.env.ADMISSION_FUZZ_PURE ?? 10_000);
const HTTPS_N = Number(process.env.ADMISSION_FUZZ_HTTPS ?? 3_000);
const SEED = Number(process.env.FC_SEED ?? 42);

function tally(map: Map<string, number>, key: string): void {
  map.set(key, (map.get(key) ?? 0) + 1);
}

test(
  `pure handlers: ${PURE} generated AdmissionReviews — valid answers, the uid, no 5xx, patches that apply and are idempotent`,
  { timeout: 300_000 },
  () => {
    const ctx = fuzzContext();
    const outcomes = new Map<string, number>();
    const labels = new Map<string, number>();
    let lastProblems: string[] = [];
    try {
      fc.assert(
        fc.property(bodyArb, (body) => {
          let j;
          try {
            // The real admission edge without HTTP: what the server answers for these bytes.
            const a = handleAdmission(
              body.path === '/mutate-pods' ? 'mutate-pods' : 'validate-relays',
              body.text,
              'application/json',
              ctx,
            );
            j = judgeAnswer(body, a.httpStatus, a.review, ctx);
          } catch (e) {
            j = {
              problems: [`handler threw ${(e as Error).name}: ${(e as Error).message}`],
              outcome: 'rejected' as const,
            };
          }
          tally(outcomes, j.outcome);
          tally(labels, body.label.split(':')[0]!);
          if (j.problems.length > 0) lastProblems = j.problems;
          return j.problems.length === 0;
        }),
        { numRuns: PURE, seed: SEED },
      );
    } catch (e) {
      // fast-check reports the shrunk body; the problems of the last (shrunk) failing run say what was wrong.
      throw new Error(`${(e as Error).message}\nproblems: ${lastProblems.join('; ')}`, { cause: e });
    }
    console.log(
      `[admission-fuzz] pure: ${PURE} bodies; outcomes ${JSON.stringify(Object.fromEntries(outcomes))}; kinds ${JSON.stringify(Object.fromEntries(labels))}`,
    );
    assert.ok(
      (outcomes.get('patched') ?? 0) > PURE / 20,
      'too few patched pods: the generator does not reach the injector',
    );
  },
);

let dir: string;
let server: WebhookServer;
let port: number;
let ca: string;

before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'socat-relay-fuzz-'));
  const certs = await makeWebhookCerts({ extraHosts: ['127.0.0.1', 'localhost'] });
  const files = await writeCerts(dir, certs);
  ca = certs.ca.cert;
  const ctx = fuzzContext();
  server = new WebhookServer({
    port: 0,
    host: '127.0.0.1',
    certFile: files.cert!,
    keyFile: files.key!,
    certPollMs: 60_000,
    catalog: ctx.catalog,
    namespaceLabels: ctx.namespaceLabels,
    injectOptions: () => ctx.options,
    metrics: createMetrics(),
    log: silentLogger,
  });
  port = (await server.start()).port;
});

after(async () => {
  await server?.stop();
  await rm(dir, { recursive: true, force: true });
});

test(
  `HTTPS: ${HTTPS_N} generated AdmissionReviews against the running server (keep-alive) — no crash, no 5xx, every answer judged`,
  { timeout: 600_000 },
  async () => {
    const ctx = fuzzContext();
    const bodies: GeneratedBody[] = fc.sample(bodyArb, { numRuns: HTTPS_N, seed: SEED + 1 });
    const agent = new https.Agent({ keepAlive: true, maxSockets: 8 });
    const statuses = new Map<string, number>();
    const failures: string[] = [];
    const t0 = Date.now();
    await forEachLimit(bodies, 8, async (body) => {
      try {
        const res = await postRaw(agent, body.path, body.text, { port, ca });
        tally(statuses, String(res.status));
        let review: unknown;
        try {
          review = JSON.parse(res.text);
        } catch {
          failures.push(`${body.label}: HTTP ${res.status} body is not JSON: ${res.text.slice(0, 100)}`);
          return;
        }
        const j = judgeAnswer(body, res.status, review, ctx);
        if (j.problems.length > 0)
          failures.push(`${body.label}: ${j.problems.join('; ')} ← ${body.text.slice(0, 200)}`);
      } catch (e) {
        failures.push(`${body.label}: request failed: ${(e as Error).message}`);
      }
    });
    agent.destroy();
    const secs = (Date.now() - t0) / 1000;
    // The server is still up and healthy after all of it.
    const health = await postRaw(new https.Agent(), '/mutate-pods', 'x', { port, ca });
    console.log(
      `[admission-fuzz] HTTPS: ${bodies.length} bodies in ${secs.toFixed(1)} s (${(bodies.length / secs).toFixed(0)}/s); HTTP statuses ${JSON.stringify(Object.fromEntries(statuses))}; failures ${failures.length}`,
    );
    assert.equal(health.status, 400);
    assert.deepEqual(failures.slice(0, 5), []);
  },
);

for (const depth of [1000, 3000, 10_000]) {
  test(`HTTPS: a pod with a ${depth}-level nested field gets a 4xx or a decision, never an internal error`, async () => {
    const object = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { namespace: 'monitoring', labels: { 'socat.io/consume': 'kube-scheduler' } },
      spec: { containers: [{ name: 'a', image: 'busybox' }], deep: deepValue(depth) },
    };
    const text = `{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"deep-${depth}","kind":{"group":"","version":"v1","kind":"Pod"},"resource":{"group":"","version":"v1","resource":"pods"},"operation":"CREATE","namespace":"monitoring","object":${depthSafeStringify(object)}}}`;
    const res = await postRaw(new https.Agent(), '/mutate-pods', text, { port, ca });
    const review = JSON.parse(res.text) as { response: { uid: string; status?: { code?: number; message?: string } } };
    console.log(
      `[admission-fuzz] nested ${depth} levels (${text.length} bytes): HTTP ${res.status}, status.code ${review.response.status?.code ?? '-'} ${review.response.status?.message ?? ''}`,
    );
    assert.ok(res.status < 500);
    assert.ok((review.response.status?.code ?? 200) < 500, `status ${JSON.stringify(review.response.status)}`);
  });
}

/** JSON.stringify overflows on deep values too: build the text of {n:[{n:…}]} iteratively. */
function depthSafeStringify(v: unknown): string {
  const shallow = JSON.stringify(v, (k, x) => (k === 'deep' ? '@@DEEP@@' : x));
  let depth = 0;
  let d = (v as { spec: { deep: unknown } }).spec.deep;
  while (typeof d === 'object' && d !== null) {
    depth++;
    d = Array.isArray(d) ? d[0] : (d as { n: unknown }).n;
  }
  let open = '';
  let close = '';
  for (let i = depth - 1; i >= 0; i--) {
    open += i % 2 ? '[' : '{"n":';
    close = (i % 2 ? ']' : '}') + close;
  }
  return shallow.replace('"@@DEEP@@"', `${open}"bottom"${close}`);
}
