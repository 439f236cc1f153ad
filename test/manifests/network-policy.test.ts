// The controllers' NetworkPolicy (manifests/network-policy/, the chart's networkPolicy.*) and the
// chart's refusal of a shared install namespace. Offline: the chart renders the component's file with
// the values' peers, selects exactly the pods of both controller DaemonSets by the ports they name,
// refuses what would be a silent hole (no API server peers; hostNetwork, where NetworkPolicy does not
// apply; a peer that is not one); the overlay docs/install.md shows renders with kustomize. On a real
// API server: the chart's policy is accepted with strict validation, the documented overlay's too, and
// the component left as shipped is refused naming the placeholder's field.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { skipUnlessControlPlane, startControlPlane, type ControlPlane } from '../harness/index.js';
import { helmTemplate, key, templateArgs } from '../harness/chart.js';
import { kustomize, MANIFESTS, modelFor, REPO, type KubeObject } from '../harness/manifest-load.js';
import { runTool, skipWithout } from '../harness/tools.js';

const skip = skipWithout('helm');
const NS = 'socat-relay-system';
const API_SERVER = { 'networkPolicy.webhookFrom[0].ipBlock.cidr': '10.0.0.0/24' };

async function refused(set: Record<string, string>, namespace = NS): Promise<string> {
  try {
    await runTool('helm', templateArgs({ namespace, set }));
  } catch (e) {
    return (e as Error).message;
  }
  assert.fail(`helm template -n ${namespace} accepted ${JSON.stringify(set)}`);
}

/** Does a label selector (matchLabels / matchExpressions with In) select these labels? */
function selects(sel: KubeObject['spec'], labels: Record<string, string>): boolean {
  const byLabels = Object.entries(sel.matchLabels ?? {}).every(([k, v]) => labels[k] === v);
  const byExpr = (sel.matchExpressions ?? []).every((m: { key: string; operator: string; values: string[] }) => {
    assert.equal(m.operator, 'In', 'only In is read here');
    return m.values.includes(labels[m.key] ?? '\0');
  });
  return byLabels && byExpr;
}

