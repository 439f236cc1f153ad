// Every combination of the chart's toggles that change what runs — CSI on/off, the agent as a
// DaemonSet or a static pod, cert-manager or chart-made certificates, the policies on/off, the
// ServiceMonitor on/off: 32 renders with the real helm, each checked for objects that agree with each
// other (chart-consistency.ts: the volume the controller injects is served, the webhooks trust the CA
// of the certificate the controller serves, …) and for the toggle doing what it says. The check
// itself is shown to fail on renders broken the ways a chart breaks (csi.enabled=false that still
// injected CSI volumes was one).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { loadConfig } from '../../webhook/config.js';
import { chartProblems } from './chart-consistency.js';
import { helmTemplate, key } from '../harness/chart.js';
import { modelFor, type KubeObject } from '../harness/manifest-load.js';
import { skipWithout } from '../harness/tools.js';

const skip = skipWithout('helm');
const NS = 'platform-relays';
const TOGGLES = [
  'csi.enabled',
  'agent.daemonset',
  'certificates.certManager',
  'policy.enabled',
  'metrics.serviceMonitor.enabled',
] as const;
type Combination = Record<(typeof TOGGLES)[number], boolean>;

const combinations: Combination[] = Array.from(
  { length: 2 ** TOGGLES.length },
  (_, i) => Object.fromEntries(TOGGLES.map((t, bit) => [t, ((i >> bit) & 1) === 1])) as Combination,
);
const label = (c: Combination) => TOGGLES.map((t) => `${t}=${c[t]}`).join(',');

/** Renders every combination, two helm processes at a time. */
async function renderAll(): Promise<Map<Combination, KubeObject[]>> {
  const out = new Map<Combination, KubeObject[]>();
  const queue = [...combinations];
  await Promise.all(
    [0, 1].map(async () => {
      for (let c = queue.shift(); c; c = queue.shift()) {
        out.set(
          c,
          await helmTemplate({ namespace: NS, set: Object.fromEntries(TOGGLES.map((t) => [t, String(c[t])])) }),
        );
      }
    }),
  );
  return out;
}

const controllerEnv = (objs: KubeObject[]) => {
  const ds = objs.find((o) => o.kind === 'DaemonSet' && o.metadata.name === 'socat-relay-controller')!;
  return Object.fromEntries(
    ds.spec.template.spec.containers[0].env.filter((e: any) => 'value' in e).map((e: any) => [e.name, e.value]),
  );
};

describe("the chart's toggles, every combination", { skip }, () => {
  let renders: Map<Combination, KubeObject[]>;

  test(
    `all ${combinations.length} combinations render, and in each the objects agree with each other`,
    { timeout: 600_000 },
    async () => {
      renders = await renderAll();
      assert.equal(renders.size, 32);
      const failures = [...renders].flatMap(([c, objs]) =>
        chartProblems(objs, NS).map((problem) => `${label(c)}: ${problem}`),
      );
      assert.deepEqual(failures, []);
    },
  );

  test('each toggle does what it says, whatever the others are', () => {
    assert.ok(renders, 'rendered by the test before');
    for (const [c, objs] of renders) {
      const has = (kind: string, name?: string) =>
        objs.some((o) => o.kind === kind && (name === undefined || o.metadata.name === name));
      const at = label(c);
      const config = loadConfig([], { ...controllerEnv(objs), NODE_NAME: 'n' });
      assert.equal(has('CSIDriver', 'csi.socat.io'), c['csi.enabled'], at);
      assert.equal(config.volumeSource, c['csi.enabled'] ? 'csi' : 'hostPath', at);
      const agent = objs.find((o) => o.kind === 'DaemonSet' && o.metadata.name === 'socat-relay-agent');
      assert.equal(Boolean(agent), c['agent.daemonset'], at);
      if (agent)
        assert.deepEqual(
          agent.spec.template.spec.containers.map((x: any) => x.name),
          c['csi.enabled'] ? ['agent', 'csi'] : ['agent'],
          at,
        );
      assert.equal(has('Certificate'), c['certificates.certManager'], at);
      assert.equal(has('Issuer'), c['certificates.certManager'], at);
      assert.equal(has('Secret', 'socat-relay-webhook-serving'), !c['certificates.certManager'], at);
      assert.equal(config.certificates, c['certificates.certManager'] ? 'files' : 'self-managed', at);
      assert.equal(objs.filter((o) => o.kind === 'ValidatingAdmissionPolicy').length, c['policy.enabled'] ? 3 : 0, at);
      assert.equal(
        objs.filter((o) => o.kind === 'ValidatingAdmissionPolicyBinding').length,
        c['policy.enabled'] ? 3 : 0,
        at,
      );
      assert.equal(has('ServiceMonitor'), c['metrics.serviceMonitor.enabled'], at);
      for (const always of [
        'CustomResourceDefinition',
        'MutatingWebhookConfiguration',
        'ValidatingWebhookConfiguration',
        'Service',
        'ClusterRole',
      ])
        assert.ok(has(always), `${at}: ${always}`);
    }
  });

  test("every distinct object of every combination passes its kind's schema (kubernetes-models)", async () => {
    assert.ok(renders, 'rendered by the test before');
    const checked = new Set<string>();
    for (const objs of renders.values()) {
      for (const o of objs) {
        const text = JSON.stringify(o);
        if (checked.has(text)) continue;
        checked.add(text);
        const Model = await modelFor(o.apiVersion, o.kind);
        if (Model) assert.doesNotThrow(() => new Model(o).validate(), key(o));
      }
    }
    assert.ok(checked.size > 30, `${checked.size} distinct objects`);
  });
});

