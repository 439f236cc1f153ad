// The self-managed webhook certificates (SOCAT_RELAY_CERTIFICATES=self-managed, manifests/self-managed-certs/)
// on a real API server, with lifetimes short enough to watch them turn over: a CA of 60 s and serving
// certificates of 20 s, checked every half second. Two controllers run as the serving ServiceAccount
// (impersonated) with the manifests' own RBAC — the Secrets and webhook configurations by name only —
// against the manifests' empty Secrets and the real webhook configurations (called by URL, no
// caBundle given: the controller fills it). For 75 s admission requests go through both webhooks
// without pause; not one may fail, while the serving certificate is renewed several times and the CA
// once (the caBundle holding old and new CA across the switch).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import tls from 'node:tls';
import { parse, stringify } from 'yaml';
import { INJECTED_ANNOTATION } from '../../relay/index.js';
import { splitPem } from '../../certs/rotation.js';
import { CA_SECRET, SERVING_SECRET } from '../../webhook/certs/names.js';
import {
  ApiError,
  applyAll,
  installCrds,
  readManifests,
  skipUnlessControlPlane,
  startControlPlane,
  startController,
  waitFor,
  waitUntilWebhookCalled,
  webhooksForUrl,
  type ControlPlane,
  type KubeObject,
  type RunningController,
} from '../harness/index.js';
import { createNamespace } from '../harness/controlplane.js';
import { consumerPod, relay, webhookOnlyBad, type AnyObject } from '../harness/apiserver-fixtures.js';

const NS = 'socat-relay-system';
const SA_USER = `system:serviceaccount:${NS}:socat-relay-controller`;
const RUN_MS = 75_000;
const skip = skipUnlessControlPlane();

/** The admin kubeconfig, acting as the serving controllers' ServiceAccount. */
function impersonating(kubeconfigPath: string, user: string): string {
  const kc = parse(readFileSync(kubeconfigPath, 'utf8'));
  for (const u of kc.users) u.user.as = user;
  const out = path.join(path.dirname(kubeconfigPath), 'kubeconfig-serving-sa');
  writeFileSync(out, stringify(kc), { mode: 0o600 });
  return out;
}

/** The certificate the controller serves right now (a fresh TLS handshake). */
function servedCertificate(port: number): Promise<X509Certificate> {
  return new Promise((resolve, reject) => {
    const s = tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false }, () => {
      const raw = s.getPeerX509Certificate();
      s.end();
      if (raw) resolve(raw);
      else reject(new Error('no peer certificate'));
    });
    s.on('error', reject);
  });
}

const b64 = (s: string | undefined) => Buffer.from(s ?? '', 'base64').toString('utf8');

