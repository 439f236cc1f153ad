// `socat-relay sidecars` against a real kube-apiserver: a consumer pod injected by our webhook under an
// older image, then the controller upgraded and a second pod injected under the new one; the command
// must list the first (image differs) and not the second, with the settings read from the controller
// DaemonSet's env or given as flags.
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
import { runCli } from '../harness/cli.js';

const RELAY = 'node-http';
const OLD = 'registry.example/socat-relay:0.0.9';
const NEW = 'registry.example/socat-relay:0.1.0';
const OLD_SIDECAR = 'registry.example/socat-relay-sidecar:0.0.9';
const NEW_SIDECAR = 'registry.example/socat-relay-sidecar:0.1.0';
const skip = skipUnlessControlPlane();
const errorOf = (p: Promise<unknown>) =>
  p.then(
    () => undefined,
    (e: unknown) => e,
  );

interface Listing {
  settings: { sidecarImage: string; mode: string; volumeSource: string; socketDir: string; from: string };
  podsChecked: number;
  sidecars: {
    namespace: string;
    pod: string;
    container: string;
    relay: string;
    differs: string[];
    image: string;
    expectedImage: string;
  }[];
}

describe('socat-relay sidecars on a real API server', () => {
  let cp: ControlPlane | undefined;
  let ctl: RunningController | undefined;
  const api = () => cp!.client;
  const socketDir = () => `${cp!.dir}/node-run`;
  const sidecars = async (...args: string[]) => runCli(['sidecars', '--kubeconfig', cp!.kubeconfigPath, ...args]);
  const injectedImage = async () => {
    const dry = await api()
      .create(consumerPod('probe', 'consumers', RELAY), { dryRun: true })
      .catch(() => undefined);
    return dry?.metadata.annotations?.[INJECTED_ANNOTATION] === undefined
      ? undefined
      : String(dry.spec.initContainers?.[0]?.image);
  };
  const controller = async (image: string) => {
    ctl = await startController({
      kubeconfigPath: cp!.kubeconfigPath,
      dir: cp!.dir,
      socketDir: socketDir(),
      env: { SOCAT_RELAY_IMAGE: image, SOCAT_RELAY_SIDECAR_MODE: 'native' },
    });
    await registerWebhooks(api(), { baseUrl: ctl.baseUrl, caBundle: ctl.certs.caBundle });
  };

  before(async () => {
    if (skip) return;
    cp = await startControlPlane({ namespaces: ['consumers', 'socat-relay-system'] });
    await installCrds(api());
    await applyAll(api(), policyManifests(socketDir()));
    // Before the upgrade: the controller injects the old image.
    await controller(OLD);
    await waitUntilWebhookCalled('the relay webhook', async () => {
      const err = await errorOf(api().create(relay('probe', webhookOnlyBad), { dryRun: true }));
      return err instanceof ApiError && err.message.includes('relays.socat.io');
    });
    await api().create(relay(RELAY));
    await waitUntilWebhookCalled('the pod webhook (old image)', async () => (await injectedImage()) === OLD_SIDECAR);
    await api().create(consumerPod('before-upgrade', 'consumers', RELAY));
    // The upgrade: a new controller; pods created from now on get the new image.
    await ctl!.stop();
    await controller(NEW);
    await waitUntilWebhookCalled('the pod webhook (new image)', async () => (await injectedImage()) === NEW_SIDECAR);
    await api().create(consumerPod('after-upgrade', 'consumers', RELAY));
    // The controller's DaemonSet as the manifests install it: the settings the command reads.
    const ds: AnyObject = {
      apiVersion: 'apps/v1',
      kind: 'DaemonSet',
      metadata: { name: 'socat-relay-controller', namespace: 'socat-relay-system' },
      spec: {
        selector: { matchLabels: { app: 'c' } },
        template: {
          metadata: { labels: { app: 'c' } },
          spec: {
            containers: [
              {
                name: 'controller',
                image: NEW,
                env: [
                  { name: 'NODE_NAME', valueFrom: { fieldRef: { fieldPath: 'spec.nodeName' } } },
                  { name: 'SOCAT_RELAY_SOCKET_DIR', value: socketDir() },
                  { name: 'SOCAT_RELAY_IMAGE', value: NEW },
                  { name: 'SOCAT_RELAY_SIDECAR_MODE', value: 'auto' },
                  { name: 'SOCAT_RELAY_VOLUME_SOURCE', value: 'hostPath' },
                ],
              },
            ],
          },
        },
      },
    };
    await api().create(ds);
  });
  after(async () => {
    await ctl?.stop();
    await cp?.stop();
  });

  test('both pods were really injected by our webhook, one under each image', { skip }, async () => {
    const old = await api().get<AnyObject>('v1', 'Pod', 'before-upgrade', 'consumers');
    const fresh = await api().get<AnyObject>('v1', 'Pod', 'after-upgrade', 'consumers');
    assert.equal(old.spec.initContainers[0].image, OLD_SIDECAR);
    assert.equal(fresh.spec.initContainers[0].image, NEW_SIDECAR);
  });

  test(
    'settings from the controller DaemonSet: lists the pod injected under the old image, image differs, not the new one',
    { skip },
    async () => {
      const r = await sidecars('-o', 'json');
      assert.equal(r.code, 0, r.stderr);
      const out = JSON.parse(r.stdout) as Listing;
      assert.deepEqual(out.settings, {
        sidecarImage: NEW_SIDECAR,
        mode: 'native',
        volumeSource: 'hostPath',
        socketDir: socketDir(),
        from: 'DaemonSet socat-relay-system/socat-relay-controller and flags',
      });
      assert.equal(out.podsChecked, 2);
      assert.deepEqual(out.sidecars, [
        {
          namespace: 'consumers',
          pod: 'before-upgrade',
          relay: RELAY,
          container: `socat-${RELAY}`,
          differs: ['image'],
          image: OLD_SIDECAR,
          expectedImage: NEW_SIDECAR,
        },
      ]);
    },
  );

  test('the table names the old pod, its image and the one injected now', { skip }, async () => {
    const r = await sidecars();
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trimEnd().split('\n');
    assert.match(lines[0]!, /^NAMESPACE\s+POD\s+CONTAINER\s+DIFFERS\s+IMAGE\s+INJECTED NOW$/);
    assert.equal(lines.length, 2, r.stdout);
    assert.deepEqual(lines[1]!.split(/\s+/), [
      'consumers',
      'before-upgrade',
      `socat-${RELAY}`,
      'image',
      OLD_SIDECAR,
      NEW_SIDECAR,
    ]);
  });

  test(
    'flags instead of the DaemonSet: under the old image the new pod is the one listed; -n limits the namespace',
    { skip },
    async () => {
      const r = await sidecars(
        '-o',
        'json',
        '--image',
        OLD,
        '--mode',
        'native',
        '--volume-source',
        'hostPath',
        '--socket-dir',
        socketDir(),
        '--controller-daemonset',
        'absent',
      );
      assert.equal(r.code, 0, r.stderr);
      const out = JSON.parse(r.stdout) as Listing;
      assert.equal(out.settings.from, 'flags');
      assert.deepEqual(
        out.sidecars.map((s) => [s.pod, s.differs]),
        [['after-upgrade', ['image']]],
      );
      const none = JSON.parse((await sidecars('-o', 'json', '-n', 'socat-relay-system')).stdout) as Listing;
      assert.equal(none.podsChecked, 0);
      const clean = await sidecars('-n', 'socat-relay-system');
      assert.equal(
        clean.stdout,
        `all 0 consumer pod(s) run the sidecar injected now (${NEW_SIDECAR}, native, hostPath)\n`,
      );
    },
  );

  test(
    'a changed mode, socket folder or volume source is a difference too: command is pinned, placement and volume named',
    { skip },
    async () => {
      const regular = JSON.parse((await sidecars('-o', 'json', '--mode', 'regular')).stdout) as Listing;
      assert.deepEqual(regular.sidecars.map((s) => s.pod).sort(), ['after-upgrade', 'before-upgrade']);
      const fresh = regular.sidecars.find((s) => s.pod === 'after-upgrade')!;
      assert.deepEqual(fresh.differs, ['placement', 'restartPolicy']);
      const csi = JSON.parse((await sidecars('-o', 'json', '--volume-source', 'csi')).stdout) as Listing;
      assert.deepEqual(csi.sidecars.find((s) => s.pod === 'after-upgrade')!.differs, ['volume']);
      const dir = JSON.parse((await sidecars('-o', 'json', '--socket-dir', '/elsewhere')).stdout) as Listing;
      assert.deepEqual(dir.sidecars.find((s) => s.pod === 'after-upgrade')!.differs, ['volume']);
    },
  );

  test(
    'a relay edited since injection changes the command; a relay deleted is named; a missing DaemonSet or a bad flag is an error naming what to give',
    { skip },
    async () => {
      const gone = await sidecars('--controller-daemonset', 'absent');
      assert.equal(gone.code, 1);
      assert.match(
        gone.stderr,
        /DaemonSet socat-relay-system\/absent not found: name it with --controller-namespace\/--controller-daemonset, or give --sidecar-image, --mode and --volume-source/,
      );
      const bad = await sidecars('--mode', 'sideways');
      assert.equal(bad.code, 2);
      assert.match(bad.stderr, /--mode must be auto, native or regular, got "sideways"/);
      const badImage = await sidecars('--sidecar-image', 'UPPER/case:x');
      assert.equal(badImage.code, 2);
      assert.match(badImage.stderr, /^sidecars: --sidecar-image: /);
      // The relay's pod-side port moves: every sidecar's socat command line and port are stale (the image of
      // the new pod is not).
      await api().apply(
        relay(RELAY, (r) => {
          r.spec.listen.port = 8081;
        }),
        { force: true },
      );
      const moved = JSON.parse((await sidecars('-o', 'json')).stdout) as Listing;
      assert.deepEqual(
        moved.sidecars.map((s) => [s.pod, s.differs]),
        [
          ['after-upgrade', ['command', 'ports']],
          ['before-upgrade', ['command', 'image', 'ports']],
        ],
      );
      await api().delete('socat.io/v1alpha1', 'Relay', RELAY);
      const out = JSON.parse((await sidecars('-o', 'json')).stdout) as Listing;
      assert.deepEqual(
        out.sidecars.map((s) => [s.pod, s.differs, s.expectedImage]),
        [
          ['after-upgrade', ['relay not found'], ''],
          ['before-upgrade', ['relay not found'], ''],
        ],
      );
    },
  );
});
