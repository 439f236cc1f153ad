// The controller's metrics port on a real API server: the controller runs as its own ServiceAccount
// with the manifests' RBAC (so tokenreviews/subjectaccessreviews create is proven sufficient), and a
// scraper's token is let in only when RBAC allows `get /metrics` — as controller-runtime's metrics
// filter and kube-rbac-proxy do. No token / an unknown token: 401; a token without the RBAC: 403.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import https from 'node:https';
import path from 'node:path';
import { stringify } from 'yaml';
import {
  installCrds,
  readManifests,
  skipUnlessControlPlane,
  startControlPlane,
  startController,
  type ControlPlane,
  type RunningController,
} from '../harness/index.js';
import { createNamespace } from '../harness/controlplane.js';

const skip = skipUnlessControlPlane();
const NS = 'monitoring';

function get(
  url: string,
  ca: string,
  token?: string,
): Promise<{ status: number; body: string; headers: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const req = https.get(
      url,
      { ca, timeout: 10_000, headers: token !== undefined ? { authorization: `Bearer ${token}` } : {} },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => {
          body += c;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body, headers: res.headers }));
      },
    );
    req.on('timeout', () => req.destroy(new Error(`GET ${url}: timeout`)));
    req.on('error', reject);
  });
}

async function tokenOf(cp: ControlPlane, namespace: string, name: string): Promise<string> {
  const r = await cp.client.request<{ status: { token: string } }>(
    'POST',
    `/api/v1/namespaces/${namespace}/serviceaccounts/${name}/token`,
    {
      body: { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest', spec: { expirationSeconds: 3600 } },
    },
  );
  return r.status.token;
}

describe('controller metrics behind TokenReview + SubjectAccessReview (real API server)', { skip }, () => {
  let cp: ControlPlane;
  let ctl: RunningController;
  const tokens: Record<string, string> = {};
  let url: string;

  before(async () => {
    cp = await startControlPlane();
    await installCrds(cp.client);
    for (const o of readManifests(
      'controller/namespace.yaml',
      'controller/serviceaccount.yaml',
      'controller/rbac.yaml',
    ))
      await cp.client.apply(o);
    await createNamespace(cp.client, NS);
    for (const name of ['scraper', 'stranger'])
      await cp.client.apply({ apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name, namespace: NS } });
    await cp.client.apply({
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRoleBinding',
      metadata: { name: 'scraper-metrics' },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'socat-relay-metrics-reader' },
      subjects: [{ kind: 'ServiceAccount', name: 'scraper', namespace: NS }],
    });
    for (const [key, [ns, name]] of Object.entries({
      scraper: [NS, 'scraper'],
      stranger: [NS, 'stranger'],
      controller: ['socat-relay-system', 'socat-relay-controller'],
    })) {
      tokens[key] = await tokenOf(cp, ns!, name!);
    }
    // The controller as its own ServiceAccount: nothing but the manifests' ClusterRole.
    const cluster = cp.kc.getCurrentCluster()!;
    const kubeconfig = path.join(cp.dir, 'controller.kubeconfig');
    writeFileSync(
      kubeconfig,
      stringify({
        apiVersion: 'v1',
        kind: 'Config',
        'current-context': 'sa',
        clusters: [
          { name: 'envtest', cluster: { server: cluster.server, 'certificate-authority-data': cluster.caData } },
        ],
        users: [{ name: 'controller', user: { token: tokens.controller } }],
        contexts: [{ name: 'sa', context: { cluster: 'envtest', user: 'controller' } }],
      }),
      { mode: 0o600 },
    );
    ctl = await startController({ kubeconfigPath: kubeconfig, dir: cp.dir, reconcile: false });
    url = `https://127.0.0.1:${ctl.metricsPort}/metrics`;
  });
  after(async () => {
    await ctl?.stop();
    await cp?.stop();
  });

  test('no token: 401 with WWW-Authenticate: Bearer', async () => {
    const r = await get(url, ctl.certs.ca.cert);
    assert.equal(r.status, 401);
    assert.equal(r.headers['www-authenticate'], 'Bearer');
    assert.match(r.body, /a bearer token is required/);
  });

  test('a token the API server does not know: 401', async () => {
    const r = await get(url, ctl.certs.ca.cert, 'not-a-real-token');
    assert.equal(r.status, 401, r.body);
    assert.match(r.body, /not accepted by the API server \(TokenReview\)/);
  });

  test('a real ServiceAccount token without the RBAC: 403 naming the user and the ClusterRole to bind', async () => {
    const r = await get(url, ctl.certs.ca.cert, tokens.stranger);
    assert.equal(r.status, 403, r.body);
    assert.match(r.body, /system:serviceaccount:monitoring:stranger may not get \/metrics/);
    assert.match(r.body, /socat-relay-metrics-reader/);
  });

  test("a token bound to socat-relay-metrics-reader: 200, the controller's metrics under their standard names", async () => {
    const r = await get(url, ctl.certs.ca.cert, tokens.scraper);
    assert.equal(r.status, 200, r.body);
    for (const name of [
      'process_cpu_user_seconds_total',
      'process_resident_memory_bytes',
      'nodejs_heap_size_used_bytes',
      'socat_relay_admission_requests_total',
      'socat_relay_cert_reloads_total',
    ]) {
      assert.match(r.body, new RegExp(`^# TYPE ${name} `, 'm'), name);
    }
    assert.doesNotMatch(r.body, /socat_relay_controller_(process|nodejs)_/, 'no prefixed process metrics');
  });

  test('only /metrics is served there, and the webhook port serves no metrics', async () => {
    assert.equal(
      (await get(`https://127.0.0.1:${ctl.metricsPort}/healthz`, ctl.certs.ca.cert, tokens.scraper)).status,
      404,
    );
    assert.equal((await ctl.get('/metrics')).status, 404);
  });
});
