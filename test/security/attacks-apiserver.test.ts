// The attack table (attacks.ts) on a real kube-apiserver: first the ValidatingAdmissionPolicy of
// manifests/policy alone (as when the controller is down), then our controller as a real process
// behind the real webhook configurations, in hostPath and then in CSI mode. Last, Pod Security: in a
// namespace that enforces `restricted` (PodSecurity admission runs by default), a consumer injected in
// CSI mode is admitted and the same pod in hostPath mode is refused with our message naming CSI mode.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  ApiError, applyAll, installCrds, readManifests, registerWebhooks, skipUnlessControlPlane, startControlPlane, startController,
  waitUntilWebhookCalled, type ControlPlane, type KubeObject, type RunningController,
} from '../harness/index.js';
import type { RawPod, VolumeSource } from '../../webhook/admission/index.js';
import {
  CASES, EPHEMERAL_CASES, IMAGE, injectedPod, NAMESPACE, plainPod, RELAYS, RESTRICTED_NAMESPACE, SOCKET_DIR, withEphemeral, type Expect,
} from './attacks.js';

import { required } from '../support/required.js';

// Skipped with the reason on a machine without the test binaries; a failure in CI (they are required there).
const skip = required(skipUnlessControlPlane() || null);

async function verdict(p: Promise<unknown>): Promise<{ allowed: boolean; message: string }> {
  try {
    await p;
    return { allowed: true, message: '' };
  } catch (err) {
    if (!(err instanceof ApiError)) throw err;
    return { allowed: false, message: err.message };
  }
}

function judge(v: { allowed: boolean; message: string }, expect: Expect, who: string): void {
  if (expect === 'allowed') assert.equal(v.allowed, true, `${who} denied: ${v.message}`);
  else {
    assert.equal(v.allowed, false, `${who} allowed it`);
    assert.match(v.message, expect);
  }
}

/** A consumer that the restricted level admits once its sidecar is there. */
function restrictedPod(name: string): RawPod {
  const p = plainPod(name);
  p.metadata!.namespace = RESTRICTED_NAMESPACE;
  p.spec!.securityContext = { runAsNonRoot: true, runAsUser: 1000, seccompProfile: { type: 'RuntimeDefault' } };
  p.spec!.containers![0]!.securityContext = { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } };
  return p;
}

