// Every route of the webhook app over supertest, including each malformed input: the answer is always
// an AdmissionReview (or plain text for the probes), never a crash.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import request from 'supertest';
import { pino } from 'pino';
import { Writable } from 'node:stream';
import { silentLogger } from '../../../../lib/log.js';
import { createApp } from '../../../../webhook/server/app.js';
import { createMetrics } from '../../../../webhook/metrics.js';
import { StaticCatalog } from '../../../../webhook/catalog/catalog.js';
import { defaultInjectOptions, patchOps } from '../../../../webhook/admission/index.js';
import { catalog, pod, podRequest, relayRequest, NAMESPACE_LABELS } from '../../../harness/admission.js';

function setup(
  over: {
    catalog?: StaticCatalog & { synced(): boolean };
    bodyLimit?: number;
    ready?: () => { ok: boolean; reason?: string };
  } = {},
) {
  const metrics = createMetrics();
  const app = createApp({
    catalog: over.catalog ?? catalog(),
    namespaceLabels: (ns) => NAMESPACE_LABELS[ns],
    injectOptions: () => defaultInjectOptions(),
    metrics,
    log: silentLogger,
    ...(over.bodyLimit ? { bodyLimit: over.bodyLimit } : {}),
    ...(over.ready ? { ready: over.ready } : {}),
  });
  return { app, metrics };
}

const review = (req: unknown) => ({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request: req });

test('POST /mutate-pods with a labeled pod answers 200 with the uid and a JSONPatch', async () => {
  const { app } = setup();
  const req = podRequest(pod('basic'));
  const res = await request(app)
    .post('/mutate-pods')
    .send(review(req))
    .expect(200)
    .expect('content-type', /application\/json/);
  assert.equal(res.body.apiVersion, 'admission.k8s.io/v1');
  assert.equal(res.body.kind, 'AdmissionReview');
  assert.equal(res.body.response.uid, req.uid);
  assert.equal(res.body.response.allowed, true);
  assert.equal(res.body.response.patchType, 'JSONPatch');
  assert.ok(patchOps(res.body.response).some((op) => op.path === '/spec/initContainers'));
});

test('POST /mutate-pods denial carries status.code 403 and the message', async () => {
  const { app } = setup();
  const req = podRequest(pod('port-clash'));
  const res = await request(app).post('/mutate-pods').send(review(req)).expect(200);
  assert.deepEqual(res.body.response, {
    uid: req.uid,
    allowed: false,
    status: {
      code: 403,
      reason: 'Forbidden',
      message: 'relay "kube-scheduler" listens on port 10259/TCP, which container "web" also uses',
    },
  });
});

test('POST /validate-relays denies a non-loopback relay and allows a good one', async () => {
  const { app } = setup();
  const bad = relayRequest({
    apiVersion: 'socat.io/v1alpha1',
    kind: 'Relay',
    metadata: { name: 'meta' },
    spec: { target: { host: '169.254.169.254', port: 8080 }, consumers: { namespaces: ['a'] } },
  });
  const res = await request(app).post('/validate-relays').send(review(bad)).expect(200);
  assert.deepEqual(res.body.response, {
    uid: bad.uid,
    allowed: false,
    status: {
      code: 403,
      reason: 'Forbidden',
      message:
        'spec.target.host: 169.254.169.254 is link-local (cloud metadata lives there); only loopback targets are allowed',
    },
  });
  const good = relayRequest(catalog().get('kube-scheduler'), { operation: 'UPDATE' });
  const ok = await request(app).post('/validate-relays').send(review(good)).expect(200);
  assert.deepEqual(ok.body.response, {
    uid: good.uid,
    allowed: true,
    warnings: ['relay "scheduler-copy" also listens on 10259/TCP: one pod cannot consume both'],
  });
});

