// The Relay CRD (manifests/crd/) on a real kube-apiserver: it is Established, its schema and CEL rules
// refuse bad Relays with our messages before any webhook is involved, and a good Relay is stored with
// the schema's defaults and shows its printer columns.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  ApiError,
  K8S_VERSION,
  installCrds,
  skipUnlessControlPlane,
  startControlPlane,
  type ControlPlane,
} from '../harness/index.js';
import { relay, webhookOnlyBad, type AnyObject } from '../harness/apiserver-fixtures.js';

// Each test carries the skip (not the suite) so the run's summary counts them as skipped.
const skip = skipUnlessControlPlane();

describe('Relay CRD on a real API server (schema + CEL, no webhook)', () => {
  let cp: ControlPlane | undefined;
  const api = () => cp!.client;

  before(async () => {
    if (skip) return;
    cp = await startControlPlane();
    await installCrds(cp.client);
  });
  after(async () => {
    await cp?.stop();
  });

  test(
    `the test API server reports the pinned release ${K8S_VERSION} (what sidecar-mode auto-detection reads)`,
    { skip },
    async () => {
      const v = await api().request<{ gitVersion: string; major: string; minor: string }>('GET', '/version');
      assert.deepEqual([v.gitVersion, v.major, v.minor], [K8S_VERSION, '1', K8S_VERSION.split('.')[1]]);
    },
  );

  test('the CRD is Established and relays are served as socat.io/v1alpha1, cluster-scoped', { skip }, async () => {
    const res = await api().request<{ resources: { name: string; namespaced: boolean; kind: string }[] }>(
      'GET',
      '/apis/socat.io/v1alpha1',
    );
    const relays = res.resources.find((r) => r.name === 'relays');
    assert.deepEqual(relays && { kind: relays.kind, namespaced: relays.namespaced }, {
      kind: 'Relay',
      namespaced: false,
    });
    assert.ok(
      res.resources.some((r) => r.name === 'relays/status'),
      'status subresource served',
    );
  });

  const denied: { name: string; edit: (r: AnyObject) => void; message: RegExp }[] = [
    {
      name: 'target.host 169.254.169.254 (cloud metadata)',
      edit: (r) => {
        r.spec.target.host = '169.254.169.254';
      },
      message: /spec\.target\.host must be a loopback address/,
    },
    {
      name: 'target.host of a node address',
      edit: (r) => {
        r.spec.target.host = '10.0.0.12';
      },
      message: /spec\.target\.host must be a loopback address/,
    },
    {
      name: 'target.port 70000',
      edit: (r) => {
        r.spec.target.port = 70000;
      },
      message: /spec\.target\.port: Invalid value: 70000: .*less than or equal to 65535/,
    },
    {
      name: 'listen.port 0',
      edit: (r) => {
        r.spec.listen.port = 0;
      },
      message: /spec\.listen\.port: Invalid value: 0: .*greater than or equal to 1/,
    },
    {
      name: 'protocol SCTP',
      edit: (r) => {
        r.spec.protocol = 'SCTP';
      },
      message: /spec\.protocol: Unsupported value: "SCTP"/,
    },
    {
      name: 'udp settings on a TCP relay',
      edit: (r) => {
        r.spec.udp = { mode: 'OneWay' };
      },
      message: /spec\.udp is only allowed with protocol UDP/,
    },
    {
      name: 'no consumers at all',
      edit: (r) => {
        r.spec.consumers = {};
      },
      message: /set namespaces and\/or namespaceSelector/,
    },
    {
      name: 'a name with a dot (valid for Kubernetes, not as a container name)',
      edit: (r) => {
        r.metadata.name = 'node.http';
      },
      message: /metadata\.name must become a socket folder and a container name/,
    },
  ];
  for (const c of denied) {
    test(`a Relay with ${c.name} is refused by the CRD with our message`, { skip }, async () => {
      const r = relay('bad-relay', c.edit);
      const err = await api()
        .create(r)
        .then(
          () => undefined,
          (e: unknown) => e,
        );
      assert.ok(err instanceof ApiError, `expected a denial, got ${JSON.stringify(err)}`);
      assert.equal(err.status, 422);
      assert.match(err.message, c.message);
      assert.equal(
        await api().getOrUndefined('socat.io/v1alpha1', 'Relay', r.metadata.name),
        undefined,
        'nothing stored',
      );
    });
  }

  // The webhook suite shows our webhook refusing this one; here, without a webhook, the CRD takes it:
  // so that denial really is the webhook's own check (every IPv6 spelling is beyond a CEL regex).
  test(
    'a Relay with a nodeSelector key whose prefix is over 253 characters passes the CRD alone',
    { skip },
    async () => {
      await api().create(relay('only-webhook-refuses', webhookOnlyBad), { dryRun: true });
    },
  );

  test(
    'a good Relay is stored with the schema defaults and shows protocol, target and port columns',
    { skip },
    async () => {
      await api().create(relay('node-http'));
      const stored = await api().get<AnyObject>('socat.io/v1alpha1', 'Relay', 'node-http');
      assert.equal(stored.spec.protocol, 'TCP', 'protocol defaulted by the schema');
      assert.deepEqual(stored.spec.target, { host: '127.0.0.1', port: 18080 });
      const table = await api().request<{ columnDefinitions: { name: string }[]; rows: { cells: unknown[] }[] }>(
        'GET',
        '/apis/socat.io/v1alpha1/relays',
        {
          accept: 'application/json;as=Table;v=v1;g=meta.k8s.io',
        },
      );
      const cols = table.columnDefinitions.map((c) => c.name);
      assert.deepEqual(cols.slice(0, 5), ['Name', 'Protocol', 'Target', 'Port', 'Listen']);
      // Listen is status.listenPort, which a controller writes (the reconcile suite shows it); none runs here.
      assert.deepEqual(table.rows[0]?.cells.slice(0, 5), ['node-http', 'TCP', '127.0.0.1', 18080, null]);
    },
  );
});
