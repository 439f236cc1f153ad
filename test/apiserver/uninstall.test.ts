// Uninstall leaves nothing, by either path. The Helm chart (without cert-manager) applied to a real API
// server, what the controllers make at run time made by their own code (the self-managed certificates' Secrets and
// caBundle, two controllers' Leases, a RelayNode) plus the Secrets cert-manager makes, then what
// `helm uninstall` does: every release object deleted (the CRDs kept: crds.keep), the post-delete hooks
// applied and the hook Job's command run as its ServiceAccount (impersonated) with the manifest its
// ConfigMap holds, the hooks deleted once it succeeded. Then every object of every listable resource
// is read back: what is left must be what the user made (the namespace) and what the chart keeps on
// purpose (the CRDs), nothing else. No kubelet runs here, so the node-cleanup DaemonSet has no node
// to run on: its rollout and deletion are real; what each pod removes is test/manifests/cleanup.test.ts's.
// The kustomize path the same way, as docs/install.md says: the workloads deleted, `socat-relay
// uninstall` run with the admin's kubeconfig, then `kubectl delete -k` of the install (CRDs and
// namespace included): nothing of it may remain.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { parse, stringify } from 'yaml';
import { createLogger } from '../../lib/log.js';
import { SelfManagedCerts } from '../../webhook/certs/self-managed.js';
import { startControllerLease } from '../../webhook/reconcile/lease-kube.js';
import {
  REPO_ROOT,
  skipUnlessControlPlane,
  spawnManaged,
  waitFor,
  startControlPlane,
  waitForCrdEstablished,
  WORKLOAD_CONTROLLERS,
  type ControlPlane,
  type KubeObject,
} from '../harness/index.js';
import { helmTemplate } from '../harness/chart.js';
import { kustomize, MANIFESTS } from '../harness/manifest-load.js';
import type { AnyObject } from '../harness/apiserver-fixtures.js';
import { skipWithout } from '../harness/tools.js';

const NS = 'socat-relay-system';
const skip = skipUnlessControlPlane() || skipWithout('helm');
const isHook = (o: KubeObject) => Boolean(o.metadata.annotations?.['helm.sh/hook']);
const hookWeight = (o: KubeObject) => Number(o.metadata.annotations?.['helm.sh/hook-weight'] ?? 0);

/** Every object the API server holds that an install could have made: all listable resources, read back. */
async function everything(cp: ControlPlane): Promise<string[]> {
  const c = cp.client;
  const groups = (await c.request<{ groups: { preferredVersion: { groupVersion: string } }[] }>('GET', '/apis')).groups;
  const versions = ['v1', ...groups.map((g) => g.preferredVersion.groupVersion)];
  const out: string[] = [];
  for (const gv of versions) {
    const base = gv === 'v1' ? '/api/v1' : `/apis/${gv}`;
    const list = await c.request<{ resources: { name: string; kind: string; namespaced: boolean; verbs: string[] }[] }>(
      'GET',
      base,
    );
    for (const r of list.resources) {
      if (r.name.includes('/') || !r.verbs.includes('list')) continue;
      const items = (await c.request<{ items: KubeObject[] }>('GET', `${base}/${r.name}`)).items;
      for (const o of items) out.push(`${r.kind}/${o.metadata.namespace ?? ''}/${o.metadata.name}`);
    }
  }
  return out;
}

/** What counts as ours: in the install's namespace, named socat-relay*, or of the socat.io group. */
const ours = (k: string) =>
  /^[^/]+\/socat-relay-system\//.test(k) ||
  /\/socat-relay[^/]*$/.test(k) ||
  /socat\.io/.test(k) ||
  /^Relay(Node)?\//.test(k);
/** Made by the API server in every namespace, not by the install. */
const builtIn = (k: string) =>
  ['ServiceAccount/socat-relay-system/default', 'ConfigMap/socat-relay-system/kube-root-ca.crt'].includes(k) ||
  k.startsWith('Event/');