describe("the controllers' NetworkPolicy in the chart", { skip }, () => {
  test('off by default; on, it is the component file with the peers from the values, over both controller DaemonSets and not the agent', async () => {
    assert.deepEqual(
      (await helmTemplate()).filter((o) => o.kind === 'NetworkPolicy'),
      [],
      'off by default',
    );
    const objs = await helmTemplate({ set: { 'networkPolicy.enabled': 'true', ...API_SERVER } });
    const nps = objs.filter((o) => o.kind === 'NetworkPolicy');
    assert.deepEqual(nps.map(key), [`NetworkPolicy/${NS}/socat-relay-controller`]);
    const np = nps[0]!;
    const Model = (await modelFor('networking.k8s.io/v1', 'NetworkPolicy'))!;
    assert.doesNotThrow(() => new Model(np).validate());
    assert.deepEqual(np.spec.policyTypes, ['Ingress']);
    assert.deepEqual(
      np.spec.ingress.map((r: any) => [r.ports, r.from]),
      [
        [[{ port: 'https', protocol: 'TCP' }], [{ ipBlock: { cidr: '10.0.0.0/24' } }]],
        [
          [{ port: 'metrics', protocol: 'TCP' }],
          [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'monitoring' } } }],
        ],
      ],
    );
    // The pods it selects, and that the ports it names are theirs (a renamed port would open nothing).
    const ds = new Map(objs.filter((o) => o.kind === 'DaemonSet').map((d) => [d.metadata.name, d]));
    const selected = [...ds.values()]
      .filter((d) => selects(np.spec.podSelector, d.spec.template.metadata.labels))
      .map((d) => d.metadata.name)
      .sort();
    assert.deepEqual(selected, ['socat-relay-controller', 'socat-relay-node']);
    const portNames = (name: string) =>
      ds.get(name)!.spec.template.spec.containers.flatMap((c: any) => (c.ports ?? []).map((p: any) => p.name));
    assert.ok(portNames('socat-relay-controller').includes('https'));
    for (const name of selected) assert.ok(portNames(name).includes('metrics'), `${name}: a port named metrics`);
    // Moving the ports moves nothing in the policy: it names them.
    const moved = await helmTemplate({
      set: { 'networkPolicy.enabled': 'true', ...API_SERVER, 'controller.port': '10443' },
    });
    assert.deepEqual(
      moved.find((o) => o.kind === 'NetworkPolicy')!.spec,
      np.spec,
      'named ports follow controller.port',
    );
  });

  test('metricsFrom and a webhookFrom of pods (a konnectivity agent) land as given; the release namespace moves it', async () => {
    const objs = await helmTemplate({
      namespace: 'platform-relays',
      set: {
        'networkPolicy.enabled': 'true',
        'networkPolicy.webhookFrom[0].namespaceSelector.matchLabels.kubernetes\\.io/metadata\\.name': 'kube-system',
        'networkPolicy.webhookFrom[0].podSelector.matchLabels.k8s-app': 'konnectivity-agent',
        'networkPolicy.metricsFrom[0].namespaceSelector.matchLabels.kubernetes\\.io/metadata\\.name': 'observability',
        'networkPolicy.metricsFrom[0].podSelector.matchLabels.app\\.kubernetes\\.io/name': 'prometheus',
      },
    });
    const np = objs.find((o) => o.kind === 'NetworkPolicy')!;
    assert.equal(np.metadata.namespace, 'platform-relays');
    assert.deepEqual(np.spec.ingress[0].from, [
      {
        namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'kube-system' } },
        podSelector: { matchLabels: { 'k8s-app': 'konnectivity-agent' } },
      },
    ]);
    assert.deepEqual(np.spec.ingress[1].from, [
      {
        namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'observability' } },
        podSelector: { matchLabels: { 'app.kubernetes.io/name': 'prometheus' } },
      },
    ]);
  });

  test('refused, naming the values: no API server peers, hostNetwork, a peer that is not one, a CIDR that is not one', async () => {
    assert.match(
      await refused({ 'networkPolicy.enabled': 'true' }),
      /networkPolicy\.enabled needs networkPolicy\.webhookFrom: where the API server's calls to the webhook come from/,
    );
    assert.match(
      await refused({ 'networkPolicy.enabled': 'true', ...API_SERVER, 'controller.hostNetwork': 'true' }),
      /networkPolicy\.enabled with controller\.hostNetwork: a NetworkPolicy does not apply to pods in the node's network/,
    );
    assert.match(
      await refused({ 'networkPolicy.webhookFrom[0].ipBlok.cidr': '10.0.0.0/8' }),
      /at '\/networkPolicy\/webhookFrom\/0': additional properties 'ipBlok' not allowed/,
    );
    assert.match(
      await refused({ 'networkPolicy.webhookFrom[0].ipBlock.cidr': 'control-plane' }),
      /at '\/networkPolicy\/webhookFrom\/0\/ipBlock\/cidr'/,
    );
    assert.match(await refused({ 'networkPolicy.enable': 'true' }), /additional properties 'enable' not allowed/);
  });
});

describe('the install namespace: the chart refuses one other workloads share', { skip }, () => {
  test('default, kube-system, monitoring are refused with the reason; allowSharedNamespace=true accepts it; a namespace of its own renders', async () => {
    for (const ns of ['default', 'kube-system', 'monitoring'])
      assert.match(
        await refused({}, ns),
        new RegExp(
          `namespace ${ns} is shared with other workloads: the webhooks and policies leave the release namespace out, so its other pods would be exempt from them.*allowSharedNamespace=true`,
        ),
        ns,
      );
    const accepted = await helmTemplate({ namespace: 'monitoring', set: { allowSharedNamespace: 'true' } });
    const mwc = accepted.find((o) => o.kind === 'MutatingWebhookConfiguration')!;
    // What the acknowledgement accepts: the webhook leaves that whole namespace out.
    assert.ok(
      mwc.webhooks[0].namespaceSelector.matchExpressions.some((m: any) => m.values.includes('monitoring')),
      'monitoring is exempt from the pod webhook',
    );
    assert.ok((await helmTemplate({ namespace: 'platform-relays' })).length > 15);
  });
});

