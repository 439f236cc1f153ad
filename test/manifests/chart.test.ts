// The Helm chart (charts/socat-relay): `helm lint`, and `helm template` with its defaults renders
// exactly the objects of the kustomize install (manifests/ + manifests/node-agent/, the Namespace
// aside), because it renders those very files; the values change only what they say (image,
// release namespace, certificates without cert-manager, agent off, ServiceMonitor). The real API
// server's server-side apply of the rendered objects is in chart-apply.test.ts.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { parseCsiArgs } from '../../cli/csi.js';
import { loadConfig } from '../../webhook/config.js';
import { CA_SECRET, SERVING_SECRET } from '../../webhook/certs/names.js';
import { kustomize, MANIFESTS, modelFor, type KubeObject } from '../harness/manifest-load.js';
import { CHART, HELM_LABELS, helmTemplate, key, KUBE_VERSION, withoutHelmLabels } from '../harness/chart.js';
import { runTool, skipWithout } from '../harness/tools.js';

const skip = skipWithout('helm', 'kubectl');
const byKey = (objs: KubeObject[]) => new Map(objs.map((o) => [key(o), o]));
/**
 * Whitespace runs in strings collapsed: kustomize's YAML library adds a blank line to a folded scalar
 * (`>-`) before a more-indented line (the policy's CEL), Helm's and the yaml package read it as the
 * YAML spec says. Only whitespace differs, which CEL ignores.
 */
const squash = (v: unknown): unknown =>
  typeof v === 'string'
    ? v.replace(/\s+/g, ' ')
    : Array.isArray(v)
      ? v.map(squash)
      : v && typeof v === 'object'
        ? Object.fromEntries(Object.entries(v).map(([k, x]) => [k, squash(x)]))
        : v;
const env = (ds: KubeObject) =>
  Object.fromEntries(
    ds.spec.template.spec.containers[0].env.filter((e: any) => 'value' in e).map((e: any) => [e.name, e.value]),
  );

