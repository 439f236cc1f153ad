// `socat-relay check` against a real API server: the webhook configurations from manifests/webhook/, a
// Relay dry run through them, and our controller as a real process started while the command waits.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { makeWebhookCerts, type WebhookCerts } from '../../certs/selfsigned.js';
import {
  ApiError,
  installCrds,
  registerWebhooks,
  skipUnlessControlPlane,
  startControlPlane,
  startController,
  type ControlPlane,
  type RunningController,
  waitUntilWebhookCalled,
} from '../harness/index.js';
import { relay } from '../harness/apiserver-fixtures.js';
import { runCli } from '../harness/cli.js';
import { freePort } from '../harness/ports.js';

const skip = skipUnlessControlPlane();

describe('socat-relay check: waits until the API server can call the webhook', () => {
  let cp: ControlPlane | undefined;
  let ctl: RunningController | undefined;
  let certs: WebhookCerts;
  let port: number;
  const check = (...args: string[]) => runCli(['check', '--kubeconfig', cp!.kubeconfigPath, ...args]);
  const register = (caBundle = certs.caBundle) =>
    registerWebhooks(cp!.client, { baseUrl: `https://127.0.0.1:${port}`, caBundle });

  before(async () => {
    if (skip) return;
    cp = await startControlPlane();
    await installCrds(cp.client);
    certs = await makeWebhookCerts({ extraHosts: ['127.0.0.1', 'localhost'] });
    port = await freePort();
  });
  after(async () => {
    await ctl?.stop();
    await cp?.stop();
  });

  test('no webhook configuration: one try (--timeout 0) names the missing one, exit 1', { skip }, async () => {
    const r = await check('--timeout', '0');
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /gave up after 0 s: mutatingwebhookconfiguration socat-relay does not exist/);
    assert.equal(r.stdout, '');
  });

  test('configurations without a caBundle: it says so', { skip }, async () => {
    await register('');
    const r = await check('--timeout', '0');
    assert.equal(r.code, 1);
    assert.match(r.stderr, /no caBundle yet in pods\.socat\.io/);
  });

  test(
    "registered, nothing listening behind them: it waits, then gives up with the API server's reason",
    { skip },
    async () => {
      await register();
      // The API server calls a configuration once its informer has it: until then a dry run passes unasked.
      await waitUntilWebhookCalled('the Relay webhook (and fail)', async () => {
        const err = await cp!.client.create(relay('probe'), { dryRun: true }).then(
          () => undefined,
          (e: unknown) => e,
        );
        return err instanceof ApiError && err.message.includes('failed calling webhook');
      });
      const r = await check('--timeout', '3');
      assert.equal(r.code, 1);
      assert.match(r.stderr, /^check: waiting: the API server cannot call the webhook yet: .*failed calling webhook/m);
      assert.match(r.stderr, /gave up after 3 s: the API server cannot call the webhook yet/);
      // Nothing was created: the probe is a dry run.
      const relays = await cp!.client.request<{ items: unknown[] }>('GET', '/apis/socat.io/v1alpha1/relays');
      assert.deepEqual(relays.items, []);
    },
  );

  test('the controller starts while it waits: exit 0 once a dry-run Relay passes the webhook', { skip }, async () => {
    const waiting = check('--timeout', '120');
    ctl = await startController({ kubeconfigPath: cp!.kubeconfigPath, dir: cp!.dir, certs, port });
    const r = await waiting;
    assert.equal(r.code, 0, r.stderr);
    assert.match(
      r.stdout,
      /^the API server calls the webhook: a dry-run Relay passed relays\.socat\.io \(after [\d.]+ s\)\n$/,
    );
    const relays = await cp!.client.request<{ items: unknown[] }>('GET', '/apis/socat.io/v1alpha1/relays');
    assert.deepEqual(relays.items, [], 'a dry run creates nothing');
  });

  test(
    'failurePolicy Ignore on the Relay webhook: exit 1 at once, as a dry run cannot show an answer',
    { skip },
    async () => {
      await cp!.client.request(
        'PATCH',
        '/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations/socat-relay',
        {
          body: [{ op: 'replace', path: '/webhooks/0/failurePolicy', value: 'Ignore' }],
          contentType: 'application/json-patch+json',
        },
      );
      const r = await check('--timeout', '60');
      assert.equal(r.code, 1);
      assert.match(r.stderr, /relays\.socat\.io has failurePolicy Ignore, not Fail/);
    },
  );
});