/** Creates what the controllers make at run time, by their own code, and what cert-manager would make. */
async function runTimeObjects(cp: ControlPlane): Promise<void> {
  const c = cp.client;
  const kc = new KubeConfig();
  kc.loadFromFile(cp.kubeconfigPath);
  const log = createLogger({ level: 'silent' });
  const hosts = SelfManagedCerts.hosts(NS, []);
  await new SelfManagedCerts({
    kc,
    namespace: NS,
    policy: { caLifetimeMs: 3_600_000, servingLifetimeMs: 600_000, hosts },
    checkMs: 60_000,
    log,
    serve: () => {},
  }).check();
  for (const nodeName of ['node-1', 'node-2']) {
    const lease = await startControllerLease({ kc, namespace: NS, nodeName, log });
    await waitFor(`the Lease of ${nodeName}`, async () =>
      Boolean(await c.getOrUndefined('coordination.k8s.io/v1', 'Lease', `socat-relay-controller-${nodeName}`, NS)),
    );
    await lease.stop();
  }
  await c.create({ apiVersion: 'socat.io/v1alpha1', kind: 'RelayNode', metadata: { name: 'node-1' } });
  // What cert-manager makes for the install with it (manifests/cert-manager/): no object of the install owns it.
  for (const name of ['socat-relay-ca', 'socat-relay-webhook-tls'])
    await c.create({ apiVersion: 'v1', kind: 'Secret', metadata: { name, namespace: NS }, type: 'Opaque' });
  const present = (await everything(cp)).filter(ours);
  for (const k of [
    'Lease/socat-relay-system/socat-relay-controller-node-1',
    'RelayNode//node-1',
    'Secret/socat-relay-system/socat-relay-webhook-ca',
    'Secret/socat-relay-system/socat-relay-ca',
  ])
    assert.ok(present.includes(k), `${k} is there before the uninstall`);
}

/** Applies objects, the CRDs first (each waited for until served). */
async function install(cp: ControlPlane, objs: KubeObject[]): Promise<void> {
  for (const o of objs.filter((x) => x.kind === 'CustomResourceDefinition')) {
    await cp.client.apply(o);
    await waitForCrdEstablished(cp.client, o.metadata.name);
  }
  for (const o of objs.filter((x) => x.kind !== 'CustomResourceDefinition')) await cp.client.apply(o);
}

/** Runs `socat-relay <args>` from the source, with `kubeconfig`; resolves with its output, rejects on failure. */
async function runCli(cp: ControlPlane, args: string[], kubeconfig: string): Promise<string> {
  const proc = spawnManaged(
    'uninstall',
    process.execPath,
    ['--import', 'tsx', path.join(REPO_ROOT, 'cli', 'main.ts'), ...args],
    {
      logFile: path.join(cp.dir, `uninstall-${Date.now()}.log`),
      env: { PATH: process.env.PATH, HOME: process.env.HOME, KUBECONFIG: kubeconfig },
      cwd: REPO_ROOT,
    },
  );
  const { code } = await proc.exited;
  assert.equal(code, 0, `socat-relay ${args.join(' ')} failed:\n${proc.logTail()}`);
  assert.match(proc.logTail(), /DaemonSet socat-relay-system\/socat-relay-node-cleanup deleted/);
  return proc.logTail();
}

/** What is left of ours, sorted. */
const leftOver = async (cp: ControlPlane) =>
  (await everything(cp))
    .filter(ours)
    .filter((k) => !builtIn(k))
    .sort();

