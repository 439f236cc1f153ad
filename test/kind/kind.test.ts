// End to end on a real multi-node kubeadm cluster — one control-plane node and two workers — that
// testcontainers starts from the kind node image built here (scripts/build-kind-node.sh; cluster.ts), with
// socat-relay installed the way docs/install.md tells a user, its commands run as written (docs.ts) from
// a user's checkout whose kustomizations move the images to the ones built here (checkout.ts):
//   1. the cluster itself: every node Ready, kubeadm's control-plane taint, a pod on a worker resolving a
//      Service name through CoreDNS on another node (the pod network and kube-proxy work across nodes);
//   2. kustomize without cert-manager, the agent DaemonSet, CSI volumes: the DaemonSets rolled out by the
//      controller-manager on every node, the serving controller (and the webhook Service's endpoints,
//      and the serving key) only on the control plane;
//   3. manifests/examples/kubeadm-control-plane: a real Prometheus, deployed as the example deploys it,
//      scrapes the cluster's own kube-scheduler, kube-controller-manager and etcd — which listen only on
//      the control-plane node's loopback — and every node's kube-proxy through the relays: up == 1, and
//      each the same process as a direct scrape on its node; no pod Pending, no FailedCreate;
//   4. a labeled pod of a namespace the Relay does not allow is refused; with the pod webhook gone, the
//      ValidatingAdmissionPolicy refuses a labeled pod without its sidecar;
//   5. the prometheus-operator variant, instead of the agent variant: a real prometheus-operator's
//      Prometheus scrapes the same three through the example's PodMonitor (operator.ts);
//   6. the uninstall as written: nothing left in the API or on any node (folders, mounts, socat);
//   7. Helm (the namespace first, the chart's own certificates, CSI off, the agent as a static pod on the
//      control plane and the DaemonSet on the workers): the same scrape; its uninstall leaves nothing.
// cert-manager cannot be had here (its images and manifest are downloads): its variant is not run.
// In CI every part this needs (podman, the Go-built binaries) is required: the suite fails, never skips.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { stringify } from 'yaml';
import { parseImageRef } from '../../lib/image.js';
import { missingFromTestbin } from '../harness/binaries.js';
import { registerCleanup } from '../harness/cleanup.js';
import { buildKindNodeImage, buildProjectImage, type KindNodeImage, type ProjectImage } from '../harness/image.js';
import { podmanMissing, startPodmanService, type PodmanService } from '../harness/podman.js';
import { waitFor } from '../harness/wait.js';
import { required } from '../harness/required.js';
import { nodeImageMissing, startKindCluster, type KindCluster } from './cluster.js';
import { helmUninstallCommands, shBlocks, substitute } from './docs.js';
import { operatorVariant } from './operator.js';
import { EXAMPLE_NS, INSTALL_MD, NS, q, restrictedPod, scene, userScene } from './scenario.js';

const MIN = 60_000;
/** The cluster's name: its nodes are e2e-control-plane, e2e-worker, e2e-worker2 (not socat-relay-…: see leftovers). */
const NAME = 'e2e';
const skip = required(podmanMissing(), nodeImageMissing(), missingFromTestbin(['helm'], 'helm'));

