// A compromised node: what its controller's credentials can write, on the real API server with the
// shipped RBAC (manifests/controller/) and node-identity policy (manifests/policy/node-identity.yaml).
// Node A and node B are Node objects; a pod bound to A (spec.nodeName, no kubelet needed) gets a token
// for each controller ServiceAccount through the TokenRequest API with boundObjectRef kind Pod — the
// token a controller on A holds. The API server puts A's name into that token's user
// (userInfo.extra authentication.kubernetes.io/node-name); with it, A may write its own RelayNode,
// Lease and Events, and nothing of B's; a token bound to no pod may write nothing; the reconcile-only
// account has no right to Relay status and cannot hold the election Lease.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { KubeConfig } from '@kubernetes/client-node';
import {
  ApiError,
  KubeClient,
  applyAll,
  installCrds,
  readManifests,
  skipUnlessControlPlane,
  startControlPlane,
  waitFor,
  type ControlPlane,
  type KubeObject,
} from '../harness/index.js';

const skip = skipUnlessControlPlane();
const NS = 'socat-relay-system';

function clientWithToken(cp: ControlPlane, token: string): KubeClient {
  const cluster = cp.kc.getCurrentCluster()!;
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'c', server: cluster.server, caData: cluster.caData, skipTLSVerify: false }],
    users: [{ name: 'u', token }],
    contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
    currentContext: 'x',
  });
  return new KubeClient(kc);
}

/** The promise's ApiError (status and message), or 'allowed'. */
async function outcome(p: Promise<unknown>): Promise<'allowed' | { status: number; message: string }> {
  try {
    await p;
    return 'allowed';
  } catch (e) {
    if (e instanceof ApiError) return { status: e.status, message: e.message };
    throw e;
  }
}

function assertDenied(o: Awaited<ReturnType<typeof outcome>>, status: number, message: RegExp): void {
  assert.notEqual(o, 'allowed', 'denied');
  const d = o as { status: number; message: string };
  assert.equal(d.status, status, d.message);
  assert.match(d.message, message);
}