describe('uninstall leaves nothing', () => {
  let cp: ControlPlane | undefined;
  before(async () => {
    if (skip) return;
    // The workload controllers (the DaemonSet's rollout, the garbage collector) and the namespace
    // controller (a deleted namespace goes).
    cp = await startControlPlane({ controllers: [...WORKLOAD_CONTROLLERS, 'namespace-controller'] });
  });
  after(async () => {
    await cp?.stop();
  });

  test(
    'helm uninstall and its post-delete hook: only the namespace (the user made it) and the kept CRDs remain',
    { skip, timeout: 300_000 },
    async (t) => {
      const c = cp!.client;
      await c.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: NS } });
      const objs = await helmTemplate({ set: { 'certificates.certManager': 'false' } });
      const release = objs.filter((o) => !isHook(o));
      await install(cp!, release);
      await runTimeObjects(cp!);
      // helm uninstall: the release's objects, but those it keeps.
      for (const o of release.filter((x) => x.metadata.annotations?.['helm.sh/resource-policy'] !== 'keep'))
        await c.delete(o.apiVersion, o.kind, o.metadata.name, o.metadata.namespace);
      // Its post-delete hooks, in weight order; the Job's command runs here as the Job's ServiceAccount.
      const hooks = objs.filter(isHook).sort((a, b) => hookWeight(a) - hookWeight(b));
      for (const o of hooks) await c.apply(o);
      const job = hooks.find((o) => o.kind === 'Job') as AnyObject;
      const cm = hooks.find((o) => o.kind === 'ConfigMap') as AnyObject;
      const manifest = path.join(cp!.dir, 'node-cleanup.yaml');
      writeFileSync(manifest, cm.data['node-cleanup.yaml']);
      const kubeconfig = parse(readFileSync(cp!.kubeconfigPath, 'utf8'));
      for (const u of kubeconfig.users)
        u.user.as = `system:serviceaccount:${NS}:${job.spec.template.spec.serviceAccountName}`;
      const asHook = path.join(cp!.dir, 'kubeconfig-uninstall');
      writeFileSync(asHook, stringify(kubeconfig));
      const args = (job.spec.template.spec.containers[0].args as string[]).map((a) =>
        a.startsWith('--daemonset=') ? `--daemonset=${manifest}` : a,
      );
      t.diagnostic(await runCli(cp!, args, asHook));
      // hook-delete-policy hook-succeeded: Helm deletes the hooks.
      for (const o of hooks) await c.delete(o.apiVersion, o.kind, o.metadata.name, o.metadata.namespace);
      assert.deepEqual(await leftOver(cp!), [
        // The API server's own registration of the kept CRDs' group: it goes with them.
        'APIService//v1alpha1.socat.io',
        'CustomResourceDefinition//relaynodes.socat.io',
        'CustomResourceDefinition//relays.socat.io',
        'Namespace//socat-relay-system',
      ]);
      // The next test installs from scratch.
      for (const o of release.filter((x) => x.kind === 'CustomResourceDefinition'))
        await c.delete(o.apiVersion, o.kind, o.metadata.name);
      await c.delete('v1', 'Namespace', NS);
      await waitFor('a clean API server', async () => (await leftOver(cp!)).length === 0, { timeoutMs: 60_000 });
    },
  );

  test(
    'kustomize, as docs/install.md says (manifests/self-managed-certs + node-agent, socat-relay uninstall, kubectl delete -k): nothing remains',
    { skip: skip || skipWithout('kubectl'), timeout: 300_000 },
    async (t) => {
      const c = cp!.client;
      const installObjs = [
        ...(await kustomize(path.join(MANIFESTS, 'self-managed-certs'))),
        ...(await kustomize(path.join(MANIFESTS, 'node-agent'))),
      ];
      await install(cp!, installObjs);
      await runTimeObjects(cp!);
      // Steps 3-5: the agent and the controllers, then socat-relay uninstall (the admin's kubeconfig), then the rest.
      for (const o of installObjs.filter((x) => x.kind === 'DaemonSet'))
        await c.delete(o.apiVersion, o.kind, o.metadata.name, o.metadata.namespace);
      t.diagnostic(await runCli(cp!, ['uninstall'], cp!.kubeconfigPath));
      for (const o of installObjs.filter((x) => x.kind !== 'DaemonSet'))
        await c.delete(o.apiVersion, o.kind, o.metadata.name, o.metadata.namespace).catch(() => undefined);
      await waitFor('the namespace to go', async () => !(await c.getOrUndefined('v1', 'Namespace', NS)), {
        timeoutMs: 60_000,
      });
      assert.deepEqual(await leftOver(cp!), []);
    },
  );
});
