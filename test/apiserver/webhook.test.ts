// Admission through a real kube-apiserver: the real CRD, ValidatingAdmissionPolicy and webhook
// configurations (service → https://127.0.0.1:<port>, caBundle from certs/), and our controller as a
// real process (`socat-relay controller`, webhook only here; the reconcile has its own file).
// The last test stops the controller: fail-open pods, fail-closed Relays, and the policy's safety net.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { INJECTED_ANNOTATION } from '../../relay/index.js';
import {
  ApiError,
  applyAll,
  installCrds,
  policyManifests,
  registerWebhooks,
  skipUnlessControlPlane,
  startControlPlane,
  startController,
  waitUntilWebhookCalled,
  type ControlPlane,
  type RunningController,
} from '../harness/index.js';
import { consumerPod, relay, webhookOnlyBad, type AnyObject } from '../harness/apiserver-fixtures.js';
import { createNamespace } from '../harness/controlplane.js';

const RELAY = 'node-http';
const SIDECAR = `socat-${RELAY}`;
const NODE_LABEL = 'socat.io/relay-node';
const errorOf = (p: Promise<unknown>) =>
  p.then(
    () => undefined,
    (e: unknown) => e,
  );

// Each test carries the skip (not the suite) so the run's summary counts them as skipped.
const skip = skipUnlessControlPlane();