describe(
  'kind: 1 control plane + 2 workers from the node image built here, installed as docs/install.md says',
  { skip, timeout: 90 * MIN },
  () => {
    let podman: PodmanService;
    let image: ProjectImage;
    let nodeImage: KindNodeImage;
    let cluster: KindCluster;
    let dir = '';
    let checkout = '';
    let unregister: () => void = () => {};

    let steps: ReturnType<typeof scene>;
    const user = (script: string, timeoutMs?: number) => steps.user(script, timeoutMs);
    const kubectl = (...args: string[]) => steps.kubectl(...args);
    const cp = () => cluster.controlPlane;

    before(async () => {
      image = await buildProjectImage();
      nodeImage = await buildKindNodeImage();
      podman = await startPodmanService();
      dir = mkdtempSync(path.join(os.tmpdir(), 'socat-relay-kind-'));
      const names = ['control-plane', 'worker', 'worker2'].map((n) => `${NAME}-${n}-${process.pid}`);
      unregister = registerCleanup(() => {
        // Removed even when the run is interrupted (no Ryuk here).
        spawnSync('podman', ['rm', '-f', '-v', ...names], { stdio: 'ignore', timeout: 120_000 });
        rmSync(dir, { recursive: true, force: true });
      });
      cluster = await startKindCluster({ name: NAME, workers: 2, nodeImage });
      ({ steps, checkout } = await userScene(cluster, {
        dir,
        image: image.image,
        prometheusImage: nodeImage.prometheusImage,
        images: [
          { archive: image.archive, image: image.image },
          { archive: image.sidecarArchive, image: image.sidecarImage },
          { archive: nodeImage.prometheusArchive, image: nodeImage.prometheusImage },
          { archive: nodeImage.operatorArchive, image: nodeImage.operatorImage },
          { archive: nodeImage.configReloaderArchive, image: nodeImage.configReloaderImage },
          { archive: nodeImage.kubeRbacProxyArchive, image: nodeImage.kubeRbacProxyImage },
        ],
      }));
    });

    after(async () => {
      await cluster?.stop();
      await podman?.stop();
      rmSync(dir, { recursive: true, force: true });
      unregister();
    });

    test('the cluster: three nodes Ready, the control plane tainted, a pod on a worker resolves a Service through CoreDNS on another node', async () => {
      const nodes = JSON.parse(await kubectl('get', 'nodes', '-o', 'json')) as {
        items: { metadata: { name: string }; spec: { taints?: { key: string; effect: string }[] } }[];
      };
      assert.deepEqual(nodes.items.map((n) => n.metadata.name).sort(), cluster.nodes.map((n) => n.name).sort());
      const taints = Object.fromEntries(
        nodes.items.map((n) => [n.metadata.name, (n.spec.taints ?? []).map((t) => `${t.key}:${t.effect}`)]),
      );
      assert.deepEqual(taints[cp().name], ['node-role.kubernetes.io/control-plane:NoSchedule']);
      for (const w of cluster.workers) assert.deepEqual(taints[w.name], [], w.name);
      const worker2 = cluster.workers[1]!.name;
      const dns = (await steps.pods('kube-system')).filter((p) => p.metadata.labels?.['k8s-app'] === 'kube-dns');
      assert.ok(
        dns.length > 0 && dns.every((p) => p.status.phase === 'Running' && p.spec.nodeName !== worker2),
        JSON.stringify(dns.map((p) => [p.spec.nodeName, p.status.phase])),
      );
      // The project's image has no shell or getent: Node's dns.lookup asks the C library, as getent would.
      const lookup =
        "const n = 'kubernetes.default.svc.cluster.local'; require('node:dns').lookup(n, (e, a) => { if (e) throw e; console.log(a + ' ' + n); });";
      try {
        await kubectl(
          'run',
          'dns-check',
          `--image=${image.image}`,
          '--image-pull-policy=Never',
          '--restart=Never',
          `--overrides=${JSON.stringify({ spec: { nodeName: worker2 } })}`,
          '--command',
          '--',
          'node',
          '-e',
          lookup,
        );
        await kubectl('wait', '--for=jsonpath={.status.phase}=Succeeded', 'pod/dns-check', '--timeout=180s');
        assert.match(await kubectl('logs', 'dns-check'), /^10\.96\.0\.1\s+kubernetes\.default\.svc\.cluster\.local$/m);
      } finally {
        // Never left behind: the later tests require every pod Running or done.
        await kubectl('delete', 'pod', 'dns-check', '--wait=false', '--ignore-not-found');
      }
    });

    test('kustomize without cert-manager, as written: the DaemonSets rolled out on every node, the serving key and the webhook endpoints only on the control plane', async () => {
      await user(steps.kustomizeInstall());
      await steps.assertPlacement();
    });

    test('the kubeadm-control-plane example: Prometheus scrapes the loopback-only kube-scheduler, kube-controller-manager, etcd and every kube-proxy through the relays, the same processes as on the nodes', async () => {
      await steps.exampleScrapes();
      await steps.nothingPendingNorRefused();
    });

    test('a labeled pod of a namespace the Relay does not allow is refused', async () => {
      await steps.refusedNamespace(image.image);
    });

    test('with the pod webhook gone, the ValidatingAdmissionPolicy refuses a labeled pod without its sidecar', async () => {
      await kubectl('delete', 'mutatingwebhookconfiguration', 'socat-relay');
      try {
        const pod = path.join(dir, 'bypassed.yaml');
        writeFileSync(
          pod,
          stringify({
            apiVersion: 'v1',
            kind: 'Pod',
            metadata: { name: 'bypassed', namespace: EXAMPLE_NS, labels: { 'socat.io/consume': 'kube-scheduler' } },
            spec: restrictedPod(image.image),
          }),
        );
        const err = await kubectl('create', '--dry-run=server', '-f', pod).then(
          (out) => assert.fail(`admitted: ${out}`),
          (e: Error) => e.message,
        );
        assert.match(err, /socat-relay-require-sidecar/);
        assert.match(err, /has no socat-kube-scheduler sidecar: the socat-relay controller did not inject it/);
      } finally {
        // Re-applied as a user would, and the caBundle loop of the docs run again with the Secret's CA.
        await kubectl('apply', '-k', 'manifests/no-cert-manager/');
        const certificates = shBlocks(INSTALL_MD, '2. socat-relay').find((b) => b.includes('socat-relay certs'))!;
        const loop = certificates.slice(certificates.indexOf('for kind in'));
        await user(
          `CA_BUNDLE=$(kubectl -n ${NS} get secret socat-relay-webhook-tls -o 'jsonpath={.data.ca\\.crt}')\n${loop}`,
        );
      }
    });

    test("the prometheus-operator variant instead, PodMonitor included: a real prometheus-operator's Prometheus scrapes kube-scheduler, kube-controller-manager and etcd through it, the same processes as on the node; nothing of it left", async () => {
      await operatorVariant(steps, { dir, crds: nodeImage.operatorCrds, ...nodeImage });
    });

    test('the uninstall, as written: nothing left in the API or on any node', async () => {
      const script = substitute(shBlocks(INSTALL_MD, 'Uninstall')[0]!, [
        [
          /kubectl delete -k manifests\/ --ignore-not-found\s+# or .*manifests\/no-cert-manager\/.*/,
          'kubectl delete -k manifests/no-cert-manager/ --ignore-not-found',
        ],
      ]);
      await user(script, 20 * MIN);
      await waitFor(
        'the socat-relay-system namespace gone',
        async () => !(await kubectl('get', 'namespaces', '-o', 'name')).includes(`namespace/${NS}`),
        { timeoutMs: 3 * MIN, intervalMs: 3000 },
      );
      assert.deepEqual(await steps.leftovers(), []);
    });

    test("Helm (namespace first, the chart's certificates, CSI off, the agent as a static pod on the control plane): the same scrape; its uninstall leaves nothing", async () => {
      const { repository, tag } = parseImageRef(image.image);
      const [, helmBlock] = shBlocks(INSTALL_MD, '2. socat-relay');
      const install = substitute(helmBlock!, [
        [
          /--set image\.repository=\S+ --set image\.tag=\S+/,
          `--set image.repository=${repository} --set image.tag=${tag} --set certificates.certManager=false --set csi.enabled=false`,
        ],
      ]);
      // The agent as a static pod on the control plane (README: label the node, the DaemonSet skips it).
      await kubectl('label', 'node', cp().name, 'socat.io/agent=static-pod');
      const manifest = await user(`npx socat-relay static-pod --image ${q(image.image)}`);
      await cp().write('/etc/kubernetes/manifests/socat-relay-agent.yaml', manifest);
      await user(`${install}\n${steps.waitBlock()}`);
      // The static pod runs in kube-system (manifests/node-agent/static-pod.yaml); its mirror pod shows it.
      const mirror = `pod/socat-relay-agent-${cp().name}`;
      await waitFor(
        `the static-pod agent's mirror ${mirror}`,
        () =>
          kubectl('-n', 'kube-system', 'get', mirror).then(
            () => true,
            () => false,
          ),
        { timeoutMs: 3 * MIN, intervalMs: 3000 },
      );
      await kubectl('-n', 'kube-system', 'wait', '--for=condition=Ready', mirror, '--timeout=300s');
      await steps.assertPlacement();
      const ds = JSON.parse(await kubectl('-n', NS, 'get', 'daemonset', 'socat-relay-agent', '-o', 'json')) as {
        status: { desiredNumberScheduled: number };
      };
      assert.equal(
        ds.status.desiredNumberScheduled,
        cluster.workers.length,
        "the agent DaemonSet skips the static pod's node",
      );
      // hostPath consumers need a privileged namespace (docs/pod-security.md): the example's, edited.
      const ns = path.join(checkout, 'manifests', 'examples', 'kubeadm-control-plane', 'namespace.yaml');
      writeFileSync(
        ns,
        substitute(readFileSync(ns, 'utf8'), [
          ['pod-security.kubernetes.io/enforce: restricted', 'pod-security.kubernetes.io/enforce: privileged'],
        ]),
      );
      await steps.exampleScrapes();
      await steps.nothingPendingNorRefused();
      // docs/install.md: "With Helm, steps 1–2 the same, then `helm uninstall …`: its post-delete hook …
      // does step 4", then the CRDs and the namespace the chart keeps on purpose.
      const lines = shBlocks(INSTALL_MD, 'Uninstall')[0]!.split('\n');
      await user(
        lines
          .slice(
            0,
            lines.findIndex((l) => l.startsWith('# 3.')),
          )
          .join('\n'),
        10 * MIN,
      );
      await cp().sh(['rm', '-f', '/etc/kubernetes/manifests/socat-relay-agent.yaml']);
      const uninstall = helmUninstallCommands(INSTALL_MD); // the docs' Helm uninstall paragraph, as written
      await user(uninstall.join('\n'), 15 * MIN);
      assert.deepEqual(await steps.leftovers(), []);
    });
  },
);