const envelope = { apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview' };
const malformed: {
  name: string;
  send: (r: request.Test) => request.Test;
  status: number;
  message: string | RegExp;
  uid?: string;
}[] = [
  {
    name: 'bad JSON',
    send: (r) => r.set('content-type', 'application/json').send('{"apiVersion": '),
    status: 400,
    message: /^the body is not valid JSON: /,
  },
  {
    name: 'empty body',
    send: (r) => r.set('content-type', 'application/json').send(''),
    status: 400,
    message: /^the body is not valid JSON: /,
  },
  {
    name: 'wrong content type',
    send: (r) => r.set('content-type', 'text/plain').send('{}'),
    status: 415,
    message: 'content type must be application/json, got "text/plain"',
  },
  {
    name: 'empty content type',
    send: (r) => r.send(Buffer.from('{}')).set('content-type', ''),
    status: 415,
    message: 'content type must be application/json, got ""',
  },
  {
    name: 'oversized body',
    send: (r) =>
      r.set('content-type', 'application/json').send(JSON.stringify({ ...envelope, pad: 'x'.repeat(3 * 1024 * 1024) })),
    status: 413,
    message: 'the body is larger than 3145728 bytes',
  },
  {
    name: 'wrong apiVersion (v1beta1)',
    send: (r) => r.send({ ...envelope, apiVersion: 'admission.k8s.io/v1beta1', request: { uid: 'u-9' } }),
    status: 400,
    message: 'admission.k8s.io/v1beta1 is not supported: set admissionReviewVersions: [v1]',
    uid: 'u-9',
  },
  {
    name: 'wrong kind',
    send: (r) => r.send({ ...envelope, kind: 'Pod', request: { uid: 'u-8' } }),
    status: 400,
    message: 'kind must be AdmissionReview, got "Pod"',
    uid: 'u-8',
  },
  {
    name: 'missing request',
    send: (r) => r.send(envelope),
    status: 400,
    message: 'the AdmissionReview has no request',
  },
  {
    name: 'missing uid',
    send: (r) =>
      r.send({ ...envelope, request: { kind: { group: '', version: 'v1', kind: 'Pod' }, operation: 'CREATE' } }),
    status: 400,
    message: 'request.uid is required',
  },
  { name: 'a JSON array', send: (r) => r.send([]), status: 400, message: 'the body must be an AdmissionReview object' },
  {
    name: 'JSON null',
    send: (r) => r.set('content-type', 'application/json').send('null'),
    status: 400,
    message: 'the body must be an AdmissionReview object',
  },
];
for (const path of ['/mutate-pods', '/validate-relays']) {
  for (const m of malformed) {
    test(`POST ${path} ${m.name} → ${m.status} AdmissionReview`, async () => {
      const { app, metrics } = setup();
      const res = await m.send(request(app).post(path));
      assert.equal(res.status, m.status);
      assert.match(res.get('content-type') ?? '', /^application\/json/);
      const message = typeof m.message === 'string' ? m.message : res.body?.response?.status?.message;
      if (typeof m.message !== 'string') assert.match(String(message), m.message);
      // The exact body, as controller-runtime's http_test asserts it.
      assert.deepEqual(res.body, {
        apiVersion: 'admission.k8s.io/v1',
        kind: 'AdmissionReview',
        response: { uid: m.uid ?? '', allowed: false, status: { code: m.status, message } },
      });
      const webhook = path.slice(1);
      assert.match(
        await metrics.registry.metrics(),
        new RegExp(`socat_relay_admission_requests_total\\{webhook="${webhook}",outcome="invalid"\\} 1`),
      );
    });
  }
}

test('GET on a webhook path → 405 AdmissionReview', async () => {
  const res = await request(setup().app).get('/mutate-pods').expect(405);
  assert.equal(res.body.response.status.code, 405);
});

test('/healthz is ok; /readyz follows the catalog and the extra readiness', async () => {
  const unsynced = Object.assign(new StaticCatalog(), { synced: () => false });
  await request(setup().app).get('/healthz').expect(200, 'ok\n');
  await request(setup().app).get('/readyz').expect(200, 'ok\n');
  await request(setup({ catalog: unsynced }).app)
    .get('/readyz')
    .expect(503, 'relay catalog not synced\n');
  await request(setup({ ready: () => ({ ok: false, reason: 'no serving certificate' }) }).app)
    .get('/readyz')
    .expect(503, 'no serving certificate\n');
});

test('the metrics count requests by outcome, latency, injections by relay and denials by reason; /metrics is not on the webhook port', async () => {
  const { app, metrics } = setup();
  await request(app)
    .post('/mutate-pods')
    .send(review(podRequest(pod('basic'))))
    .expect(200);
  await request(app)
    .post('/mutate-pods')
    .send(review(podRequest(pod('port-clash'))))
    .expect(200);
  await request(app)
    .post('/mutate-pods')
    .send(review(podRequest(pod('unlabeled'))))
    .expect(200);
  metrics.watchRestarts.inc({ resource: 'relays' });
  await request(app).get('/metrics').expect(404);
  const text = await metrics.registry.metrics();
  for (const line of [
    'socat_relay_admission_requests_total{webhook="mutate-pods",outcome="patched"} 1',
    'socat_relay_admission_requests_total{webhook="mutate-pods",outcome="denied"} 1',
    'socat_relay_admission_requests_total{webhook="mutate-pods",outcome="allowed"} 1',
    'socat_relay_admission_duration_seconds_count{webhook="mutate-pods"} 3',
    'socat_relay_injections_total{relay="kube-scheduler"} 1',
    'socat_relay_admission_denials_total{reason="port-clash"} 1',
    'socat_relay_watch_restarts_total{resource="relays"} 1',
  ])
    assert.ok(text.includes(line), `missing: ${line}\n${text}`);
});

test('a handler that throws answers 200 with status.code 500 and the uid, and the server goes on', async () => {
  const throwing = Object.assign(catalog(), {
    get: () => {
      throw new Error('boom');
    },
  });
  const { app } = setup({ catalog: throwing });
  const req = podRequest(pod('basic'));
  const res = await request(app).post('/mutate-pods').send(review(req)).expect(200);
  assert.deepEqual(res.body.response, {
    uid: req.uid,
    allowed: false,
    status: { code: 500, message: 'internal error: boom' },
  });
  await request(app).get('/healthz').expect(200);
});

test('unknown paths are 404', async () => {
  await request(setup().app).get('/nope').expect(404);
});

test('each admission request logs through a child logger carrying uid, kind, namespace, name, operation and user', async () => {
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      lines.push(JSON.parse(chunk.toString()));
      cb();
    },
  });
  const app = createApp({
    catalog: catalog(),
    namespaceLabels: (ns) => NAMESPACE_LABELS[ns],
    injectOptions: () => defaultInjectOptions(),
    metrics: createMetrics(),
    log: pino({ level: 'info' }, sink),
  });
  const req = podRequest(pod('basic'));
  await request(app).post('/mutate-pods').send(review(req)).expect(200);
  const line = lines.find((l) => l.msg === 'sidecars injected');
  assert.ok(line, JSON.stringify(lines));
  assert.deepEqual(
    {
      uid: line.uid,
      kind: line.kind,
      namespace: line.namespace,
      name: line.name,
      operation: line.operation,
      user: line.user,
      relays: line.relays,
    },
    {
      uid: req.uid,
      kind: 'Pod',
      namespace: 'monitoring',
      name: 'prometheus',
      operation: 'CREATE',
      user: 'system:serviceaccount:kube-system:replicaset-controller',
      relays: ['kube-scheduler'],
    },
  );
});

test('the README example review (test/fixtures/admission/review-pod.json) is patched with its uid', async () => {
  const { readFileSync } = await import('node:fs');
  const { FIXTURES } = await import('../../../harness/admission.js');
  const body = readFileSync(`${FIXTURES}/admission/review-pod.json`, 'utf8');
  const res = await request(setup().app)
    .post('/mutate-pods')
    .set('content-type', 'application/json')
    .send(body)
    .expect(200);
  assert.equal(res.body.response.uid, '3b4c1a52-6a0e-4f55-9d3e-000000000001');
  assert.deepEqual(
    patchOps(res.body.response).map((o) => `${o.op} ${o.path}`),
    ['add /spec/volumes', 'add /spec/affinity', 'add /spec/initContainers', 'add /metadata/annotations'],
  );
});