describe('self-managed certificates on a real API server: made, rotated, the caBundle following, admission never failing', () => {
  let cp: ControlPlane | undefined;
  let ctl: RunningController | undefined;
  let ctl2: RunningController | undefined;
  const api = () => cp!.client;
  const bundles = async (): Promise<string[]> => {
    const out: string[] = [];
    for (const kind of ['MutatingWebhookConfiguration', 'ValidatingWebhookConfiguration']) {
      const o = await api().get<AnyObject>('admissionregistration.k8s.io/v1', kind, 'socat-relay');
      for (const w of o.webhooks) out.push(b64(w.clientConfig.caBundle));
    }
    return out;
  };

  before(async () => {
    if (skip) return;
    cp = await startControlPlane({ namespaces: ['consumers'] });
    await createNamespace(api(), NS);
    await installCrds(api());
    // What the install applies: the ServiceAccount and RBAC of the serving controllers, the two empty
    // Secrets and their Role; the webhook configurations with a URL and no caBundle.
    await applyAll(api(), readManifests('controller/serviceaccount.yaml', 'controller/rbac.yaml'));
    await applyAll(api(), readManifests('self-managed-certs/secrets.yaml', 'self-managed-certs/rbac.yaml'));
    const hooks = webhooksForUrl(readManifests('webhook'), { baseUrl: 'https://127.0.0.1:1', caBundle: '' });
    // Two serving controllers (two control-plane nodes), started together on the empty Secrets: both
    // make a CA at once, one write wins, the other reads it. The webhooks call the first by URL; the
    // second is what the Service would send the next request to.
    const serving = (nodeName: string) =>
      startController({
        kubeconfigPath: impersonating(cp!.kubeconfigPath, SA_USER),
        dir: cp!.dir,
        nodeName,
        selfManagedCerts: true,
        env: {
          POD_NAMESPACE: NS,
          SOCAT_RELAY_CA_LIFETIME: '60s',
          SOCAT_RELAY_CERT_LIFETIME: '20s',
          SOCAT_RELAY_CERT_CHECK_SECONDS: '0.5',
        },
      });
    [ctl, ctl2] = await Promise.all([serving('cp-1'), serving('cp-2')]);
    for (const h of hooks as AnyObject[])
      for (const w of h.webhooks) {
        w.clientConfig.url = w.clientConfig.url.replace('https://127.0.0.1:1', ctl.baseUrl);
        delete w.clientConfig.caBundle;
      }
    await applyAll(api(), hooks);
    await waitFor('the caBundle in every webhook entry', async () => (await bundles()).every((b) => b !== ''), {
      timeoutMs: 30_000,
      intervalMs: 250,
    });
    await waitUntilWebhookCalled('the relay webhook', async () => {
      const err = await api()
        .create(relay('probe', webhookOnlyBad), { dryRun: true })
        .then(
          () => undefined,
          (e: unknown) => e,
        );
      return err instanceof ApiError && err.message.includes('relays.socat.io');
    });
    await api().create(relay('node-http'));
    await waitUntilWebhookCalled('the pod webhook', async () => {
      const dry = await api()
        .create(consumerPod('probe', 'consumers', 'node-http'), { dryRun: true })
        .catch(() => undefined);
      return dry?.metadata.annotations?.[INJECTED_ANNOTATION] !== undefined;
    });
  });
  after(async () => {
    await ctl?.stop();
    await ctl2?.stop();
    await cp?.stop();
  });

  test(
    'for 75 s: the serving certificate renewed, the CA rotated with an overlap, every admission answered by the webhook',
    { skip },
    async (t) => {
      const failures: string[] = [];
      let requests = 0;
      const served = new Map<string, X509Certificate>();
      const signers = new Set<string>();
      let mostTrusted = 0;
      const end = Date.now() + RUN_MS;
      while (Date.now() < end) {
        // The Relay webhook fails closed: a TLS failure is a refused Relay ("failed calling webhook").
        const good = await api()
          .create(relay(`ok-${requests}`), { dryRun: true })
          .then(
            () => undefined,
            (e: unknown) => String(e),
          );
        if (good) failures.push(`a valid Relay was refused: ${good}`);
        const bad = await api()
          .create(relay(`bad-${requests}`, webhookOnlyBad), { dryRun: true })
          .then(
            () => 'admitted',
            (e: unknown) => String(e),
          );
        if (!/nodeSelector/.test(bad)) failures.push(`the invalid Relay was not refused by our webhook: ${bad}`);
        // The pod webhook fails open: a TLS failure is a pod without its sidecar.
        const pod = await api()
          .create(consumerPod(`c-${requests}`, 'consumers', 'node-http'), { dryRun: true })
          .catch((e: unknown) => ({ error: String(e) }) as unknown as KubeObject);
        if (pod.metadata?.annotations?.[INJECTED_ANNOTATION] === undefined)
          failures.push(`a consumer pod was not injected: ${JSON.stringify(pod).slice(0, 300)}`);
        requests += 3;

        // What is served and what the API server trusts, now: the issuer of the one is in the other.
        const cert = await servedCertificate(ctl!.port);
        served.set(cert.fingerprint256, cert);
        const trusted = await bundles();
        mostTrusted = Math.max(mostTrusted, ...trusted.map((b) => splitPem(b).length));
        for (const [i, b] of trusted.entries()) {
          const signer = splitPem(b)
            .map((p) => new X509Certificate(p))
            .find((ca) => cert.verify(ca.publicKey));
          if (!signer) failures.push(`the served certificate is signed by no CA of webhook entry ${i}'s caBundle`);
          else signers.add(signer.fingerprint256);
        }
        await new Promise((r) => setTimeout(r, 200));
      }
      t.diagnostic(
        `${requests} admission requests; ${served.size} serving certificates and ${signers.size} signing CAs seen; at most ${mostTrusted} CAs in a caBundle`,
      );
      assert.deepEqual(
        failures.slice(0, 5),
        [],
        `${failures.length} of ${requests} admission requests or checks failed`,
      );
      assert.ok(served.size >= 4, `the serving certificate was renewed (${served.size} seen in ${RUN_MS / 1000} s)`);
      assert.ok(signers.size >= 2, `the CA was rotated (${signers.size} signing CAs seen)`);
      assert.ok(mostTrusted >= 2, 'the caBundle held the old and the new CA across the switch');
      assert.ok(requests > 100, `${requests} admission requests`);
    },
  );

  test(
    'the Secrets hold what both controllers serve; the old CA has left the caBundle once expired',
    { skip },
    async () => {
      // Both serve what the serving Secret holds (within a check of a renewal).
      let ca: AnyObject = {} as AnyObject;
      let serving: AnyObject = {} as AnyObject;
      let cert: X509Certificate | undefined;
      await waitFor(
        "both controllers to serve the serving Secret's certificate",
        async () => {
          ca = await api().get<AnyObject>('v1', 'Secret', CA_SECRET, NS);
          serving = await api().get<AnyObject>('v1', 'Secret', SERVING_SECRET, NS);
          const want = new X509Certificate(b64(serving.data['tls.crt'])).fingerprint256;
          cert = await servedCertificate(ctl!.port);
          return cert.fingerprint256 === want && (await servedCertificate(ctl2!.port)).fingerprint256 === want;
        },
        { timeoutMs: 5000, intervalMs: 100 },
      );
      const signer = new X509Certificate(b64(ca.data['tls.crt']));
      assert.ok(cert!.verify(signer.publicKey), 'signed by the CA in socat-relay-webhook-ca');
      for (const b of await bundles()) {
        const cas = splitPem(b).map((p) => new X509Certificate(p));
        assert.ok(
          cas.every((x) => Date.parse(x.validTo) > Date.now() - 2000),
          'no expired CA in the caBundle',
        );
        assert.ok(cas.some((x) => x.fingerprint256 === signer.fingerprint256));
      }
      assert.equal(b64(serving.data['ca.crt']), b64(ca.data['ca.crt']));
    },
  );
});
