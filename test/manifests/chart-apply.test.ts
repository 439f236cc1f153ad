// The chart's rendered objects on a real kube-apiserver (test/harness control plane): server-side
// apply with strict field validation, so an unknown or misplaced field, a wrong type or an invalid
// CEL expression in the chart is a failure here, not at a user's install. Rendered without
// cert-manager (the test API server has no cert-manager CRDs; their objects are schema-checked with
// the cert-manager models in chart.test.ts). The install docs' shell lines run for real against it too:
// the kubectl waits, and the caBundle loop of the install without cert-manager.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { KubeConfig } from '@kubernetes/client-node';
import { makeWebhookCerts } from '../../certs/selfsigned.js';
import { createLogger } from '../../lib/log.js';
import { SelfManagedCerts } from '../../webhook/certs/self-managed.js';
import {
  readManifests,
  skipUnlessControlPlane,
  startControlPlane,
  waitForCrdEstablished,
  type ControlPlane,
} from '../harness/index.js';
import { CHART, helmTemplate, key } from '../harness/chart.js';
import { REPO, type KubeObject } from '../harness/manifest-load.js';
import { runTool, skipWithout, toolPath } from '../harness/tools.js';

const execFileP = promisify(execFile);

/** The self-managed certificates' loop (webhook/certs/) against the chart's Secrets, once per check() call. */
function selfManaged(cp: ControlPlane): { loop: SelfManagedCerts; served: () => number } {
  let served = 0;
  const kc = new KubeConfig();
  kc.loadFromFile(cp.kubeconfigPath);
  const loop = new SelfManagedCerts({
    kc,
    namespace: 'socat-relay-system',
    policy: {
      caLifetimeMs: 3_600_000,
      servingLifetimeMs: 600_000,
      hosts: SelfManagedCerts.hosts('socat-relay-system', []),
    },
    checkMs: 60_000,
    log: createLogger({ level: 'silent' }),
    serve: () => void served++,
  });
  return { loop, served: () => served };
}

const skip = skipUnlessControlPlane() || skipWithout('helm');

/** Server-side apply with fieldValidation=Strict (what `kubectl apply --server-side` sends). */
async function applyStrict(cp: ControlPlane, o: KubeObject, dryRun = false): Promise<void> {
  const p = await cp.client.pathOf(o.apiVersion, o.kind, o.metadata.namespace, o.metadata.name);
  await cp.client.request('PATCH', p, {
    body: o,
    contentType: 'application/apply-patch+yaml',
    query: {
      fieldManager: 'helm-chart-test',
      force: 'true',
      fieldValidation: 'Strict',
      dryRun: dryRun ? 'All' : undefined,
    },
  });
}

