// End to end on a real one-node Kubernetes cluster that testcontainers starts from the kind node image
// (cluster.ts: privileged container, kubeadm init inside — no docker, no kind binary), running the image
// scripts/build-image.sh builds with podman for the current sources (its tag is a hash of them, so an
// image of older sources is never what runs), imported into the node's containerd with `ctr images
// import`. Checked, install by install:
//   1. manifests/no-cert-manager (through an overlay's `images:`, as a user moves the image) with
//      certificates from `socat-relay certs`' code, the agent as the static pod `socat-relay
//      static-pod` prints: a labeled pod is injected and scrapes a node-loopback-only service through
//      the relay; a labeled pod of a namespace the Relay does not allow is denied; with the pod
//      webhook bypassed, the ValidatingAdmissionPolicy refuses a labeled pod without its sidecar.
//   2. after an uninstall, the Helm chart (self-made certificates, the agent as DaemonSet): the same scrape.
//   3. manifests/ with cert-manager: only where cert-manager's manifest and images are on this machine
//      (it cannot be downloaded at test time); else that test skips saying what is missing.
// The whole suite skips, saying why, only where the kind node image cannot be had (neither in podman's
// store nor pullable); a missing podman, kubectl or helm fails it in CI.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { stringify } from 'yaml';
import { makeWebhookCerts } from '../../certs/selfsigned.js';
import { staticPodManifest, STATIC_POD_RELATIVE } from '../../cli/static-pod.js';
import { DEFAULT_IMAGE } from '../../lib/image.js';
import { INJECTED_ANNOTATION } from '../../relay/index.js';
import { REPO_ROOT } from '../harness/binaries.js';
import { registerCleanup } from '../harness/cleanup.js';
import { waitFor } from '../harness/wait.js';
import { buildProjectImage, type ProjectImage } from '../harness/image.js';
import { obtainImage, skipWithoutPodman, startPodmanService, type PodmanService } from '../harness/podman.js';
import { helmTemplate } from '../manifests/chart.js';
import { runTool, skipWithout } from '../manifests/tools.js';
import { startKindNode, type KindNode } from './cluster.js';
import { helmImageValues, KIND_NODE_IMAGE, overlayKustomization, replaceImages } from './node-config.js';

const MIN = 60_000;
const NODE = 'socat-relay-e2e';
const NS = 'socat-relay-system';
const FIXTURE = path.join(REPO_ROOT, 'test', 'fixtures', 'kind', 'node-metrics.yaml');
/** cert-manager's static manifest (its release's cert-manager.yaml), for the cert-manager install. */
const CERT_MANAGER_ENV = 'SOCAT_RELAY_CERT_MANAGER_YAML';

function whyNoKind(): string | false {
  const tools = skipWithoutPodman() || skipWithout('kubectl', 'helm');
  if (tools) return tools;
  const node = obtainImage(KIND_NODE_IMAGE);
  return node
    ? `no kind node image, so no cluster: ${node}. Load it with \`podman load\` (e.g. from \`podman save ${KIND_NODE_IMAGE}\` on a machine that can pull it) to run this suite`
    : false;
}

/** false when cert-manager's manifest and every image it names are on this machine, else what is missing. */
function whyNoCertManager(): string | false {
  const file = process.env[CERT_MANAGER_ENV];
  if (!file || !existsSync(file)) {
    return `cert-manager cannot be downloaded at test time: set ${CERT_MANAGER_ENV} to a local cert-manager.yaml whose images are in podman's store (${file ? `${file} does not exist` : 'not set'})`;
  }
  const missing = certManagerImages(file).filter((img) => spawnSync('podman', ['image', 'exists', img]).status !== 0);
  return missing.length > 0 ? `cert-manager's images are not in podman's store: ${missing.join(', ')}` : false;
}

function certManagerImages(file: string): string[] {
  return [
    ...new Set(
      [...readFileSync(file, 'utf8').matchAll(/^\s*-?\s*image:\s*["']?([^"'\s]+)["']?\s*$/gm)].map((m) => m[1]!),
    ),
  ];
}

