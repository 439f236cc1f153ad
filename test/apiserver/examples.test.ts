// Every example on a real kube-apiserver with our webhooks, policy and controller (webhook only):
// Namespaces and Relays are created (the Relay webhook and the CRD's CEL check them), every other
// object is server-side applied with dry-run and strict field validation, and a Pod made from each
// consumer's template is dry-run created, coming back injected by our webhook with one sidecar per
// relay it names and passing the ValidatingAdmissionPolicy. Kinds whose API the test server lacks
// (prometheus-operator's PodMonitor) are schema-checked in manifests.test.ts instead.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { CONSUME_ANNOTATION, CONSUME_LABEL, INJECTED_ANNOTATION } from '../../relay/constants.js';
import { sidecarName } from '../../relay/names.js';
import {
  ApiError,
  applyAll,
  installCrds,
  namespaceReady,
  policyManifests,
  readManifests,
  registerWebhooks,
  skipUnlessControlPlane,
  startControlPlane,
  startController,
  waitUntilWebhookCalled,
  type ControlPlane,
  type KubeObject,
  type RunningController,
} from '../harness/index.js';
import { loadExamples } from '../harness/examples-catalog.js';
import { podFromWorkload } from '../harness/inject.js';

const skip = skipUnlessControlPlane();
/** The shipped controller's settings that change injection (the volume source), as the DaemonSet sets them. */
const shippedEnv = (): Record<string, string> => {
  const ds = readManifests('controller/daemonset.yaml')[0] as KubeObject & { spec: any };
  const env = ds.spec.template.spec.containers[0].env as { name: string; value?: string }[];
  return Object.fromEntries(
    env.filter((e) => e.name === 'SOCAT_RELAY_VOLUME_SOURCE' && e.value).map((e) => [e.name, e.value!]),
  );
};
const examples = loadExamples();
const NOT_SERVED = new Set(['monitoring.coreos.com/v1']);

async function dryRunApply(cp: ControlPlane, o: KubeObject): Promise<void> {
  const p = await cp.client.pathOf(o.apiVersion, o.kind, o.metadata.namespace, o.metadata.name);
  await cp.client.request('PATCH', p, {
    body: o,
    contentType: 'application/apply-patch+yaml',
    query: { fieldManager: 'examples-test', force: 'true', fieldValidation: 'Strict', dryRun: 'All' },
  });
}

describe('the examples on a real API server (server-side dry-run, our webhooks and policy)', { skip }, () => {
  let cp: ControlPlane;
  let ctl: RunningController;

  before(async () => {
    cp = await startControlPlane();
    await installCrds(cp.client);
    const socketDir = `${cp.dir}/node-run`;
    await applyAll(cp.client, policyManifests(socketDir));
    ctl = await startController({
      kubeconfigPath: cp.kubeconfigPath,
      dir: cp.dir,
      socketDir,
      env: { SOCAT_RELAY_SIDECAR_MODE: 'auto', ...shippedEnv() },
    });
    await registerWebhooks(cp.client, { baseUrl: ctl.baseUrl, caBundle: ctl.certs.caBundle });
    await waitUntilWebhookCalled('the relay webhook', async () => {
      const probe = {
        apiVersion: 'socat.io/v1alpha1',
        kind: 'Relay',
        metadata: { name: 'probe' },
        spec: {
          target: { host: '127.0.0.1', port: 1 },
          nodeSelector: { [`${'a'.repeat(254)}/x`]: 'y' },
          consumers: { namespaces: ['x'] },
        },
      };
      const err = await cp.client.create(probe, { dryRun: true }).then(
        () => undefined,
        (e: unknown) => e,
      );
      return err instanceof ApiError && err.message.includes('relays.socat.io');
    });
  });
  after(async () => {
    await ctl?.stop();
    await cp?.stop();
  });

  for (const e of examples) {
    test(`${e.name}: Namespaces and Relays created, every other object accepted (dry-run), each consumer's pod injected`, async () => {
      for (const ns of e.objects.filter((o) => o.kind === 'Namespace')) {
        await cp.client.apply(ns);
        await namespaceReady(cp.client, ns.metadata.name);
      }
      for (const r of e.relays) await cp.client.apply(r);
      // The consumers' pods below are created (dry-run) with their tokens: the ServiceAccount plugin needs their
      // ServiceAccounts.
      for (const sa of e.objects.filter((o) => o.kind === 'ServiceAccount')) await cp.client.apply(sa);
      const skipped: string[] = [];
      for (const o of e.objects.filter(
        (x) => x.kind !== 'Namespace' && x.kind !== 'Relay' && x.kind !== 'ServiceAccount',
      )) {
        if (NOT_SERVED.has(o.apiVersion)) {
          skipped.push(`${o.kind}/${o.metadata.name}`);
          continue;
        }
        await dryRunApply(cp, o).catch((err: Error) => {
          throw new Error(`${o.kind}/${o.metadata.name}: ${err.message}`);
        });
      }
      if (skipped.length > 0)
        assert.ok(
          skipped.every((s) => s.startsWith('PodMonitor/')),
          skipped.join(),
        );
      for (const c of e.consumers) {
        const pod = podFromWorkload(c as any) as unknown as KubeObject;
        const names = [
          pod.metadata.labels?.[CONSUME_LABEL],
          ...(pod.metadata.annotations?.[CONSUME_ANNOTATION] ?? '').split(','),
        ]
          .map((s) => s?.trim())
          .filter((s): s is string => !!s);
        // The controller's Relay cache sees the Relays created above within a moment.
        let created: any;
        let denied: string | undefined;
        await waitUntilWebhookCalled(`injection of ${c.metadata.name}`, async () => {
          created = await cp.client.create(pod, { dryRun: true }).catch((err: Error) => {
            if (!/relay "[^"]+" not found/.test(err.message)) denied = err.message; // anything but a cache not yet synced is final
            return undefined;
          });
          return denied !== undefined || created?.metadata?.annotations?.[INJECTED_ANNOTATION] !== undefined;
        });
        assert.equal(denied, undefined, `${c.kind}/${c.metadata.name}'s pod was refused`);
        const sidecars = [...(created.spec.initContainers ?? []), ...created.spec.containers].map(
          (x: { name: string }) => x.name,
        );
        for (const n of new Set(names))
          assert.ok(sidecars.includes(sidecarName(n)), `${c.metadata.name}: sidecar for ${n} in ${sidecars.join()}`);
      }
    });
  }
});
