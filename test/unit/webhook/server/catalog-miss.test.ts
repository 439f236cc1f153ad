// A pod that asks for a Relay the watch-fed catalog has not seen yet (created a moment before, in the
// same `kubectl apply -k`) is injected after a live lookup, not denied; a relay that does not exist is
// still denied, and the lookups stay bounded.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import request from 'supertest';
import { silentLogger } from '../../../../lib/log.js';
import type { Relay } from '../../../../relay/index.js';
import { createApp } from '../../../../webhook/server/app.js';
import { MAX_LOOKUPS, NEGATIVE_TTL_MS, RelayLookup } from '../../../../webhook/server/catalog-miss.js';
import { createMetrics } from '../../../../webhook/metrics.js';
import { StaticCatalog } from '../../../../webhook/catalog/catalog.js';
import { defaultInjectOptions } from '../../../../webhook/admission/index.js';
import { catalog, pod, podRequest, NAMESPACE_LABELS } from '../../../harness/admission.js';

const review = (req: unknown) => ({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request: req });

function setup(live: Map<string, Relay>, now = () => 0) {
  const asked: string[] = [];
  const lookup = new RelayLookup(async (name) => {
    asked.push(name);
    return live.get(name);
  }, now);
  const metrics = createMetrics();
  const app = createApp({
    catalog: new StaticCatalog([]), // the informer has not seen any Relay yet
    namespaceLabels: (ns) => NAMESPACE_LABELS[ns],
    injectOptions: () => defaultInjectOptions(),
    metrics,
    log: silentLogger,
    relayLookup: lookup,
  });
  return { app, asked, metrics };
}

test('a relay missing from the catalog but present in the API: looked up, and the pod injected', async () => {
  const { app, asked, metrics } = setup(new Map([['kube-scheduler', catalog().get('kube-scheduler')!]]));
  const res = await request(app)
    .post('/mutate-pods')
    .send(review(podRequest(pod('basic'))))
    .expect(200);
  assert.equal(res.body.response.allowed, true, JSON.stringify(res.body.response.status));
  assert.equal(res.body.response.patchType, 'JSONPatch');
  assert.deepEqual(asked, ['kube-scheduler']);
  assert.match(
    await metrics.registry.metrics(),
    /socat_relay_admission_requests_total\{webhook="mutate-pods",outcome="patched"\} 1/,
  );
});

test('a relay that exists nowhere: still denied naming it, and asked again only after the negative TTL', async () => {
  let t = 0;
  const { app, asked } = setup(new Map(), () => t);
  for (let i = 0; i < 3; i++) {
    const res = await request(app)
      .post('/mutate-pods')
      .send(review(podRequest(pod('basic'))))
      .expect(200);
    assert.equal(res.body.response.allowed, false);
    assert.match(res.body.response.status.message, /relay "kube-scheduler" not found/);
  }
  assert.deepEqual(asked, ['kube-scheduler'], 'one lookup within the TTL');
  t = NEGATIVE_TTL_MS;
  await request(app)
    .post('/mutate-pods')
    .send(review(podRequest(pod('basic'))))
    .expect(200);
  assert.deepEqual(asked, ['kube-scheduler', 'kube-scheduler']);
});

test(`a pod asking for 5 000 relays that do not exist costs at most ${MAX_LOOKUPS} lookups`, async () => {
  const { app, asked } = setup(new Map());
  const p = pod('basic');
  p.metadata!.annotations = { 'socat.io/consume': Array.from({ length: 5000 }, (_, i) => `r${i}`).join(',') };
  const res = await request(app)
    .post('/mutate-pods')
    .send(review(podRequest(p)))
    .expect(200);
  assert.equal(res.body.response.allowed, false);
  assert.equal(asked.length, MAX_LOOKUPS);
});

test('a failing lookup leaves the denial as it was (and the request answered)', async () => {
  const metrics = createMetrics();
  const app = createApp({
    catalog: new StaticCatalog([]),
    namespaceLabels: (ns) => NAMESPACE_LABELS[ns],
    injectOptions: () => defaultInjectOptions(),
    metrics,
    log: silentLogger,
    relayLookup: new RelayLookup(async () => {
      throw new Error('API down');
    }),
  });
  const res = await request(app)
    .post('/mutate-pods')
    .send(review(podRequest(pod('basic'))))
    .expect(200);
  assert.equal(res.body.response.allowed, false);
  assert.match(res.body.response.status.message, /not found/);
});
