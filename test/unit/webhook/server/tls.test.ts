// Real TLS: the server serves the certificate files, picks up a rotation without a restart (the folder
// watch, not a manual reload), and keeps the last good pair when the new files are broken.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtemp, rm, writeFile, rename } from 'node:fs/promises';
import { X509Certificate } from 'node:crypto';
import https from 'node:https';
import tls from 'node:tls';
import os from 'node:os';
import path from 'node:path';
import { makeCA, makeWebhookCerts } from '../../../../certs/selfsigned.js';
import { writeCerts } from '../../../../certs/write.js';
import { silentLogger } from '../../../../lib/log.js';
import { createMetrics } from '../../../../webhook/metrics.js';
import { WebhookServer } from '../../../../webhook/server/server.js';
import { defaultInjectOptions } from '../../../../webhook/admission/index.js';
import { catalog, pod, podRequest } from '../../../harness/admission.js';

function peerFingerprint(port: number, ca: string): Promise<{ fingerprint: string; protocol: string | null }> {
  return new Promise((resolve, reject) => {
    const s = tls.connect({ host: '127.0.0.1', port, ca, servername: 'localhost' }, () => {
      const out = { fingerprint: s.getPeerCertificate().fingerprint256, protocol: s.getProtocol() };
      s.end();
      resolve(out);
    });
    s.on('error', reject);
  });
}

function post(port: number, ca: string, path: string, body: unknown): Promise<{ status: number; body: any }> {
  return new Promise((resolve, reject) => {
    const data = JSON.stringify(body);
    const req = https.request(
      {
        host: '127.0.0.1',
        port,
        path,
        method: 'POST',
        ca,
        servername: 'localhost',
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data) },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, body: JSON.parse(Buffer.concat(chunks).toString()) }),
        );
      },
    );
    req.on('error', reject);
    req.end(data);
  });
}

test(
  'the TLS server answers admission, reloads rotated certificate files and keeps the last good pair',
  { timeout: 30_000 },
  async (t) => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'socat-relay-tls-'));
    t.after(() => rm(dir, { recursive: true, force: true }));
    const ca = await makeCA();
    const first = await makeWebhookCerts({ ca });
    const second = await makeWebhookCerts({ ca });
    const files = await writeCerts(dir, first);
    const metrics = createMetrics();
    const server = new WebhookServer({
      port: 0,
      host: '127.0.0.1',
      certFile: files.cert!,
      keyFile: files.key!,
      certPollMs: 60_000,
      catalog: catalog(),
      namespaceLabels: () => ({}),
      injectOptions: () => defaultInjectOptions(),
      metrics,
      log: silentLogger,
    });
    const { port } = await server.start();
    t.after(() => server.stop());

    const fp = (pem: string) => new X509Certificate(pem).fingerprint256;
    const a = await peerFingerprint(port, ca.cert);
    assert.equal(a.fingerprint, fp(first.serving.cert));
    assert.match(a.protocol ?? '', /^TLSv1\.[23]$/);

    const req = podRequest(pod('basic'));
    const res = await post(port, ca.cert, '/mutate-pods', {
      apiVersion: 'admission.k8s.io/v1',
      kind: 'AdmissionReview',
      request: req,
    });
    assert.equal(res.status, 200);
    assert.equal(res.body.response.uid, req.uid);
    assert.equal(res.body.response.patchType, 'JSONPatch');

    // Rotation as cert-manager does it: new files in place; the folder watch notices.
    const reloaded = once(server.events, 'certificate-reloaded');
    await writeCerts(dir, second);
    await reloaded;
    assert.equal((await peerFingerprint(port, ca.cert)).fingerprint, fp(second.serving.cert));

    // A broken certificate file: rejected, the second pair stays in use.
    const rejected = once(server.events, 'certificate-rejected');
    await writeFile(`${files.cert}.tmp`, '-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n');
    await rename(`${files.cert}.tmp`, files.cert!);
    const [err] = await rejected;
    assert.match((err as Error).message, /certificate does not parse/);
    assert.equal((await peerFingerprint(port, ca.cert)).fingerprint, fp(second.serving.cert));

    // A certificate whose key is elsewhere (first cert, second key): rejected too.
    const mismatch = once(server.events, 'certificate-rejected');
    await writeFile(`${files.cert}.tmp`, first.serving.cert);
    await rename(`${files.cert}.tmp`, files.cert!);
    assert.match(((await mismatch)[0] as Error).message, /does not match/);
    assert.equal((await peerFingerprint(port, ca.cert)).fingerprint, fp(second.serving.cert));

    const text = await metrics.registry.metrics();
    assert.match(text, /socat_relay_cert_reloads_total\{result="ok"\} 1\n/);
    assert.match(text, /socat_relay_cert_reloads_total\{result="rejected"\} 2\n/);
  },
);

test('start fails clearly when the first certificate is unusable', async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'socat-relay-tls-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  await writeFile(path.join(dir, 'tls.crt'), 'garbage');
  await writeFile(path.join(dir, 'tls.key'), 'garbage');
  const server = new WebhookServer({
    port: 0,
    host: '127.0.0.1',
    certFile: path.join(dir, 'tls.crt'),
    keyFile: path.join(dir, 'tls.key'),
    catalog: catalog(),
    namespaceLabels: () => ({}),
    injectOptions: () => defaultInjectOptions(),
    metrics: createMetrics(),
    log: silentLogger,
  });
  await assert.rejects(server.start(), /certificate does not parse/);
  await server.stop();
});