describe('the Helm chart', { skip }, () => {
  test('helm lint --strict passes (with and without cert-manager)', async () => {
    for (const set of [[], ['--set', 'certificates.certManager=false']]) {
      const out = await runTool('helm', ['lint', '--strict', CHART, '--kube-version', KUBE_VERSION, ...set]);
      assert.match(out, /1 chart\(s\) linted, 0 chart\(s\) failed/);
    }
  });

  test("its defaults render the kustomize install object for object (manifests/ + manifests/node-agent/, Namespace aside), plus Helm's labels; its hooks aside", async () => {
    const chart = (await helmTemplate()).filter((o) => !o.metadata.annotations?.['helm.sh/hook']);
    const kz = [...(await kustomize(MANIFESTS)), ...(await kustomize(path.join(MANIFESTS, 'node-agent')))].filter(
      (o) => o.kind !== 'Namespace',
    );
    assert.deepEqual([...byKey(chart).keys()].sort(), [...byKey(kz).keys()].sort());
    const want = byKey(kz);
    for (const o of chart) {
      for (const l of HELM_LABELS) assert.ok(o.metadata.labels?.[l], `${key(o)} has ${l}`);
      assert.deepEqual(squash(withoutHelmLabels(o)), squash(withoutHelmLabels(want.get(key(o))!)), key(o));
    }
  });

  test('the release namespace replaces socat-relay-system everywhere (objects, service refs, selectors, certificate names, messages)', async () => {
    const objs = await helmTemplate({ namespace: 'platform-relays' });
    assert.doesNotMatch(JSON.stringify(objs), /socat-relay-system/);
    for (const o of objs) {
      const Model = await modelFor(o.apiVersion, o.kind);
      if (
        o.kind !== 'CustomResourceDefinition' &&
        o.kind !== 'CSIDriver' &&
        o.kind !== 'ClusterRole' &&
        o.kind !== 'ClusterRoleBinding' &&
        !o.kind.endsWith('Configuration') &&
        !o.kind.startsWith('ValidatingAdmissionPolicy')
      ) {
        assert.equal(o.metadata.namespace, 'platform-relays', key(o));
      }
      if (Model) assert.doesNotThrow(() => new Model(o).validate(), key(o));
    }
    const cert = objs.find((o) => o.kind === 'Certificate' && o.metadata.name === 'socat-relay-webhook')!;
    assert.ok(cert.spec.dnsNames.includes('socat-relay-webhook.platform-relays.svc'));
    const mwc = objs.find((o) => o.kind === 'MutatingWebhookConfiguration')!;
    assert.equal(mwc.webhooks[0].clientConfig.service.namespace, 'platform-relays');
    assert.equal(mwc.metadata.annotations?.['cert-manager.io/inject-ca-from'], 'platform-relays/socat-relay-webhook');
  });

  test('one image setting: image.repository and image.tag move the controller, the agent and (derived) the sidecar', async () => {
    const objs = await helmTemplate({
      set: { 'image.repository': 'registry.example.com/mirror/socat-relay', 'image.tag': '2' },
    });
    assert.doesNotMatch(JSON.stringify(objs), /ghcr\.io/);
    const dss = objs.filter((o) => o.kind === 'DaemonSet');
    assert.deepEqual(dss.map((d) => d.metadata.name).sort(), [
      'socat-relay-agent',
      'socat-relay-controller',
      'socat-relay-node',
    ]);
    for (const ds of dss)
      for (const c of ds.spec.template.spec.containers)
        assert.equal(c.image, 'registry.example.com/mirror/socat-relay:2');
    const controller = dss.find((d) => d.metadata.name === 'socat-relay-controller')!;
    assert.equal(
      loadConfig([], { ...env(controller), NODE_NAME: 'n' }).sidecarImage,
      'registry.example.com/mirror/socat-relay-sidecar:2',
    );
    const pinned = await helmTemplate({
      set: {
        'image.digest': `sha256:${'a'.repeat(64)}`,
        sidecarImage: `ghcr.io/socat-relay/socat-relay-sidecar@sha256:${'b'.repeat(64)}`,
      },
    });
    const c = pinned.find((o) => o.metadata.name === 'socat-relay-controller' && o.kind === 'DaemonSet')!;
    assert.equal(
      c.spec.template.spec.containers[0].image,
      `ghcr.io/socat-relay/socat-relay:0.1.0@sha256:${'a'.repeat(64)}`,
    );
    assert.equal(
      loadConfig([], { ...env(c), NODE_NAME: 'n' }).sidecarImage,
      `ghcr.io/socat-relay/socat-relay-sidecar@sha256:${'b'.repeat(64)}`,
    );
  });

  test('controller.servingNodeLabel moves both DaemonSets: the serving one where the label exists, the reconcile-only one everywhere else; controller.affinity and hostNetwork only on the serving one', async () => {
    const terms = (ds: any) =>
      ds.spec.template.spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms;
    const objs = await helmTemplate({
      set: { 'controller.servingNodeLabel': 'example.com/socat-relay-admission', 'controller.hostNetwork': 'true' },
    });
    const serving = objs.find((o) => o.kind === 'DaemonSet' && o.metadata.name === 'socat-relay-controller')!;
    const node = objs.find((o) => o.kind === 'DaemonSet' && o.metadata.name === 'socat-relay-node')!;
    assert.deepEqual(terms(serving), [
      { matchExpressions: [{ key: 'example.com/socat-relay-admission', operator: 'Exists' }] },
    ]);
    assert.deepEqual(terms(node), [
      { matchExpressions: [{ key: 'example.com/socat-relay-admission', operator: 'DoesNotExist' }] },
    ]);
    assert.equal(serving.spec.template.spec.hostNetwork, true);
    assert.equal(
      node.spec.template.spec.hostNetwork,
      undefined,
      'the reconcile-only controller serves nothing the API server must reach',
    );
    const env = (ds: any) =>
      Object.fromEntries(ds.spec.template.spec.containers[0].env.map((e: any) => [e.name, e.value]));
    assert.equal(env(node).SOCAT_RELAY_SERVE_ADMISSION, 'false');
    assert.equal(env(node).SOCAT_RELAY_PORT, undefined, 'no webhook port');
    assert.ok(!JSON.stringify(node).includes('socat-relay-webhook-tls'), 'no serving key on the reconcile-only pods');
    const a =
      'controller.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[0]';
    const custom = await helmTemplate({
      set: { [`${a}.key`]: 'pool', [`${a}.operator`]: 'In', [`${a}.values[0]`]: 'admission' },
    });
    assert.deepEqual(
      terms(custom.find((o) => o.metadata.name === 'socat-relay-controller' && o.kind === 'DaemonSet')!),
      [{ matchExpressions: [{ key: 'pool', operator: 'In', values: ['admission'] }] }],
    );
    assert.deepEqual(terms(custom.find((o) => o.metadata.name === 'socat-relay-node' && o.kind === 'DaemonSet')!), [
      { matchExpressions: [{ key: 'node-role.kubernetes.io/control-plane', operator: 'DoesNotExist' }] },
    ]);
  });

  test('certificates.certManager=false: no cert-manager object; the two Secrets empty, the RBAC that names them, the serving controllers keeping them; no caBundle rendered', async () => {
    const objs = await helmTemplate({ set: { 'certificates.certManager': 'false' } });
    assert.ok(!objs.some((o) => o.apiVersion.startsWith('cert-manager.io/')));
    const secrets = objs.filter((o) => o.kind === 'Secret');
    assert.deepEqual(
      secrets.map((x) => [x.metadata.name, x.type, x.data]),
      [
        [CA_SECRET, 'Opaque', undefined],
        [SERVING_SECRET, 'Opaque', undefined],
      ],
    );
    const ds = objs.find((o) => o.kind === 'DaemonSet' && o.metadata.name === 'socat-relay-controller')!;
    const config = loadConfig([], { ...env(ds), NODE_NAME: 'n' });
    assert.equal(config.certificates, 'self-managed');
    assert.deepEqual([config.caLifetimeMs, config.servingLifetimeMs], [43800 * 3600_000, 2160 * 3600_000]);
    assert.ok(!ds.spec.template.spec.volumes.some((v: any) => v.secret), 'no Secret mounted');
    const node = objs.find((o) => o.kind === 'DaemonSet' && o.metadata.name === 'socat-relay-node')!;
    assert.equal(env(node).SOCAT_RELAY_CERTIFICATES, undefined, 'the reconcile-only controllers keep no certificate');
    for (const o of objs.filter((x) => x.kind.endsWith('WebhookConfiguration'))) {
      assert.equal(o.metadata.annotations?.['cert-manager.io/inject-ca-from'], undefined);
      for (const w of o.webhooks) assert.equal(w.clientConfig.caBundle, undefined);
    }
    const role = objs.find((o) => o.kind === 'Role' && o.metadata.name === 'socat-relay-controller-certs')!;
    assert.deepEqual(role.rules, [
      { apiGroups: [''], resources: ['secrets'], resourceNames: [CA_SECRET, SERVING_SECRET], verbs: ['get', 'update'] },
    ]);
  });

  test('two renders are identical, with and without cert-manager (nothing is generated at render time: no diff for Argo CD or Flux)', async () => {
    for (const set of [{}, { 'certificates.certManager': 'false' }] as Record<string, string>[]) {
      const [a, b] = [await helmTemplate({ set }), await helmTemplate({ set })];
      assert.deepEqual(a, b);
    }
  });

  test('certificates: a serving lifetime over a third of the CA lifetime, or a lifetime without a unit, is refused', async () => {
    await assert.rejects(
      helmTemplate({ set: { 'certificates.certManager': 'false', 'certificates.servingLifetime': '20000h' } }),
      /certificates\.servingLifetime 20000h must be at most a third of certificates\.caLifetime 43800h/,
    );
    await assert.rejects(helmTemplate({ set: { 'certificates.caLifetime': '5y' } }), /caLifetime/);
  });

  test('agent.daemonset=false, policy.enabled=false, crds.install=false leave those out; crds.keep annotates the CRD', async () => {
    const objs = await helmTemplate({
      set: { 'agent.daemonset': 'false', 'policy.enabled': 'false', 'crds.install': 'false' },
    });
    assert.deepEqual(
      objs.filter(
        (o) =>
          ['socat-relay-agent'].includes(o.metadata.name) ||
          o.kind.startsWith('ValidatingAdmissionPolicy') ||
          o.kind === 'CustomResourceDefinition',
      ),
      [],
    );
    const crd = (await helmTemplate()).find((o) => o.kind === 'CustomResourceDefinition')!;
    assert.equal(crd.metadata.annotations?.['helm.sh/resource-policy'], 'keep');
  });

  test('controller and agent values land where they say', async () => {
    const objs = await helmTemplate({
      set: {
        'controller.logLevel': 'debug',
        'controller.sidecarMode': 'regular',
        'controller.resources.limits.memory': '1Gi',
        'controller.nodeResources.limits.memory': '200Mi',
        'controller.nodeSelector.pool': 'system',
        'agent.nodeSelector.relays': 'yes',
        'image.pullPolicy': 'Always',
        'imagePullSecrets[0].name': 'regcred',
      },
    });
    const controller = objs.find((o) => o.kind === 'DaemonSet' && o.metadata.name === 'socat-relay-controller')!;
    const agent = objs.find((o) => o.kind === 'DaemonSet' && o.metadata.name === 'socat-relay-agent')!;
    assert.deepEqual([env(controller).LOG_LEVEL, env(controller).SOCAT_RELAY_SIDECAR_MODE], ['debug', 'regular']);
    assert.deepEqual(controller.spec.template.spec.containers[0].resources, { limits: { memory: '1Gi' } });
    // The reconcile-only controllers have a setting of their own: the serving ones grow with the cluster.
    const node = objs.find((o) => o.kind === 'DaemonSet' && o.metadata.name === 'socat-relay-node')!;
    assert.deepEqual(node.spec.template.spec.containers[0].resources, { limits: { memory: '200Mi' } });
    assert.deepEqual(controller.spec.template.spec.nodeSelector, { pool: 'system' });
    assert.deepEqual(agent.spec.template.spec.nodeSelector, { relays: 'yes' });
    for (const ds of [controller, agent]) {
      assert.deepEqual(ds.spec.template.spec.imagePullSecrets, [{ name: 'regcred' }]);
      for (const c of ds.spec.template.spec.containers) assert.equal(c.imagePullPolicy, 'Always');
    }
    assert.deepEqual(
      loadConfig([], { ...env(controller), NODE_NAME: 'n' }).logLevel,
      'debug',
      'the controller accepts what the chart sets',
    );
  });

  test("every value in values.yaml is documented in the chart's README", () => {
    const values = parse(readFileSync(path.join(CHART, 'values.yaml'), 'utf8')) as Record<string, unknown>;
    const readme = readFileSync(path.join(CHART, 'README.md'), 'utf8');
    const leaves = (o: Record<string, unknown>, prefix = ''): string[] =>
      Object.entries(o).flatMap(([k, v]) =>
        v &&
        typeof v === 'object' &&
        !Array.isArray(v) &&
        Object.keys(v).length > 0 &&
        !['resources', 'labels'].includes(k)
          ? leaves(v as Record<string, unknown>, `${prefix}${k}.`)
          : [`${prefix}${k}`],
      );
    const names = leaves(values);
    assert.ok(names.length > 15, names.join());
    for (const n of names) assert.ok(readme.includes(`| \`${n}\` |`), `README documents ${n}`);
  });

  test("metrics.serviceMonitor: the manifests' ServiceMonitor, with the labels your Prometheus selects and the interval", async () => {
    const objs = await helmTemplate({
      set: {
        'metrics.serviceMonitor.enabled': 'true',
        'metrics.serviceMonitor.labels.release': 'monitoring',
        'metrics.serviceMonitor.interval': '15s',
      },
    });
    const sm = objs.find((o) => o.kind === 'ServiceMonitor')!;
    assert.equal(sm.metadata.labels?.release, 'monitoring');
    assert.equal(sm.metadata.labels?.['app.kubernetes.io/name'], 'socat-relay');
    assert.equal(sm.spec.endpoints[0].interval, '15s');
    assert.equal(
      (await helmTemplate()).find((o) => o.kind === 'ServiceMonitor'),
      undefined,
      'off by default',
    );
    const Model = (await modelFor(sm.apiVersion, sm.kind))!;
    assert.doesNotThrow(() => new Model(sm).validate());
  });

  test('a bad value fails the render with a message, not a broken manifest (more: chart-schema.test.ts)', async () => {
    await assert.rejects(
      helmTemplate({ set: { 'image.repository': '' } }),
      /at '\/image\/repository': minLength: got 0, want 1/,
    );
  });

  test("every object and the DaemonSets' pods carry app.kubernetes.io/version (the appVersion) and part-of: socat-relay", async () => {
    const { appVersion } = parse(readFileSync(path.join(CHART, 'Chart.yaml'), 'utf8')) as { appVersion: string };
    const objs = await helmTemplate();
    for (const o of objs) {
      for (const labels of [o.metadata.labels, ...(o.kind === 'DaemonSet' ? [o.spec.template.metadata.labels] : [])]) {
        assert.equal(labels?.['app.kubernetes.io/version'], appVersion, key(o));
        assert.equal(labels?.['app.kubernetes.io/part-of'], 'socat-relay', key(o));
      }
      if (o.kind === 'DaemonSet')
        assert.ok(
          !('app.kubernetes.io/version' in o.spec.selector.matchLabels),
          `${key(o)}: the selector stays as it is (it cannot change in place)`,
        );
    }
  });

  test("kubeletDir moves the CSI plugin's --kubelet-dir, its mount and the host folder (as the plugin reads its arguments)", async () => {
    const objs = await helmTemplate({ set: { kubeletDir: '/var/snap/microk8s/common/var/lib/kubelet/' } });
    const pod = objs.find((o) => o.kind === 'DaemonSet' && o.metadata.name === 'socat-relay-agent')!.spec.template.spec;
    const csi = pod.containers.find((c: any) => c.name === 'csi');
    const args = parseCsiArgs(csi.args.slice(1), {}, () => 'n');
    assert.ok(args !== 'help');
    assert.equal(args.kubeletDir, '/var/snap/microk8s/common/var/lib/kubelet');
    const mount = csi.volumeMounts.find((m: any) => m.mountPropagation === 'Bidirectional');
    assert.deepEqual(
      [mount.mountPath, pod.volumes.find((v: any) => v.name === mount.name).hostPath.path],
      [args.kubeletDir, args.kubeletDir],
    );
    assert.doesNotMatch(JSON.stringify(pod), /"\/var\/lib\/kubelet/, 'no other place keeps the default');
  });

  test("controller.hostNetwork, its ports, affinity, podAnnotations and both DaemonSets' maxUnavailable land where they say", async () => {
    const affinity = {
      nodeAffinity: {
        requiredDuringSchedulingIgnoredDuringExecution: {
          nodeSelectorTerms: [{ matchExpressions: [{ key: 'pool', operator: 'In', values: ['system'] }] }],
        },
      },
    };
    const objs = await helmTemplate({
      set: {
        'controller.hostNetwork': 'true',
        'controller.port': '10443',
        'controller.metricsPort': '10464',
        'controller.maxUnavailable': '25%',
        'agent.maxUnavailable': '2',
        'agent.maxSurge': '0',
        'controller.podAnnotations.example\\.com/team': 'platform',
        'agent.podAnnotations.example\\.com/scrape': 'no',
        'controller.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[0].key':
          'pool',
        'controller.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[0].operator':
          'In',
        'controller.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[0].values[0]':
          'system',
      },
    });
    const controller = objs.find((o) => o.kind === 'DaemonSet' && o.metadata.name === 'socat-relay-controller')!;
    const agent = objs.find((o) => o.kind === 'DaemonSet' && o.metadata.name === 'socat-relay-agent')!;
    const pod = controller.spec.template.spec;
    assert.deepEqual([pod.hostNetwork, pod.dnsPolicy], [true, 'ClusterFirstWithHostNet']);
    const config = loadConfig([], { ...env(controller), NODE_NAME: 'n' });
    assert.deepEqual([config.port, config.metricsPort], [10443, 10464]);
    assert.deepEqual(
      pod.containers[0].ports.map((p: any) => [p.name, p.containerPort]),
      [
        ['https', 10443],
        ['metrics', 10464],
      ],
    );
    assert.deepEqual(pod.affinity, affinity);
    assert.equal(controller.spec.template.metadata.annotations['example.com/team'], 'platform');
    assert.equal(agent.spec.template.metadata.annotations['example.com/scrape'], 'no');
    assert.deepEqual(controller.spec.updateStrategy, {
      type: 'RollingUpdate',
      rollingUpdate: { maxUnavailable: '25%' },
    });
    assert.deepEqual(agent.spec.updateStrategy, { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 2 } });
    const svc = objs.find((o) => o.kind === 'Service')!;
    assert.deepEqual(
      svc.spec.ports.map((p: any) => [p.port, p.targetPort]),
      [
        [443, 'https'],
        [9464, 'metrics'],
      ],
      'the Service forwards by port name',
    );
    assert.equal(
      (await helmTemplate()).find((o) => o.kind === 'DaemonSet' && o.metadata.name === 'socat-relay-controller')!.spec
        .template.spec.hostNetwork,
      undefined,
      'off by default',
    );
  });

  test('webhooks.podFailurePolicy sets both pod entries; the Relay entry stays Fail', async () => {
    for (const policy of ['Fail', 'Ignore']) {
      const objs = await helmTemplate({ set: { 'webhooks.podFailurePolicy': policy } });
      const mwc = objs.find((o) => o.kind === 'MutatingWebhookConfiguration')!;
      assert.deepEqual(
        mwc.webhooks.map((w: any) => [w.name, w.failurePolicy]),
        [
          ['pods.socat.io', policy],
          ['ephemeral-containers.socat.io', policy],
        ],
      );
      const vwc = objs.find((o) => o.kind === 'ValidatingWebhookConfiguration')!;
      assert.deepEqual(
        vwc.webhooks.map((w: any) => [w.name, w.failurePolicy]),
        [['relays.socat.io', 'Fail']],
      );
    }
  });
});