/** The overlay docs/install.md shows for the component, written beside a link to this repository. */
function docsOverlay(): { dir: string; remove(): void } {
  const text = readFileSync(path.join(REPO, 'docs', 'install.md'), 'utf8');
  const block = /```yaml\n(# my-overlay\/kustomization\.yaml\n[^`]*components: \[[^`]*?)```/.exec(text);
  assert.ok(block, 'docs/install.md: the overlay with the component');
  const root = mkdtempSync(path.join(os.tmpdir(), 'sr-np-overlay-'));
  symlinkSync(REPO, path.join(root, 'socat-relay'));
  mkdirSync(path.join(root, 'my-overlay'));
  writeFileSync(path.join(root, 'my-overlay', 'kustomization.yaml'), block[1]!);
  return { dir: path.join(root, 'my-overlay'), remove: () => rmSync(root, { recursive: true, force: true }) };
}

describe('the kustomize component manifests/network-policy/', { skip: skipWithout('kubectl') }, () => {
  test("manifests/ does not apply it; docs/install.md's overlay adds it with the API server's addresses", async (t) => {
    assert.ok((await kustomize(MANIFESTS)).every((o) => o.kind !== 'NetworkPolicy'));
    const overlay = docsOverlay();
    t.after(() => overlay.remove());
    const objs = await kustomize(overlay.dir);
    const np = objs.find((o) => o.kind === 'NetworkPolicy')!;
    assert.equal(np.metadata.namespace, NS);
    assert.deepEqual(np.spec.ingress[0].from, [{ ipBlock: { cidr: '10.0.0.0/24' } }]);
    assert.ok(objs.some((o) => o.kind === 'DaemonSet' && o.metadata.name === 'socat-relay-controller'));
  });
});

describe('on a real API server', { skip: skipUnlessControlPlane() || skip || skipWithout('kubectl') }, () => {
  let cp: ControlPlane | undefined;
  before(async () => {
    cp = await startControlPlane();
    await cp.client.apply({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: NS } });
  });
  after(async () => {
    await cp?.stop();
  });
  const dryRun = async (o: KubeObject): Promise<void> => {
    const p = await cp!.client.pathOf(o.apiVersion, o.kind, o.metadata.namespace, o.metadata.name);
    await cp!.client.request('PATCH', p, {
      body: o,
      contentType: 'application/apply-patch+yaml',
      query: { fieldManager: 'network-policy-test', force: 'true', fieldValidation: 'Strict', dryRun: 'All' },
    });
  };

  test("the chart's policy and the documented overlay's are accepted; the component as shipped is refused at its placeholder", async (t) => {
    const chart = (await helmTemplate({ set: { 'networkPolicy.enabled': 'true', ...API_SERVER } })).find(
      (o) => o.kind === 'NetworkPolicy',
    )!;
    await dryRun(chart);
    const overlay = docsOverlay();
    t.after(() => overlay.remove());
    await dryRun((await kustomize(overlay.dir)).find((o) => o.kind === 'NetworkPolicy')!);
    const shipped = (await kustomize(path.join(MANIFESTS, 'network-policy'))).find((o) => o.kind === 'NetworkPolicy');
    assert.ok(shipped, 'the component renders on its own');
    await assert.rejects(
      dryRun(shipped),
      /spec\.ingress\[0\]\.from\[0\]\.ipBlock\.cidr: Invalid value: "SET-THE-API-SERVER-SOURCE-CIDR"/,
    );
  });
});