test(
  'the settings beside the toggles keep the objects agreeing: hostNetwork with other ports, another kubelet folder, failurePolicy Fail, percentages',
  { skip },
  async () => {
    for (const csi of ['true', 'false']) {
      const objs = await helmTemplate({
        namespace: NS,
        set: {
          'csi.enabled': csi,
          'controller.hostNetwork': 'true',
          'controller.port': '10443',
          'controller.metricsPort': '10464',
          kubeletDir: '/var/lib/k0s/kubelet',
          'webhooks.podFailurePolicy': 'Fail',
          'controller.maxUnavailable': '25%',
          'agent.maxUnavailable': '10%',
          'agent.maxSurge': '0',
          'metrics.serviceMonitor.enabled': 'true',
          'certificates.certManager': 'false',
        },
      });
      assert.deepEqual(chartProblems(objs, NS), [], `csi.enabled=${csi}`);
    }
  },
);

describe('the agreement check fails on a broken render (it is not a check that cannot fail)', { skip }, () => {
  const broken = async (set: Record<string, string>, edit: (objs: KubeObject[]) => void): Promise<string[]> => {
    const objs = await helmTemplate({ namespace: NS, set });
    assert.deepEqual(chartProblems(objs, NS), [], 'the render itself agrees');
    edit(objs);
    return chartProblems(objs, NS);
  };
  const controller = (objs: KubeObject[]) =>
    objs.find((o) => o.metadata.name === 'socat-relay-controller' && o.kind === 'DaemonSet')!;
  const agent = (objs: KubeObject[]) =>
    objs.find((o) => o.metadata.name === 'socat-relay-agent' && o.kind === 'DaemonSet')!;
  const setEnv = (objs: KubeObject[], name: string, value: string) => {
    for (const e of controller(objs).spec.template.spec.containers[0].env) if (e.name === name) e.value = value;
  };

  test('csi.enabled=false with the CSI volume source still set (the chart before this check): no CSIDriver, no plugin', async () => {
    const problems = await broken({ 'csi.enabled': 'false' }, (objs) =>
      setEnv(objs, 'SOCAT_RELAY_VOLUME_SOURCE', 'csi'),
    );
    assert.match(problems.join('\n'), /injects csi\.socat\.io volumes .* no CSIDriver csi\.socat\.io is rendered/);
    assert.match(problems.join('\n'), /runs no CSI plugin for csi\.socat\.io/);
  });

  test('a CSIDriver and a privileged plugin nothing uses (hostPath volume source)', async () => {
    const problems = await broken({}, (objs) => setEnv(objs, 'SOCAT_RELAY_VOLUME_SOURCE', 'hostPath'));
    assert.match(
      problems.join('\n'),
      /CSIDriver\/\/csi\.socat\.io is rendered but the controller injects hostPath volumes/,
    );
    assert.match(problems.join('\n'), /container csi runs a CSI plugin/);
  });

  test('the CSI plugin told one kubelet folder and mounted another', async () => {
    const problems = await broken({ kubeletDir: '/var/lib/k0s/kubelet' }, (objs) => {
      const v = agent(objs).spec.template.spec.volumes.find((x: any) => x.name === 'kubelet-dir');
      v.hostPath.path = '/var/lib/kubelet';
    });
    assert.match(
      problems.join('\n'),
      /--kubelet-dir=\/var\/lib\/k0s\/kubelet is mounted from the host's \/var\/lib\/kubelet/,
    );
  });

  test('self-managed certificates with a caBundle rendered, a Secret with data, a missing right; cert-manager beside it', async () => {
    const problems = await broken({ 'certificates.certManager': 'false' }, (objs) => {
      objs.find((o) => o.kind === 'MutatingWebhookConfiguration')!.webhooks[1].clientConfig.caBundle = 'Zm9v';
      objs.find((o) => o.kind === 'Secret' && o.metadata.name === 'socat-relay-webhook-ca')!.data = {
        'tls.crt': 'Zm9v',
      };
      const role = objs.find((o) => o.kind === 'Role' && o.metadata.name === 'socat-relay-controller-certs')!;
      role.rules[0].resourceNames = ['socat-relay-webhook-ca'];
    });
    const text = problems.join('\n');
    assert.match(
      text,
      /ephemeral-containers\.socat\.io renders a caBundle: an upgrade or a GitOps sync would overwrite/,
    );
    assert.match(text, /Secret\/platform-relays\/socat-relay-webhook-ca is rendered with data/);
    assert.match(text, /may not get and update Secret socat-relay-webhook-serving/);
    const both = await broken({}, (objs) => {
      objs.push({
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: { name: 'socat-relay-webhook-tls', namespace: NS, labels: controller(objs).metadata.labels },
        data: {},
      });
    });
    assert.match(both.join('\n'), /cert-manager and the chart would overwrite each other/);
  });

  test('a policy without its binding, a policy that judges other pods than the webhook injects', async () => {
    const problems = await broken({}, (objs) => {
      objs.splice(
        objs.findIndex(
          (o) => o.kind === 'ValidatingAdmissionPolicyBinding' && o.metadata.name === 'socat-relay-injected-pods',
        ),
        1,
      );
      objs.find(
        (o) => o.metadata.name === 'socat-relay-require-sidecar' && o.kind === 'ValidatingAdmissionPolicy',
      )!.spec.matchConstraints.namespaceSelector = {};
    });
    assert.match(problems.join('\n'), /socat-relay-injected-pods has no binding/);
    assert.match(problems.join('\n'), /its namespaceSelector \{\} differs from pods\.socat\.io's/);
  });

  test('a ServiceMonitor scraping a port the Service lacks; a webhook Service port moved', async () => {
    const problems = await broken({ 'metrics.serviceMonitor.enabled': 'true' }, (objs) => {
      objs.find((o) => o.kind === 'ServiceMonitor')!.spec.endpoints[0].port = 'metric';
      controller(objs).spec.template.spec.containers[0].ports[0].containerPort = 9443;
    });
    assert.match(
      problems.join('\n'),
      /scrapes port metric, which Service\/platform-relays\/socat-relay-webhook has not/,
    );
    assert.match(problems.join('\n'), /container port https is 9443, the controller listens on 8443/);
  });

  test("an object without the release's labels or outside its namespace", async () => {
    const problems = await broken({}, (objs) => {
      delete objs[0]!.metadata.labels!['app.kubernetes.io/version'];
      objs.find((o) => o.kind === 'Service')!.metadata.namespace = 'socat-relay-system';
    });
    assert.match(problems.join('\n'), /has no label app\.kubernetes\.io\/version/);
    assert.match(problems.join('\n'), /namespace socat-relay-system, the release's is platform-relays/);
  });
});