describe('the chart applied server-side to a real API server', { skip }, () => {
  let cp: ControlPlane | undefined;
  before(async () => {
    cp = await startControlPlane();
    // The namespace is not the chart's (Helm cannot own its release namespace): made first, as the docs say.
    for (const ns of readManifests('controller/namespace.yaml')) await cp.client.apply(ns);
  });
  after(async () => {
    await cp?.stop();
  });

  test('every object of helm template (certificates.certManager=false) is accepted and stored', async () => {
    const objs = await helmTemplate({ set: { 'certificates.certManager': 'false' } });
    const crds = objs.filter((o) => o.kind === 'CustomResourceDefinition');
    for (const c of crds) await applyStrict(cp!, c);
    for (const c of crds) await waitForCrdEstablished(cp!.client, c.metadata.name);
    const rest = objs.filter((o) => o.kind !== 'CustomResourceDefinition');
    for (const o of rest) {
      await assert.doesNotReject(applyStrict(cp!, o), `${key(o)}`);
    }
    for (const o of objs) {
      const got = await cp!.client.get(o.apiVersion, o.kind, o.metadata.name, o.metadata.namespace);
      assert.equal(got.metadata.labels?.['app.kubernetes.io/managed-by'], 'Helm', key(o));
    }
  });

  test(
    "the install docs' kubectl wait lines for the CRD and the CA injection pass on the applied chart (kubectl from TESTBIN_DIR)",
    { skip: skipWithout('kubectl') },
    async () => {
      const lines = [
        readFileSync(path.join(REPO, 'README.md'), 'utf8'),
        readFileSync(path.join(REPO, 'docs', 'install.md'), 'utf8'),
      ]
        .flatMap((t) => t.split('\n'))
        .map((l) => l.replace(/\s+#.*$/, '').trim())
        .filter((l) => /^kubectl wait .*(crd\/|webhookconfiguration\/)/.test(l));
      assert.ok(lines.length >= 3, lines.join('\n'));
      // The caBundle is the serving controllers' to write (no controller runs here): one pass of their
      // loop, as the chart's serving ServiceAccount would run it.
      const { loop } = selfManaged(cp!);
      await loop.check();
      for (const line of new Set(lines)) {
        const args = line
          .split(/\s+/)
          .slice(1)
          .map((a) => a.replace(/^(--for=jsonpath=)'(.*)'$/, '$1$2'));
        const out = await runTool('kubectl', ['--kubeconfig', cp!.kubeconfigPath, ...args, '--timeout=20s']);
        assert.match(out, /condition met/, line);
      }
    },
  );

  test(
    'the caBundle loop of the install without cert-manager (its README, docs/install.md) fills every webhook entry of both configurations (kubectl from TESTBIN_DIR)',
    { skip: skipWithout('kubectl') },
    async () => {
      const { caBundle } = await makeWebhookCerts();
      const loops = ['manifests/no-cert-manager/README.md', 'docs/install.md'].map((f) => {
        const m = /^for kind in mutatingwebhookconfiguration validatingwebhookconfiguration; do$[\s\S]*?^done$/m.exec(
          readFileSync(path.join(REPO, f), 'utf8'),
        );
        assert.ok(m, `${f}: the caBundle loop`);
        return m[0];
      });
      const configs = readManifests('webhook');
      assert.ok(
        configs.some((o) => (o.webhooks as unknown[]).length > 1),
        'a configuration with more than one entry (what the loop must not miss)',
      );
      for (const loop of new Set(loops)) {
        // As manifests/no-cert-manager/ leaves them: no caBundle, no cert-manager annotation.
        for (const o of configs) {
          await cp!.client.delete(o.apiVersion, o.kind, o.metadata.name);
          const copy = structuredClone(o);
          delete copy.metadata.annotations?.['cert-manager.io/inject-ca-from'];
          await cp!.client.create(copy);
        }
        await execFileP('bash', ['-euo', 'pipefail', '-c', loop], {
          env: {
            ...process.env,
            PATH: `${path.dirname(toolPath('kubectl'))}:${process.env.PATH}`,
            KUBECONFIG: cp!.kubeconfigPath,
            CA_BUNDLE: caBundle,
          },
          timeout: 60_000,
        });
        for (const o of configs) {
          const got = await cp!.client.get(o.apiVersion, o.kind, o.metadata.name);
          for (const w of got.webhooks)
            assert.equal(w.clientConfig.caBundle, caBundle, `${o.kind} ${o.metadata.name}: webhook ${w.name}`);
        }
      }
    },
  );

  test('the settings the defaults leave out are accepted too (CSI off, hostNetwork, kubeletDir, failurePolicy Fail, affinity, annotations, maxUnavailable): server-side dry run', async () => {
    const objs = await helmTemplate({
      set: {
        'certificates.certManager': 'false',
        'csi.enabled': 'false',
        'controller.hostNetwork': 'true',
        'controller.port': '10443',
        'controller.metricsPort': '10464',
        kubeletDir: '/var/lib/k0s/kubelet',
        'webhooks.podFailurePolicy': 'Fail',
        'controller.maxUnavailable': '25%',
        'agent.maxUnavailable': '3',
        'agent.maxSurge': '0',
        'controller.podAnnotations.example\\.com/team': 'platform',
        'agent.podAnnotations.example\\.com/team': 'platform',
        'agent.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[0].key':
          'relays',
        'agent.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[0].operator':
          'Exists',
      },
    });
    for (const o of objs.filter((x) => x.kind !== 'CustomResourceDefinition'))
      await assert.doesNotReject(applyStrict(cp!, o, true), key(o));
    const withCsi = await helmTemplate({
      set: { 'certificates.certManager': 'false', kubeletDir: '/var/lib/k0s/kubelet' },
    });
    const agent = withCsi.find((o) => o.kind === 'DaemonSet' && o.metadata.name === 'socat-relay-agent')!;
    await assert.doesNotReject(
      applyStrict(cp!, agent, true),
      'the agent with its CSI plugin in another kubelet folder',
    );
  });

  test('helm install --dry-run against the API server (its real version in .Capabilities) renders, and its notes say what the toggles imply', async () => {
    // No cert-manager CRDs on the test API server: helm maps every kind against it. The objects the
    // tests before applied carry no Helm ownership: --take-ownership lets the dry run past that check.
    const install = (set: string[]) =>
      runTool('helm', [
        'install',
        'socat-relay',
        CHART,
        '--dry-run=client',
        '--take-ownership',
        '--kubeconfig',
        cp!.kubeconfigPath,
        '-n',
        'socat-relay-system',
        ...['certificates.certManager=false', ...set].flatMap((x) => ['--set', x]),
      ]);
    const defaults = await install([]);
    assert.match(
      defaults,
      /NOTES:[\s\S]*rollout status daemonset\/socat-relay-agent[\s\S]*read-only csi\.socat\.io volume/,
    );
    assert.doesNotMatch(defaults, /not supported/, 'the test API server is a supported release');
    const off = await install([
      'csi.enabled=false',
      'agent.daemonset=false',
      'policy.enabled=false',
      'kubeletDir=/var/lib/k0s/kubelet',
    ]);
    const notes = off.slice(off.indexOf('NOTES:'));
    assert.match(notes, /socat-relay static-pod --image ghcr\.io\/socat-relay\/socat-relay:0\.1\.0/);
    assert.match(notes, /csi\.enabled is false: delete its `csi` container/);
    assert.match(
      notes,
      /consumers get a read-only hostPath volume, so their namespaces must allow it\s+\(Pod Security level `privileged`\)/,
    );
    assert.match(
      notes,
      /policy\.enabled is false: no ValidatingAdmissionPolicy backs the pod webhook, which fails open/,
    );
    const moved = await install([
      'agent.daemonset=false',
      'kubeletDir=/var/lib/k0s/kubelet',
      'agent.nodeSelector.relays=yes',
    ]);
    assert.match(moved, /kubeletDir is \/var\/lib\/k0s\/kubelet: set the csi container's --kubelet-dir/);
    assert.match(
      moved,
      /agent\.affinity, tolerations, nodeSelector, resources and podAnnotations shape the DaemonSet only/,
    );
    assert.doesNotMatch(off, /shape the DaemonSet only/);
  });

  test('a field the schema does not know is refused (the strict check is real)', async () => {
    const ds = (await helmTemplate()).find((o) => o.kind === 'DaemonSet')!;
    ds.spec.template.spec.containers[0].imagePullPolicyy = 'Always';
    await assert.rejects(applyStrict(cp!, ds, true), /imagePullPolicyy: field not declared in schema/);
  });
});
