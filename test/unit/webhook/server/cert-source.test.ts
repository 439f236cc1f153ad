// A server fed by a CertSource (the self-managed certificates, webhook/certs/): it waits for the first
// pair, serves each new one on new connections without a restart, refuses an unusable pair (the last
// good one stays), and sets the certificate-expiry metric from the pair in use — for the webhook port
// and the metrics port alike.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import tls from 'node:tls';
import { makeCA, makeWebhookCerts } from '../../../../certs/selfsigned.js';
import { silentLogger } from '../../../../lib/log.js';
import { createMetrics } from '../../../../webhook/metrics.js';
import { CertSource } from '../../../../webhook/server/cert-source.js';
import { CertificateError } from '../../../../webhook/server/certwatcher.js';
import { MetricsServer } from '../../../../webhook/server/metrics-server.js';
import { WebhookServer } from '../../../../webhook/server/server.js';
import { defaultInjectOptions } from '../../../../webhook/admission/index.js';
import { catalog } from '../../../harness/admission.js';

function served(port: number, ca: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = tls.connect({ host: '127.0.0.1', port, ca, servername: 'localhost' }, () => {
      const fp = s.getPeerCertificate().fingerprint256;
      s.end();
      resolve(fp);
    });
    s.on('error', reject);
  });
}

test('servers on a CertSource: wait for the first pair, serve each new one, keep the last good one, set the expiry metric', async (t) => {
  const ca = await makeCA();
  const [first, second] = [await makeWebhookCerts({ ca, days: 30 }), await makeWebhookCerts({ ca, days: 60 })];
  const pair = (c: typeof first) => ({ cert: Buffer.from(c.serving.cert), key: Buffer.from(c.serving.key) });
  const fp = (c: typeof first) => new X509Certificate(c.serving.cert).fingerprint256;
  const source = new CertSource();
  const metrics = createMetrics();
  const server = new WebhookServer({
    port: 0,
    host: '127.0.0.1',
    certSource: source,
    catalog: catalog(),
    namespaceLabels: () => ({}),
    injectOptions: () => defaultInjectOptions(),
    metrics,
    log: silentLogger,
  });
  const metricsServer = new MetricsServer({
    port: 0,
    host: '127.0.0.1',
    certSource: source,
    registry: metrics.registry,
    auth: 'none',
    log: silentLogger,
  });
  let started = false;
  const starting = Promise.all([server.start(), metricsServer.start()]).then((a) => {
    started = true;
    return a;
  });
  t.after(async () => {
    await server.stop();
    await metricsServer.stop();
  });
  await new Promise((r) => setTimeout(r, 100));
  assert.equal(started, false, 'no server listens before the first certificate');
  assert.equal(source.set(pair(first)), true);
  const [{ port }, { port: metricsPort }] = await starting;
  assert.equal(await served(port, ca.cert), fp(first));
  assert.equal(await served(metricsPort, ca.cert), fp(first));
  const expiry = async () =>
    (await metrics.registry.getSingleMetric('socat_relay_certificate_expiry_timestamp_seconds')!.get()).values[0]!
      .value;
  assert.equal(await expiry(), Date.parse(new X509Certificate(first.serving.cert).validTo) / 1000);

  assert.equal(source.set(pair(second)), true);
  assert.equal(source.set(pair(second)), false, 'the same bytes again: nothing happens');
  assert.equal(await served(port, ca.cert), fp(second));
  assert.equal(await served(metricsPort, ca.cert), fp(second));
  assert.equal(await expiry(), Date.parse(new X509Certificate(second.serving.cert).validTo) / 1000);

  assert.throws(
    () => source.set({ cert: Buffer.from(first.serving.cert), key: Buffer.from(second.serving.key) }),
    CertificateError,
  );
  assert.equal(await served(port, ca.cert), fp(second), 'the last good pair stays');
});