const skip = whyNoKind();

describe(
  'kind node via testcontainers: both installs, injection, denial, policy, scrape through the relay',
  { skip, timeout: 60 * MIN },
  () => {
    let podman: PodmanService;
    let image: ProjectImage;
    let node: KindNode;
    let dir = '';
    let unregister: () => void = () => {};
    let kustomized = '';
    let caBundle = '';

    const apply = async (name: string, text: string, extra: string[] = []) => {
      const target = `/kind/socat-relay/${name}.yaml`;
      await node.write(target, text);
      return node.kubectl(['apply', '--server-side', '--force-conflicts', ...extra, '-f', target]);
    };
    /** Applies with retries: a Relay is refused (fail closed) until the webhook answers. */
    const applyRetrying = (name: string, text: string) =>
      waitFor(`kubectl apply of ${name} to be accepted`, () => apply(name, text), {
        timeoutMs: 3 * MIN,
        intervalMs: 5000,
      });
    const fixture = () => replaceImages(readFileSync(FIXTURE, 'utf8'), DEFAULT_IMAGE, image.image);

    /**
     * kubectl create secret + caBundle patch, as manifests/no-cert-manager/README.md says (certs from
     * `socat-relay certs`' code).
     */
    async function installCertificates(): Promise<void> {
      const certs = await makeWebhookCerts();
      caBundle = certs.caBundle;
      await node.write('/kind/socat-relay/certs/tls.crt', certs.serving.cert);
      await node.write('/kind/socat-relay/certs/tls.key', certs.serving.key);
      await node.write('/kind/socat-relay/certs/ca.crt', certs.ca.cert);
      await node.kubectl([
        '-n',
        NS,
        'create',
        'secret',
        'generic',
        'socat-relay-webhook-tls',
        '--from-file=/kind/socat-relay/certs/tls.crt',
        '--from-file=/kind/socat-relay/certs/tls.key',
        '--from-file=/kind/socat-relay/certs/ca.crt',
      ]);
      await patchCaBundle();
    }

    /** Every webhook entry of both configurations (the mutating one has two), as the README's loop does. */
    async function patchCaBundle(): Promise<void> {
      for (const kind of ['mutatingwebhookconfiguration', 'validatingwebhookconfiguration']) {
        const n = Number(await node.kubectl(['get', kind, 'socat-relay', '-o', 'go-template={{len .webhooks}}']));
        assert.ok(n >= 1, `${kind} socat-relay has ${n} webhooks`);
        const ops = Array.from({ length: n }, (_, i) => ({
          op: 'add',
          path: `/webhooks/${i}/clientConfig/caBundle`,
          value: caBundle,
        }));
        await node.kubectl(['patch', kind, 'socat-relay', '--type=json', '-p', JSON.stringify(ops)]);
      }
    }

    async function controllerReady(): Promise<void> {
      await node.kubectl(['-n', NS, 'rollout', 'status', 'daemonset/socat-relay-controller', '--timeout=300s']);
    }

    /** The fixture's Relay ready on the node and its labeled pod injected, scraping through the relay. */
    async function scrapeThroughRelay(): Promise<void> {
      await applyRetrying('node-metrics', fixture());
      await node.kubectl(['wait', '--for=jsonpath={.status.readyNodes}=1', 'relay/node-metrics', '--timeout=240s']);
      await node
        .kubectl(['-n', 'e2e', 'wait', '--for=jsonpath={.status.phase}=Succeeded', 'pod/scraper', '--timeout=300s'])
        .catch(async (err: Error) => {
          const described = await node.kubectl(['-n', 'e2e', 'describe', 'pod/scraper']).catch((e: Error) => e.message);
          throw new Error(`${err.message}\n${described}`);
        });
      const pod = JSON.parse(await node.kubectl(['-n', 'e2e', 'get', 'pod/scraper', '-o', 'json'])) as {
        spec: { initContainers?: { name: string; image: string }[] };
        metadata: { annotations?: Record<string, string> };
      };
      const sidecar = pod.spec.initContainers?.find((c) => c.name === 'socat-node-metrics');
      assert.ok(sidecar, 'native sidecar injected');
      assert.equal(sidecar.image, image.sidecarImage, 'the sidecar image derived from the one image setting');
      assert.equal(pod.metadata.annotations?.[INJECTED_ANNOTATION], 'node-metrics');
      const logs = await node.kubectl(['-n', 'e2e', 'logs', 'pod/scraper', '-c', 'scrape']);
      assert.match(
        logs,
        /direct 127\.0\.0\.1:19100 reachable: false/,
        'the node port is not reachable from the pod without the relay',
      );
      assert.match(logs, /^node_loopback_up 1$/m);
    }

    async function removeFixture(): Promise<void> {
      await node.kubectl([
        'delete',
        '--ignore-not-found',
        '--wait=true',
        '--timeout=180s',
        '-f',
        '/kind/socat-relay/node-metrics.yaml',
      ]);
    }

    before(async () => {
      image = await buildProjectImage();
      podman = await startPodmanService();
      dir = mkdtempSync(path.join(os.tmpdir(), 'socat-relay-kind-'));
      unregister = registerCleanup(() => {
        // Deleted even when the run is interrupted.
        spawnSync('podman', ['rm', '-f', '-v', `${NODE}-${process.pid}`], { stdio: 'ignore', timeout: 120_000 });
        rmSync(dir, { recursive: true, force: true });
      });
      node = await startKindNode(NODE);
      await node.sh(['mkdir', '-p', '/kind/socat-relay/certs']);
      await node.importImage(image.archive, image.image);
      await node.importImage(image.sidecarArchive, image.sidecarImage);
    });

    after(async () => {
      await node?.stop();
      await podman?.stop();
      rmSync(dir, { recursive: true, force: true });
      unregister();
    });

    test('manifests/no-cert-manager + the static-pod agent: a labeled pod is injected and scrapes a node-loopback-only service through the relay', async () => {
      writeFileSync(
        path.join(dir, 'kustomization.yaml'),
        overlayKustomization(path.relative(dir, path.join(REPO_ROOT, 'manifests', 'no-cert-manager')), image.image),
      );
      kustomized = await runTool('kubectl', ['kustomize', dir]);
      assert.ok(!kustomized.includes(DEFAULT_IMAGE), 'the overlay moved every image');
      await apply('install', kustomized);
      await node.kubectl(['wait', '--for=condition=Established', 'crd/relays.socat.io', '--timeout=60s']);
      await installCertificates();
      await node.write(
        '/etc/kubernetes/manifests/socat-relay-agent.yaml',
        staticPodManifest(readFileSync(path.join(REPO_ROOT, STATIC_POD_RELATIVE), 'utf8'), image.image),
      );
      await controllerReady();
      await scrapeThroughRelay();
    });

    test('a labeled pod of a namespace the Relay does not allow is denied', async () => {
      await node.kubectl(['create', 'namespace', 'e2e-denied']);
      const pod = stringify({
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: 'consumer', namespace: 'e2e-denied', labels: { 'socat.io/consume': 'node-metrics' } },
        spec: { containers: [{ name: 'app', image: image.image }] },
      });
      await node.write('/kind/socat-relay/denied.yaml', pod);
      const r = await node.try(['kubectl', 'create', '--dry-run=server', '-f', '/kind/socat-relay/denied.yaml']);
      assert.notEqual(r.exitCode, 0, r.output);
      assert.match(r.output, /does not allow namespace "e2e-denied"/);
    });

    test('with the pod webhook bypassed, the ValidatingAdmissionPolicy refuses a labeled pod without its sidecar', async () => {
      await node.kubectl(['delete', 'mutatingwebhookconfiguration', 'socat-relay']);
      try {
        const pod = stringify({
          apiVersion: 'v1',
          kind: 'Pod',
          metadata: { name: 'bypassed', namespace: 'e2e', labels: { 'socat.io/consume': 'node-metrics' } },
          spec: { containers: [{ name: 'app', image: image.image }] },
        });
        await node.write('/kind/socat-relay/bypassed.yaml', pod);
        const r = await node.try(['kubectl', 'create', '--dry-run=server', '-f', '/kind/socat-relay/bypassed.yaml']);
        assert.notEqual(r.exitCode, 0, r.output);
        assert.match(r.output, /socat-relay-require-sidecar/);
        assert.match(r.output, /has no socat-node-metrics sidecar: the socat-relay controller did not inject it/);
      } finally {
        await apply('install', kustomized);
        await patchCaBundle();
      }
    });

    test('after an uninstall, the Helm chart (self-made certificates, agent DaemonSet): the same scrape through the relay', async () => {
      await removeFixture();
      await node.sh(['rm', '-f', '/etc/kubernetes/manifests/socat-relay-agent.yaml']);
      await node.kubectl([
        'delete',
        '--ignore-not-found',
        '--wait=true',
        '--timeout=300s',
        '-f',
        '/kind/socat-relay/install.yaml',
      ]);
      await node.kubectl(['create', 'namespace', NS]);
      await node.kubectl(['label', 'namespace', NS, 'pod-security.kubernetes.io/enforce=privileged']);
      const objects = await helmTemplate({
        namespace: NS,
        set: { ...helmImageValues(image.image), 'certificates.certManager': 'false', 'agent.daemonset': 'true' },
      });
      const rendered = objects.map((o) => stringify(o)).join('---\n');
      assert.ok(!rendered.includes(DEFAULT_IMAGE), "the chart's image values moved every image");
      await apply('chart', rendered);
      await controllerReady();
      await scrapeThroughRelay();
    });

    test(
      'manifests/ with cert-manager: the caBundle injected into both webhook configurations, the same scrape',
      { skip: whyNoCertManager() },
      async () => {
        const file = process.env[CERT_MANAGER_ENV]!;
        await removeFixture();
        await node.kubectl([
          'delete',
          '--ignore-not-found',
          '--wait=true',
          '--timeout=300s',
          '-f',
          '/kind/socat-relay/chart.yaml',
        ]);
        for (const img of certManagerImages(file)) {
          const archive = path.join(dir, `${img.replace(/[^A-Za-z0-9.-]/g, '_')}.oci.tar`);
          const saved = spawnSync('podman', ['save', '--format', 'oci-archive', '-o', archive, img], {
            encoding: 'utf8',
            timeout: 5 * MIN,
          });
          assert.equal(saved.status, 0, `podman save ${img}: ${saved.stderr}`);
          await node.importImage(archive, img);
        }
        await apply('cert-manager', readFileSync(file, 'utf8'));
        for (const d of ['cert-manager', 'cert-manager-cainjector', 'cert-manager-webhook']) {
          await node.kubectl(['-n', 'cert-manager', 'rollout', 'status', `deployment/${d}`, '--timeout=300s']);
        }
        writeFileSync(
          path.join(dir, 'kustomization.yaml'),
          overlayKustomization(path.relative(dir, path.join(REPO_ROOT, 'manifests')), image.image),
        );
        // cert-manager's webhook may need a moment after its rollout before it admits Certificates.
        await applyRetrying('install-cert-manager', await runTool('kubectl', ['kustomize', dir]));
        for (const kind of ['mutatingwebhookconfiguration', 'validatingwebhookconfiguration']) {
          await node.kubectl([
            'wait',
            `--for=jsonpath={.webhooks[0].clientConfig.caBundle}`,
            `${kind}/socat-relay`,
            '--timeout=180s',
          ]);
        }
        await node.write(
          '/etc/kubernetes/manifests/socat-relay-agent.yaml',
          staticPodManifest(readFileSync(path.join(REPO_ROOT, STATIC_POD_RELATIVE), 'utf8'), image.image),
        );
        await controllerReady();
        await scrapeThroughRelay();
      },
    );
  },
);