describe('the attack table on a real API server', () => {
  let cp: ControlPlane | undefined;
  let ctl: RunningController | undefined;
  const api = () => cp!.client;
  const create = (pod: RawPod) => api().create(pod as KubeObject, { dryRun: true });
  const addEphemeral = (pod: RawPod) => api().request('PUT', `/api/v1/namespaces/${NAMESPACE}/pods/${pod.metadata!.name}/ephemeralcontainers`, { body: pod, query: { dryRun: 'All' } });
  let stored: Record<VolumeSource, RawPod>;

  async function controllerIn(volumeSource: VolumeSource): Promise<void> {
    const reuse = ctl ? { certs: ctl.certs, port: ctl.port } : {};
    await ctl?.stop();
    ctl = await startController({
      kubeconfigPath: cp!.kubeconfigPath, dir: cp!.dir, socketDir: SOCKET_DIR, ...reuse,
      env: { SOCAT_RELAY_VOLUME_SOURCE: volumeSource, SOCAT_RELAY_SIDECAR_IMAGE: IMAGE, SOCAT_RELAY_SIDECAR_MODE: 'native' },
    });
    if (!reuse.certs) await registerWebhooks(api(), { baseUrl: ctl.baseUrl, caBundle: ctl.certs.caBundle });
    await waitUntilWebhookCalled(`the pod webhook in ${volumeSource} mode`, async () => {
      const dry = (await create(plainPod('probe')).catch(() => undefined)) as RawPod | undefined;
      return dry?.spec?.volumes?.some((v) => volumeSource in v) ?? false;
    });
  }

  before(async () => {
    if (skip) return;
    cp = await startControlPlane({ namespaces: [NAMESPACE] });
    await api().apply({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: RESTRICTED_NAMESPACE, labels: { 'pod-security.kubernetes.io/enforce': 'restricted' } } });
    await applyAll(api(), readManifests('policy'));
    await waitUntilWebhookCalled('the policy', async () => !(await verdict(create(plainPod('probe')))).allowed);
    // The stored consumers the ephemeral-container cases are added to (the policy admits them).
    stored = { hostPath: injectedPod('hostPath', 'stored-hostpath'), csi: injectedPod('csi', 'stored-csi') };
    for (const p of Object.values(stored)) await api().create(p as KubeObject);
  });
  after(async () => {
    await ctl?.stop();
    await cp?.stop();
  });

  for (const c of CASES) {
    test(`policy alone: ${c.name} → ${c.policy === 'allowed' ? 'admitted' : 'denied'}${c.why ? ` (${c.why})` : ''}`, { skip }, async () => {
      judge(await verdict(create(c.pod())), c.policy, 'the policy');
    });
  }
  for (const c of EPHEMERAL_CASES) {
    test(`policy alone, pods/ephemeralcontainers: ${c.name} → ${c.policy === 'allowed' ? 'admitted' : 'denied'}`, { skip }, async () => {
      judge(await verdict(addEphemeral(withEphemeral(stored.hostPath, c.container))), c.policy, 'the policy');
    });
  }

  for (const source of ['hostPath', 'csi'] as const) {
    describe(`through our webhook (controller in ${source} mode)`, () => {
      before(async () => {
        if (skip) return;
        if (source === 'hostPath') {
          await installCrds(api());
          for (const r of RELAYS) await api().create(structuredClone(r) as unknown as KubeObject);
        }
        await controllerIn(source);
      });
      for (const c of CASES.filter((x) => x.volumeSource === source)) {
        test(`webhook: ${c.name} → ${c.webhook === 'allowed' ? 'admitted' : 'denied'}`, { skip }, async () => {
          const v = await verdict(create(c.pod()));
          judge(v, c.webhook, 'the webhook');
          if (c.webhook !== 'allowed') assert.match(v.message, /admission webhook "pods\.socat\.io" denied the request/);
        });
      }
      for (const c of EPHEMERAL_CASES) {
        test(`webhook, pods/ephemeralcontainers: ${c.name} → ${c.webhook === 'allowed' ? 'admitted' : 'denied'}`, { skip }, async () => {
          const v = await verdict(addEphemeral(withEphemeral(stored[source], c.container)));
          judge(v, c.webhook, 'the webhook');
          if (c.webhook !== 'allowed') assert.match(v.message, /admission webhook "pods\.socat\.io" denied the request/);
        });
      }
      test('the stored marker lists only the verified relay, whatever the pod claimed', { skip }, async () => {
        const p = plainPod(`marker-${source.toLowerCase()}`);
        p.metadata!.annotations = { 'socat.io/injected': 'etcd,sched,nope' };
        const created = (await api().create(p as KubeObject)) as RawPod;
        assert.equal(created.metadata?.annotations?.['socat.io/injected'], 'sched');
        assert.deepEqual(created.spec?.volumes?.map((v) => v.name), ['socat-sched']);
      });
      test(`Pod Security restricted: a labeled consumer in ${source} mode is ${source === 'csi' ? 'admitted' : 'refused with our message naming the CSI mode'}`, { skip }, async () => {
        const v = await verdict(api().create(restrictedPod(`consumer-${source.toLowerCase()}`) as KubeObject));
        if (source === 'csi') {
          assert.equal(v.allowed, true, v.message);
          const pod = (await api().get('v1', 'Pod', 'consumer-csi', RESTRICTED_NAMESPACE)) as RawPod;
          assert.deepEqual(pod.spec?.volumes, [{ name: 'socat-sched', csi: { driver: 'csi.socat.io', readOnly: true, volumeAttributes: { relay: 'sched' } } }]);
        } else {
          assert.equal(v.allowed, false);
          assert.match(v.message, /admission webhook "pods\.socat\.io" denied the request: namespace "locked" enforces Pod Security level restricted, which forbids the hostPath volume socat-relay injects in hostPath mode: run the controller with --volume-source csi/);
        }
      });
    });
  }

  test('without our webhook, Pod Security alone refuses the hostPath consumer, and its message cannot name the fix', { skip }, async () => {
    await ctl?.stop();
    ctl = undefined;
    const p = injectedPod('hostPath', 'no-webhook');
    const r = restrictedPod('no-webhook');
    p.metadata!.namespace = RESTRICTED_NAMESPACE;
    p.spec!.securityContext = r.spec!.securityContext;
    p.spec!.containers = r.spec!.containers;
    const v = await verdict(create(p));
    assert.equal(v.allowed, false);
    assert.match(v.message, /violates PodSecurity "restricted:latest": .*volume "socat-sched" uses restricted volume type "hostPath"/);
    assert.doesNotMatch(v.message, /csi/i);
  });
});
