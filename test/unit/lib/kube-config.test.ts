// lib/kube-config.ts: API calls made through a PooledKubeConfig share their TLS connections, as
// client-node's own KubeConfig does not (it opens one per request) — against a TLS server on loopback that
// counts the connections it accepts; new TLS settings (a rotated client certificate) get a new pool; a
// watch is not cut by the body timeout that still bounds every other request.
// Calls are a moment apart, as the controller's are (seconds): undici hands a connection back to its
// pool just after the response has resolved, so a call made in the same tick may open a second one.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { CoreV1Api, KubeConfig, Watch } from '@kubernetes/client-node';
import { makeCA, makeLeaf, makeWebhookCerts } from '../../../certs/selfsigned.js';
import { isWatchPath, PooledKubeConfig } from '../../../lib/kube-config.js';

const NAMESPACE = { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'default' } };

/** A TLS API server; `stall`: a watch sends an event now and one after 1.5 s, any other call stalls mid-body. */
async function apiServer(t: { after(fn: () => unknown): void }, stall = false) {
  const { ca, serving } = await makeWebhookCerts();
  let connections = 0;
  const server = https.createServer(
    { cert: serving.cert, key: serving.key, requestCert: true, rejectUnauthorized: false },
    (req, res) => {
      res.setHeader('content-type', 'application/json');
      if (!stall) return void res.end(JSON.stringify(NAMESPACE));
      if (!isWatchPath(req.url ?? '')) return void res.write('{"apiVersion":');
      const event = () => res.write(`${JSON.stringify({ type: 'ADDED', object: NAMESPACE })}\n`);
      event();
      setTimeout(event, 1500);
    },
  );
  server.on('secureConnection', () => connections++);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => {
    server.closeAllConnections();
    server.close();
  });
  return { ca, url: `https://127.0.0.1:${(server.address() as AddressInfo).port}`, connections: () => connections };
}

const pause = () => new Promise((r) => setTimeout(r, 20));

async function load(kc: KubeConfig, url: string, caPem: string, client: { cert: string; key: string }) {
  const b64 = (s: string) => Buffer.from(s).toString('base64');
  kc.loadFromOptions({
    clusters: [{ name: 'c', server: url, caData: b64(caPem) }],
    users: [{ name: 'u', certData: b64(client.cert), keyData: b64(client.key) }],
    contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
    currentContext: 'x',
  });
  return kc;
}

test('five calls: one TLS connection with PooledKubeConfig, five with client-node KubeConfig', async (t) => {
  const s = await apiServer(t);
  const clientCa = await makeCA('client-ca');
  const client = await makeLeaf(clientCa, { commonName: 'admin', usage: 'client' });

  const plain = (await load(new KubeConfig(), s.url, s.ca.cert, client)).makeApiClient(CoreV1Api);
  for (let i = 0; i < 5; i++) await plain.readNamespace({ name: 'default' });
  const unpooled = s.connections();

  const kc = (await load(new PooledKubeConfig(), s.url, s.ca.cert, client)) as PooledKubeConfig;
  t.after(() => kc.close());
  const api = kc.makeApiClient(CoreV1Api);
  for (let i = 0; i < 5; i++) {
    assert.equal((await api.readNamespace({ name: 'default' })).metadata?.name, 'default');
    await pause();
  }
  assert.equal(unpooled, 5, 'client-node alone: a connection per request (the reason for PooledKubeConfig)');
  assert.equal(s.connections() - unpooled, 1, 'pooled: one connection for all five');
});

test('a rotated client certificate: the next call uses a new connection with it, then that one is kept', async (t) => {
  const s = await apiServer(t);
  const clientCa = await makeCA('client-ca');
  const first = await makeLeaf(clientCa, { commonName: 'admin', usage: 'client' });
  const second = await makeLeaf(clientCa, { commonName: 'admin', usage: 'client' });
  const kc = (await load(new PooledKubeConfig(), s.url, s.ca.cert, first)) as PooledKubeConfig;
  t.after(() => kc.close());
  await kc.makeApiClient(CoreV1Api).readNamespace({ name: 'default' });
  await pause();
  const user = kc.getCurrentUser()!;
  (user as { certData?: string }).certData = Buffer.from(second.cert).toString('base64');
  (user as { keyData?: string }).keyData = Buffer.from(second.key).toString('base64');
  const api = kc.makeApiClient(CoreV1Api);
  await api.readNamespace({ name: 'default' });
  await pause();
  await api.readNamespace({ name: 'default' });
  assert.equal(s.connections(), 2, 'one connection per client certificate');
});

test('isWatchPath: watch=true in the query, nothing else', () => {
  assert.equal(isWatchPath('/api/v1/namespaces?watch=true&resourceVersion=5'), true);
  assert.equal(isWatchPath('/api/v1/namespaces?resourceVersion=5&watch=true'), true);
  assert.equal(isWatchPath('/api/v1/namespaces?watch=false'), false);
  assert.equal(isWatchPath('/api/v1/namespaces/watch'), false);
  assert.equal(isWatchPath('/api/v1/namespaces'), false);
});

test('a watch silent for longer than the body timeout lives on; any other stalled response fails at it', async (t) => {
  const s = await apiServer(t, true);
  const clientCa = await makeCA('client-ca');
  const client = await makeLeaf(clientCa, { commonName: 'admin', usage: 'client' });
  const kc = (await load(new PooledKubeConfig({ bodyTimeoutMs: 300 }), s.url, s.ca.cert, client)) as PooledKubeConfig;
  t.after(() => kc.close());
  let events = 0;
  let ended: unknown = 'not ended';
  const abort = await new Watch(kc).watch(
    '/api/v1/namespaces',
    {},
    () => events++,
    (err) => (ended = err),
  );
  t.after(() => abort.abort());
  const t0 = Date.now();
  await assert.rejects(
    kc.makeApiClient(CoreV1Api).readNamespace({ name: 'default' }),
    (e: { cause?: { code?: string } }) => e.cause?.code === 'UND_ERR_BODY_TIMEOUT',
  );
  assert.ok(Date.now() - t0 < 1400, `the stalled read failed at the body timeout (${Date.now() - t0} ms)`);
  while (events < 2 && Date.now() - t0 < 5000) await new Promise((r) => setTimeout(r, 50));
  assert.equal(events, 2, 'the watch received the event sent 1.5 s after the first (5 × the body timeout)');
  assert.equal(ended, 'not ended', 'the watch is still open');
});