describe('admission through a real API server with our webhook and policy', () => {
  let cp: ControlPlane | undefined;
  let ctl: RunningController | undefined;
  const api = () => cp!.client;
  const socketDir = () => `${cp!.dir}/node-run`;

  before(async () => {
    if (skip) return;
    cp = await startControlPlane({ namespaces: ['consumers', 'other'] });
    await createNamespace(api(), 'granted', { 'relay-access': 'granted' });
    await installCrds(api());
    await applyAll(api(), policyManifests(socketDir()));
    ctl = await startController({
      kubeconfigPath: cp.kubeconfigPath,
      dir: cp.dir,
      socketDir: socketDir(),
      env: { SOCAT_RELAY_SIDECAR_MODE: 'auto' },
    });
    await registerWebhooks(api(), { baseUrl: ctl.baseUrl, caBundle: ctl.certs.caBundle });
    await waitUntilWebhookCalled('the relay webhook', async () => {
      const err = await errorOf(api().create(relay('probe', webhookOnlyBad), { dryRun: true }));
      return err instanceof ApiError && err.message.includes('relays.socat.io');
    });
    await api().create(
      relay(RELAY, (r) => {
        r.spec.nodeSelector = { [NODE_LABEL]: 'true' };
      }),
    );
    await waitUntilWebhookCalled('the pod webhook', async () => {
      const dry = await api()
        .create(consumerPod('probe', 'consumers', RELAY), { dryRun: true })
        .catch(() => undefined);
      return dry?.metadata.annotations?.[INJECTED_ANNOTATION] !== undefined;
    });
  });
  after(async () => {
    await ctl?.stop();
    await cp?.stop();
  });

  test('a Relay that only the webhook can refuse is denied with our message, naming the field', { skip }, async () => {
    const err = await errorOf(api().create(relay('bad-key', webhookOnlyBad)));
    assert.ok(err instanceof ApiError, `expected a denial, got ${String(err)}`);
    assert.match(
      err.message,
      /admission webhook "relays\.socat\.io" denied the request: .*spec\.nodeSelector\.a{254}\/x: not a valid label key/,
    );
    assert.equal(await api().getOrUndefined('socat.io/v1alpha1', 'Relay', 'bad-key'), undefined);
  });

  test('a bad Relay is still refused by the CRD (target.port 70000) before the webhook', { skip }, async () => {
    const err = await errorOf(
      api().create(
        relay('bad-port', (r) => {
          r.spec.target.port = 70000;
        }),
      ),
    );
    assert.ok(err instanceof ApiError);
    assert.match(err.message, /spec\.target\.port: Invalid value: 70000/);
  });

  test('the good Relay is stored', { skip }, async () => {
    const stored = await api().get<AnyObject>('socat.io/v1alpha1', 'Relay', RELAY);
    assert.deepEqual(stored.spec.nodeSelector, { [NODE_LABEL]: 'true' });
  });

  test(
    'a labeled pod that keeps its ServiceAccount token comes back with a native sidecar (auto mode on v1.37), its volume, the node affinity and the marker',
    { skip },
    async () => {
      const pod = await api().create(consumerPod('scraper', 'consumers', RELAY));
      const stored = await api().get<AnyObject>('v1', 'Pod', 'scraper', 'consumers');
      assert.deepEqual(stored.spec, pod.spec, 'what came back is what was stored');
      assert.equal(pod.metadata.annotations?.[INJECTED_ANNOTATION], RELAY);
      const sidecars = (pod.spec.initContainers ?? []).filter((c: { name: string }) => c.name === SIDECAR);
      assert.equal(sidecars.length, 1, 'one native sidecar in initContainers');
      const sc = sidecars[0];
      assert.equal(sc.restartPolicy, 'Always');
      // Written out, not rebuilt with the product's sidecarArgv: the fixture's listen.port 8080 on the pod's
      // loopback, socat's -t/-b as relay/constants.ts sets them, TCP_NODELAY, the socket in the mounted folder.
      assert.deepEqual(sc.command, [
        'socat',
        '-t10',
        '-b131072',
        'TCP4-LISTEN:8080,bind=127.0.0.1,fork,reuseaddr,backlog=1024,nodelay',
        `UNIX-CONNECT:/run/socat-relay/${RELAY}/socket`,
      ]);
      // The API server's ServiceAccount plugin ran again after our webhook and mounted the pod's token into
      // the sidecar too; the reinvoked webhook and the policy took it (they refused every such pod before).
      const token = pod.spec.volumes.find((v: { name: string }) => v.name.startsWith('kube-api-access-'));
      assert.ok(token?.projected, "the ServiceAccount plugin's token volume");
      assert.deepEqual(sc.volumeMounts, [
        { name: SIDECAR, mountPath: `/run/socat-relay/${RELAY}`, readOnly: true },
        { name: token.name, mountPath: '/var/run/secrets/kubernetes.io/serviceaccount', readOnly: true },
      ]);
      assert.equal(sc.securityContext.runAsUser, 65532);
      assert.equal(sc.securityContext.runAsGroup, 65532);
      assert.equal(sc.securityContext.runAsNonRoot, true);
      assert.equal(sc.securityContext.readOnlyRootFilesystem, true);
      assert.equal(sc.securityContext.allowPrivilegeEscalation, false);
      assert.deepEqual(sc.securityContext.capabilities, { drop: ['ALL'] });
      const vol = pod.spec.volumes.find((v: { name: string }) => v.name === SIDECAR);
      // The folder of this Relay object (its uid): a Relay re-created under the same name is another folder,
      // and the real API server's policy admits it.
      const uid = String((await api().get<AnyObject>('socat.io/v1alpha1', 'Relay', RELAY)).metadata.uid);
      assert.match(uid, /^[0-9a-f-]{36}$/);
      assert.deepEqual(vol?.hostPath, { path: `${socketDir()}/${RELAY}/${uid}`, type: 'DirectoryOrCreate' });
      assert.deepEqual(
        pod.spec.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution?.nodeSelectorTerms,
        [{ matchExpressions: [{ key: NODE_LABEL, operator: 'In', values: ['true'] }] }],
      );
      assert.deepEqual(
        pod.spec.containers.map((c: { name: string; args?: string[] }) => [c.name, c.args]),
        [['main', ['pause']]],
        'the app container is untouched',
      );
    },
  );

  test('server-side dry-run returns the mutated pod and stores nothing', { skip }, async () => {
    const dry = await api().create(consumerPod('dry', 'consumers', RELAY), { dryRun: true });
    assert.equal(dry.metadata.annotations?.[INJECTED_ANNOTATION], RELAY);
    assert.ok(dry.spec.initContainers?.some((c: { name: string }) => c.name === SIDECAR));
    assert.equal(await api().getOrUndefined('v1', 'Pod', 'dry', 'consumers'), undefined);
  });

  test('an already-injected pod submitted again (a copy of the injected spec) is unchanged', { skip }, async () => {
    const first = await api().get<AnyObject>('v1', 'Pod', 'scraper', 'consumers');
    const copy: AnyObject = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: {
        name: 'scraper-copy',
        namespace: 'consumers',
        labels: first.metadata.labels,
        annotations: first.metadata.annotations,
      },
      spec: first.spec,
    };
    const second = await api().create(copy);
    assert.deepEqual(second.spec, first.spec);
    assert.deepEqual(second.metadata.annotations, first.metadata.annotations);
  });

  test("a pod in a namespace matched by the relay's namespaceSelector is admitted and injected", { skip }, async () => {
    const pod = await api().create(consumerPod('scraper', 'granted', RELAY));
    assert.equal(pod.metadata.annotations?.[INJECTED_ANNOTATION], RELAY);
  });

  test('a labeled pod in a namespace the relay does not allow is denied with our message', { skip }, async () => {
    const err = await errorOf(api().create(consumerPod('intruder', 'other', RELAY)));
    assert.ok(err instanceof ApiError, `expected a denial, got ${String(err)}`);
    assert.match(err.message, /admission webhook "pods\.socat\.io" denied the request: .*node-http.*other/);
    assert.equal(await api().getOrUndefined('v1', 'Pod', 'intruder', 'other'), undefined);
  });

  test('a pod labeled for a relay that does not exist is denied with our message', { skip }, async () => {
    const err = await errorOf(api().create(consumerPod('lost', 'consumers', 'no-such-relay')));
    assert.ok(err instanceof ApiError, `expected a denial, got ${String(err)}`);
    assert.match(err.message, /admission webhook "pods\.socat\.io" denied the request: .*no-such-relay/);
  });

  test('a labeled hostNetwork pod is admitted uninjected, with our warning passed on by the API server', async () => {
    const pod = consumerPod('host-net', 'consumers', RELAY, (p) => {
      p.spec.hostNetwork = true;
    });
    const res = await api().raw('POST', '/api/v1/namespaces/consumers/pods', { body: pod });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    const created = res.body as AnyObject;
    assert.equal(created.spec.initContainers, undefined);
    assert.equal(created.metadata.annotations?.[INJECTED_ANNOTATION], undefined);
    assert.match(String(res.headers.warning), /hostNetwork pod not injected; it already shares the node loopback/);
  });

  test('an unlabeled pod never reaches the webhook and is stored as sent', { skip }, async () => {
    const pod = await api().create(consumerPod('plain', 'consumers', undefined));
    assert.equal(pod.metadata.annotations?.[INJECTED_ANNOTATION], undefined);
    assert.equal(pod.spec.initContainers, undefined);
  });

  test(
    'restarted with SOCAT_RELAY_SIDECAR_MODE=regular, the sidecar is a regular container and the policy admits the pod',
    { skip },
    async () => {
      const certs = ctl!.certs;
      const port = ctl!.port;
      await ctl!.stop();
      ctl = await startController({
        kubeconfigPath: cp!.kubeconfigPath,
        dir: cp!.dir,
        socketDir: socketDir(),
        certs,
        port,
        env: { SOCAT_RELAY_SIDECAR_MODE: 'regular' },
      });
      // Same URL and CA: the registered configurations stay valid; wait for the new process to answer.
      await waitUntilWebhookCalled('the restarted pod webhook', async () => {
        const dry = await api()
          .create(consumerPod('probe', 'consumers', RELAY), { dryRun: true })
          .catch(() => undefined);
        return dry?.spec.containers.some((c: { name: string }) => c.name === SIDECAR) ?? false;
      });
      const pod = await api().create(consumerPod('regular', 'consumers', RELAY));
      assert.deepEqual(
        pod.spec.containers.map((c: { name: string }) => c.name),
        ['main', SIDECAR],
      );
      assert.equal(pod.spec.initContainers, undefined);
      assert.equal(pod.spec.containers[1].restartPolicy, undefined);
    },
  );

  test(
    'with the controller stopped: unlabeled pods are admitted, a labeled pod is denied by the policy, a Relay by the fail-closed webhook',
    { skip },
    async () => {
      await ctl!.stop();
      // Fail open: the pod webhook cannot be called, the API server goes on without it.
      const plain = await api().create(consumerPod('plain-while-down', 'consumers', undefined));
      assert.equal(plain.metadata.name, 'plain-while-down');
      const err = await errorOf(api().create(consumerPod('labeled-while-down', 'consumers', RELAY)));
      assert.ok(err instanceof ApiError, `expected a denial, got ${String(err)}`);
      assert.match(
        err.message,
        /ValidatingAdmissionPolicy 'socat-relay-require-sidecar'.*denied request: pod labeled socat\.io\/consume=node-http has no socat-node-http sidecar/,
      );
      const relayErr = await errorOf(api().create(relay('while-down')));
      assert.ok(relayErr instanceof ApiError);
      assert.match(relayErr.message, /failed calling webhook "relays\.socat\.io"/);
      assert.equal(
        await api().getOrUndefined('v1', 'Pod', 'labeled-while-down', 'consumers'),
        undefined,
        'the denied pod was not stored',
      );
    },
  );
});