describe("node identity: a node's controller credentials reach only its own node's objects", () => {
  let cp: ControlPlane | undefined;
  const uid: Record<string, string> = {};
  let nodeA: KubeClient; // socat-relay-node, pod on node-a
  let servingA: KubeClient; // socat-relay-controller, pod on node-a
  let unbound: KubeClient; // socat-relay-node, token bound to no pod

  const relayNode = (node: string, owner = node): KubeObject => ({
    apiVersion: 'socat.io/v1alpha1',
    kind: 'RelayNode',
    metadata: { name: node, ownerReferences: [{ apiVersion: 'v1', kind: 'Node', name: owner, uid: uid[owner]! }] },
    status: { relays: [{ name: 'r', ready: true, state: 'Running' }], relayCount: 1, readyRelays: 1, ready: '1/1' },
  });
  const lease = (name: string, holder: string): KubeObject => ({
    apiVersion: 'coordination.k8s.io/v1',
    kind: 'Lease',
    metadata: { name, namespace: NS },
    spec: {
      holderIdentity: holder,
      leaseDurationSeconds: 40,
      renewTime: new Date().toISOString().replace('Z', '000Z'),
    },
  });
  const event = (reporter: string, involved: { kind: string; name: string }): KubeObject => ({
    apiVersion: 'v1',
    kind: 'Event',
    metadata: { name: `e-${Math.random().toString(16).slice(2)}`, namespace: 'default' },
    involvedObject: { apiVersion: involved.kind === 'Node' ? 'v1' : 'socat.io/v1alpha1', ...involved },
    reason: 'RelayReady',
    message: 'test',
    type: 'Normal',
    source: { component: 'socat-relay', host: reporter },
    reportingComponent: 'socat-relay',
    reportingInstance: reporter,
  });

  const tokenFor = async (sa: string, pod?: string): Promise<string> => {
    const podObj = pod ? await cp!.client.get('v1', 'Pod', pod, NS) : undefined;
    const tr = await cp!.client.request<{ status: { token: string } }>(
      'POST',
      `/api/v1/namespaces/${NS}/serviceaccounts/${sa}/token`,
      {
        body: {
          apiVersion: 'authentication.k8s.io/v1',
          kind: 'TokenRequest',
          spec: {
            expirationSeconds: 3600,
            ...(podObj
              ? { boundObjectRef: { apiVersion: 'v1', kind: 'Pod', name: pod, uid: podObj.metadata.uid } }
              : {}),
          },
        },
      },
    );
    return tr.status.token;
  };

  before(async () => {
    if (skip) return;
    cp = await startControlPlane({ namespaces: [NS] });
    const api = cp.client;
    await installCrds(api);
    await applyAll(
      api,
      readManifests('controller/serviceaccount.yaml', 'controller/rbac.yaml', 'policy/node-identity.yaml'),
    );
    for (const n of ['node-a', 'node-b'])
      uid[n] = (
        (await api.apply({ apiVersion: 'v1', kind: 'Node', metadata: { name: n } })) as unknown as {
          metadata: { uid: string };
        }
      ).metadata.uid;
    for (const [name, sa] of [
      ['ctl-a', 'socat-relay-node'],
      ['srv-a', 'socat-relay-controller'],
    ] as const) {
      await api.create({
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name, namespace: NS },
        spec: {
          nodeName: 'node-a',
          serviceAccountName: sa,
          containers: [{ name: 'c', image: 'example.invalid/none' }],
        },
      });
    }
    nodeA = clientWithToken(cp, await tokenFor('socat-relay-node', 'ctl-a'));
    servingA = clientWithToken(cp, await tokenFor('socat-relay-controller', 'srv-a'));
    unbound = clientWithToken(cp, await tokenFor('socat-relay-node'));
    // The policy takes effect once the API server has loaded it: wait until B's RelayNode is refused.
    await waitFor(
      'the node-identity policy to be in force',
      async () => {
        const o = await outcome(nodeA.apply(relayNode('node-b'), { fieldManager: 'socat-relay/node-a', dryRun: true }));
        return o !== 'allowed' && o.status === 403 && /only its own RelayNode/.test(o.message);
      },
      { timeoutMs: 30_000, intervalMs: 300 },
    );
  });
  after(async () => {
    await cp?.stop();
  });

  test(
    "the pod-bound token names its pod's node: userInfo.extra authentication.kubernetes.io/node-name",
    { skip },
    async () => {
      const review = await nodeA.request<{
        status: { userInfo: { username: string; extra?: Record<string, string[]> } };
      }>('POST', '/apis/authentication.k8s.io/v1/selfsubjectreviews', {
        body: { apiVersion: 'authentication.k8s.io/v1', kind: 'SelfSubjectReview' },
      });
      assert.equal(review.status.userInfo.username, `system:serviceaccount:${NS}:socat-relay-node`);
      assert.deepEqual(review.status.userInfo.extra?.['authentication.kubernetes.io/node-name'], ['node-a']);
    },
  );

  test(
    "RelayNode: its own is allowed (create and update); node-b's, or its own claiming node-b as owner, is denied",
    { skip },
    async () => {
      assert.equal(await outcome(nodeA.apply(relayNode('node-a'), { fieldManager: 'socat-relay/node-a' })), 'allowed');
      assert.equal(
        await outcome(
          nodeA.apply(
            { ...relayNode('node-a'), status: { relays: [], relayCount: 0, readyRelays: 0, ready: '0/0' } },
            { fieldManager: 'socat-relay/node-a' },
          ),
        ),
        'allowed',
      );
      assertDenied(
        await outcome(nodeA.apply(relayNode('node-b'), { fieldManager: 'socat-relay/node-a' })),
        403,
        /node-a may not write RelayNode node-b/,
      );
      assertDenied(
        await outcome(nodeA.apply(relayNode('node-a', 'node-b'), { fieldManager: 'socat-relay/node-a' })),
        403,
        /only its own RelayNode/,
      );
      // node-b's RelayNode written by its own controller (the admin here) cannot be changed or deleted by node-a.
      await cp!.client.apply(relayNode('node-b'), { fieldManager: 'socat-relay/node-b' });
      assertDenied(
        await outcome(
          nodeA.apply(
            { ...relayNode('node-b'), status: { relays: [], relayCount: 0, readyRelays: 0, ready: '0/0' } },
            { fieldManager: 'socat-relay/node-b' },
          ),
        ),
        403,
        /only its own RelayNode/,
      );
      assertDenied(await outcome(nodeA.request('DELETE', '/apis/socat.io/v1alpha1/relaynodes/node-b')), 403, /./);
      assert.equal(
        (await cp!.client.get('socat.io/v1alpha1', 'RelayNode', 'node-b')).status.ready,
        '1/1',
        "node-b's report is intact",
      );
    },
  );

  test(
    "Lease: its own (held by itself) is allowed; node-b's, or its own held in node-b's name, is denied",
    { skip },
    async () => {
      assert.equal(await outcome(nodeA.create(lease('socat-relay-controller-node-a', 'node-a'))), 'allowed');
      const own = await nodeA.get('coordination.k8s.io/v1', 'Lease', 'socat-relay-controller-node-a', NS);
      assert.equal(
        await outcome(
          nodeA.request('PUT', `/apis/coordination.k8s.io/v1/namespaces/${NS}/leases/socat-relay-controller-node-a`, {
            body: { ...own, spec: { ...own.spec, renewTime: new Date().toISOString().replace('Z', '000Z') } },
          }),
        ),
        'allowed',
      );
      assertDenied(
        await outcome(nodeA.create(lease('socat-relay-controller-node-b', 'node-b'))),
        403,
        /only its own Lease/,
      );
      await cp!.client.create(lease('socat-relay-controller-node-b', 'node-b'));
      const b = await cp!.client.get('coordination.k8s.io/v1', 'Lease', 'socat-relay-controller-node-b', NS);
      assertDenied(
        await outcome(
          nodeA.request('PUT', `/apis/coordination.k8s.io/v1/namespaces/${NS}/leases/socat-relay-controller-node-b`, {
            body: { ...b, spec: { ...b.spec, renewTime: new Date().toISOString().replace('Z', '000Z') } },
          }),
        ),
        403,
        /only its own Lease/,
      );
      const mine = await nodeA.get('coordination.k8s.io/v1', 'Lease', 'socat-relay-controller-node-a', NS);
      assertDenied(
        await outcome(
          nodeA.request('PUT', `/apis/coordination.k8s.io/v1/namespaces/${NS}/leases/socat-relay-controller-node-a`, {
            body: { ...mine, spec: { ...mine.spec, holderIdentity: 'node-b' } },
          }),
        ),
        403,
        /only its own Lease/,
      );
    },
  );

  test(
    "Events: reported as itself about a Relay, its RelayNode or its Node are allowed; in node-b's name or about node-b, denied",
    { skip },
    async () => {
      assert.equal(await outcome(nodeA.create(event('node-a', { kind: 'Relay', name: 'r' }))), 'allowed');
      assert.equal(await outcome(nodeA.create(event('node-a', { kind: 'Node', name: 'node-a' }))), 'allowed');
      assertDenied(
        await outcome(nodeA.create(event('node-b', { kind: 'Relay', name: 'r' }))),
        403,
        /only Events it reports as its own node \(node-a\)/,
      );
      assertDenied(await outcome(nodeA.create(event('node-a', { kind: 'Node', name: 'node-b' }))), 403, /only Events/);
      assertDenied(await outcome(nodeA.create(event('node-a', { kind: 'Pod', name: 'x' }))), 403, /only Events/);
    },
  );

  test(
    'the election Lease: a serving controller on node-a may hold it as node-a/<pod>, not as node-b; the reconcile-only account not at all',
    { skip },
    async () => {
      assertDenied(
        await outcome(servingA.create(lease('socat-relay-leader', 'node-b/pod'))),
        403,
        /only its own Lease/,
      );
      assertDenied(await outcome(nodeA.create(lease('socat-relay-leader', 'node-a/pod'))), 403, /only its own Lease/);
      assert.equal(await outcome(servingA.create(lease('socat-relay-leader', 'node-a/pod'))), 'allowed');
      const l = await servingA.get('coordination.k8s.io/v1', 'Lease', 'socat-relay-leader', NS);
      assert.equal(
        await outcome(
          servingA.request('PUT', `/apis/coordination.k8s.io/v1/namespaces/${NS}/leases/socat-relay-leader`, {
            body: { ...l, spec: { ...l.spec, holderIdentity: '' } },
          }),
        ),
        'allowed',
        'released by its holder',
      );
    },
  );

  test(
    "RBAC: the reconcile-only account cannot touch any Relay's status (the serving account can); a token bound to no pod writes nothing",
    { skip },
    async () => {
      await cp!.client.apply({
        apiVersion: 'socat.io/v1alpha1',
        kind: 'Relay',
        metadata: { name: 'r' },
        spec: { target: { host: '127.0.0.1', port: 10259 }, consumers: { namespaces: ['monitoring'] } },
      });
      const summary = {
        apiVersion: 'socat.io/v1alpha1',
        kind: 'Relay',
        metadata: { name: 'r' },
        status: { readyNodes: 9, ready: '9/9' },
      };
      assertDenied(
        await outcome(nodeA.apply(summary, { subresource: 'status', fieldManager: 'socat-relay' })),
        403,
        /cannot patch resource "relays\/status"/,
      );
      assert.equal(
        await outcome(servingA.apply(summary, { subresource: 'status', fieldManager: 'socat-relay', dryRun: true })),
        'allowed',
      );
      assertDenied(
        await outcome(unbound.apply(relayNode('node-a'), { fieldManager: 'socat-relay/node-a' })),
        403,
        /names no node/,
      );
      assertDenied(
        await outcome(unbound.create(lease('socat-relay-controller-node-a', 'node-a'))),
        403,
        /names no node/,
      );
    },
  );
});
