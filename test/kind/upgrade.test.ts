// `helm upgrade` on a real kubeadm cluster (one control plane, one worker; cluster.ts) with a Relay and a
// consumer in place, as docs/upgrade.md tells a user:
//   1. the chart of an earlier commit (EARLIER, packaged from git history) installed as docs/install.md's
//      Helm path says, a Relay to every node's loopback-only kube-proxy metrics and a consumer pod on the
//      worker (CSI volume, restricted namespace) whose app fetches through its sidecar all the time,
//      counting each failed connection;
//   2. `helm upgrade` to this tree's chart: the CRD in the cluster is this chart's (its schema compared),
//      the DaemonSets rolled out, the consumer pod not restarted, no failed connection;
//   3. a second `helm upgrade` (this chart again) with a value that rolls the agent: every agent pod
//      replaced through the surge rollout (a new pod beside the old one, the sockets handed over), the
//      consumer not restarted, no failed connection;
//   4. `helm uninstall` as docs/install.md says: nothing left (the kind suite's checks).
// The image: both charts run the image of this tree. EARLIER's own code cannot be run here without
// building a second image set (scripts/build-image.sh from that commit: minutes of podman); an agent
// from before the handoff stops its socats, which unlink their socket paths — what that costs is
// measured without a cluster (test/lifecycle/handoff.test.ts, "from before the handoff") and stated in
// docs/upgrade.md. In CI every part this needs is required: the suite fails, never skips.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseAllDocuments, stringify } from 'yaml';
import { parseImageRef } from '../../lib/image.js';
import { DEFAULT_TESTBIN, missingFromTestbin, REPO_ROOT } from '../harness/binaries.js';
import { registerCleanup } from '../harness/cleanup.js';
import { buildKindNodeImage, buildProjectImage, type KindNodeImage, type ProjectImage } from '../harness/image.js';
import { podmanMissing, startPodmanService, type PodmanService } from '../harness/podman.js';
import { collect } from '../harness/processes.js';
import { waitFor } from '../harness/wait.js';
import { required } from '../support/required.js';
import { writeCheckout } from './checkout.js';
import { startKindCluster, type KindCluster } from './cluster.js';
import { shBlocks, substitute } from './docs.js';
import { INSTALL_MD, NS, restrictedPod, scene } from './scenario.js';

const MIN = 60_000;
const NAME = 'upg';
/**
 * The earlier chart: the last commit before the socket handoff (the agent DaemonSet still
 * `maxUnavailable: 1`), whose chart takes the same values and installs this tree's images as they are.
 */
const EARLIER = 'c8a4c7d';
const CONSUMER_NS = 'e2e-upgrade';
const RELAY = 'kube-proxy-metrics';
const TESTBIN = ['kubeadm', 'kubelet', 'kubectl', 'kube-proxy', 'kube-apiserver', 'etcd', 'coredns', 'helm'];
const UPGRADE_MD = path.join(REPO_ROOT, 'docs', 'upgrade.md');

const skip = required(podmanMissing(), missingFromTestbin(TESTBIN, 'k8s etcd helm coredns'));

/**
 * The consumer's app: one new connection through the sidecar every 100 ms (no keep-alive), a line
 * `ok=N failed=M` every second and at each failure.
 */
const CLIENT = `
const http = require('node:http');
let ok = 0, failed = 0, last = '';
const say = () => console.log('ok=' + ok + ' failed=' + failed + (last ? ' last=' + last : ''));
const once = () => new Promise((done) => {
  const req = http.get({ host: '127.0.0.1', port: 10249, path: '/healthz', agent: false, timeout: 5000 }, (res) => {
    res.resume();
    res.on('end', () => { if (res.statusCode === 200) ok++; else { failed++; last = 'status ' + res.statusCode; say(); } done(); });
  });
  req.on('timeout', () => req.destroy(new Error('timeout')));
  req.on('error', (e) => { failed++; last = new Date().toISOString() + ' ' + e.message; say(); done(); });
});
setInterval(say, 1000);
(async () => { for (;;) { await once(); await new Promise((r) => setTimeout(r, 100)); } })();
`;

describe(
  "helm upgrade from an earlier commit's chart, with a Relay and a consumer in place",
  { skip, timeout: 60 * MIN },
  () => {
    let podman: PodmanService;
    let image: ProjectImage;
    let nodeImage: KindNodeImage;
    let cluster: KindCluster;
    let dir = '';
    let checkout = '';
    let earlierChart = '';
    let values = '';
    let steps: ReturnType<typeof scene>;
    let unregister: () => void = () => {};
    const user = (script: string, timeoutMs?: number) => steps.user(script, timeoutMs);
    const kubectl = (...args: string[]) => steps.kubectl(...args);

    /** The consumer pod's identity and restarts, and its client's counts. */
    async function consumer(): Promise<{ uid: string; restarts: number; ok: number; failed: number; line: string }> {
      const pod = JSON.parse(await kubectl('-n', CONSUMER_NS, 'get', 'pod', 'consumer', '-o', 'json')) as {
        metadata: { uid: string };
        status: { containerStatuses?: { restartCount: number }[]; initContainerStatuses?: { restartCount: number }[] };
      };
      const restarts = [...(pod.status.containerStatuses ?? []), ...(pod.status.initContainerStatuses ?? [])].reduce(
        (n, c) => n + c.restartCount,
        0,
      );
      const logs = await kubectl('-n', CONSUMER_NS, 'logs', 'consumer', '-c', 'app', '--tail=200');
      const line =
        logs
          .trim()
          .split('\n')
          .filter((l) => l.startsWith('ok='))
          .pop() ?? '';
      const m = /^ok=(\d+) failed=(\d+)/.exec(line);
      return { uid: pod.metadata.uid, restarts, ok: Number(m?.[1] ?? 0), failed: Number(m?.[2] ?? -1), line };
    }

    async function agentPods(): Promise<string[]> {
      return (await kubectl('-n', NS, 'get', 'pods', '-l', 'app.kubernetes.io/component=agent', '-o', 'name'))
        .trim()
        .split('\n')
        .sort();
    }

    /** docs/upgrade.md's Helm command, with this run's values file, then its waits. */
    async function helmUpgrade(extra = ''): Promise<void> {
      const md = readFileSync(UPGRADE_MD, 'utf8');
      const [upgrade] = shBlocks(md, 'Helm');
      const waits = shBlocks(md, 'The order: CRD → controller → agents')[0]!;
      const script = substitute(upgrade!, [['-f my-values.yaml', `-f ${values}${extra}`]]);
      await user(`${script}\n${waits}`, 15 * MIN);
    }

    before(async () => {
      image = await buildProjectImage();
      nodeImage = await buildKindNodeImage();
      podman = await startPodmanService();
      dir = mkdtempSync(path.join(os.tmpdir(), 'socat-relay-upgrade-'));
      const names = ['control-plane', 'worker'].map((n) => `${NAME}-${n}`);
      unregister = registerCleanup(() => {
        spawnSync('podman', ['rm', '-f', '-v', ...names], { stdio: 'ignore', timeout: 120_000 });
        rmSync(dir, { recursive: true, force: true });
      });
      // The earlier chart, from git history, packaged as a release would be.
      const old = path.join(dir, 'earlier');
      mkdirSync(old);
      const archive = await collect('bash', [
        '-c',
        `git -C ${REPO_ROOT} archive ${EARLIER} charts/socat-relay manifests | tar -x -C ${old} && ${path.join(DEFAULT_TESTBIN, 'helm')} package ${old}/charts/socat-relay -d ${old}`,
      ]);
      assert.equal(archive.code, 0, archive.output);
      earlierChart = path.join(
        old,
        readdirSync(old).find((f) => f.endsWith('.tgz'))!,
      );
      cluster = await startKindCluster({ name: NAME, workers: 1, nodeImage });
      const kubeconfig = path.join(dir, 'kubeconfig');
      writeFileSync(kubeconfig, await cluster.controlPlane.sh(['cat', '/etc/kubernetes/admin.conf']), { mode: 0o600 });
      await cluster.importImage(image.archive, image.image);
      await cluster.importImage(image.sidecarArchive, image.sidecarImage);
      checkout = path.join(dir, 'checkout');
      writeCheckout(checkout, image.image, nodeImage.prometheusImage);
      steps = scene({
        checkout,
        kubeconfig,
        dir,
        controlPlane: cluster.controlPlane,
        workers: cluster.workers,
        prometheusImage: nodeImage.prometheusImage,
      });
      const { repository, tag } = parseImageRef(image.image);
      values = path.join(dir, 'values.yaml');
      writeFileSync(values, stringify({ image: { repository, tag }, certificates: { certManager: false } }));
    });

    after(async () => {
      await cluster?.stop();
      await podman?.stop();
      rmSync(dir, { recursive: true, force: true });
      unregister();
    });

    test(`the chart of ${EARLIER} installed as docs/install.md says, a Relay and a consumer fetching through it`, async () => {
      const [, helmBlock] = shBlocks(INSTALL_MD, '2. socat-relay');
      const { repository, tag } = parseImageRef(image.image);
      const install = substitute(helmBlock!, [
        ['helm install socat-relay charts/socat-relay', `helm install socat-relay ${earlierChart}`],
        [
          /--set image\.repository=\S+ --set image\.tag=\S+/,
          `--set image.repository=${repository} --set image.tag=${tag} --set certificates.certManager=false`,
        ],
      ]);
      await user(`${install}\n${steps.waitBlock()}`, 15 * MIN);
      const worker = cluster.workers[0]!.name;
      const objects = [
        {
          apiVersion: 'v1',
          kind: 'Namespace',
          metadata: { name: CONSUMER_NS, labels: { 'pod-security.kubernetes.io/enforce': 'restricted' } },
        },
        {
          apiVersion: 'socat.io/v1alpha1',
          kind: 'Relay',
          metadata: { name: RELAY },
          spec: { target: { host: '127.0.0.1', port: 10249 }, consumers: { namespaces: [CONSUMER_NS] } },
        },
      ];
      writeFileSync(path.join(dir, 'relay.yaml'), objects.map((o) => stringify(o)).join('---\n'));
      await kubectl('apply', '-f', path.join(dir, 'relay.yaml'));
      const spec = restrictedPod(image.image);
      const pod = {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: 'consumer', namespace: CONSUMER_NS, labels: { 'socat.io/consume': RELAY } },
        spec: {
          ...spec,
          nodeName: worker,
          containers: [{ ...spec.containers[0]!, imagePullPolicy: 'Never', command: ['node', '-e', CLIENT] }],
        },
      };
      writeFileSync(path.join(dir, 'consumer.yaml'), stringify(pod));
      // The webhook's catalog may trail the new Relay by a moment: retried as a workload controller would.
      await waitFor(
        'the consumer admitted',
        () =>
          kubectl('apply', '-f', path.join(dir, 'consumer.yaml')).then(
            () => true,
            () => false,
          ),
        {
          timeoutMs: 60_000,
          intervalMs: 2000,
        },
      );
      await kubectl('-n', CONSUMER_NS, 'wait', '--for=condition=Ready', 'pod/consumer', '--timeout=300s');
      await waitFor('the consumer fetching through its relay', async () => (await consumer()).ok > 20, {
        timeoutMs: 2 * MIN,
        intervalMs: 2000,
      });
      const c = await consumer();
      assert.equal(c.failed, 0, c.line);
    });

    let before1: Awaited<ReturnType<typeof consumer>>;

    test("helm upgrade to this tree's chart: the CRD is this chart's, the DaemonSets rolled out, the consumer not restarted, no failed connection", async (t) => {
      before1 = await consumer();
      await helmUpgrade();
      const rendered = await user(
        `helm template socat-relay charts/socat-relay -n ${NS} -f ${values} --show-only templates/crd.yaml`,
      );
      type Crd = { kind?: string; metadata: { name: string }; spec: { versions: { schema: unknown }[] } };
      const crds = parseAllDocuments(rendered)
        .map((d) => d.toJS() as Crd | null)
        .filter((d): d is Crd => d?.kind === 'CustomResourceDefinition');
      assert.deepEqual(crds.map((c) => c.metadata.name).sort(), ['relaynodes.socat.io', 'relays.socat.io']);
      for (const want of crds) {
        const got = JSON.parse(await kubectl('get', 'crd', want.metadata.name, '-o', 'json')) as typeof want;
        assert.deepEqual(
          got.spec.versions.map((v) => v.schema),
          want.spec.versions.map((v) => v.schema),
          `${want.metadata.name}: the cluster's schema is this chart's`,
        );
      }
      const strategy = JSON.parse(
        await kubectl('-n', NS, 'get', 'daemonset', 'socat-relay-agent', '-o', 'jsonpath={.spec.updateStrategy}'),
      ) as unknown;
      assert.deepEqual(strategy, { type: 'RollingUpdate', rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } });
      await new Promise((r) => setTimeout(r, 3000));
      const after1 = await consumer();
      t.diagnostic(
        `first upgrade: ${after1.ok - before1.ok} connections, ${after1.failed - before1.failed} failed (${after1.line})`,
      );
      assert.equal(after1.uid, before1.uid, 'the consumer pod is the same');
      assert.equal(after1.restarts, 0, 'no container of the consumer restarted');
      assert.ok(after1.ok > before1.ok, 'the consumer kept fetching');
      assert.equal(after1.failed, 0, after1.line);
    });

    test('a second helm upgrade that rolls the agent (surge): every agent pod replaced, the consumer not restarted, no failed connection', async (t) => {
      const before2 = await consumer();
      const agentsBefore = await agentPods();
      await helmUpgrade(' --set-string agent.podAnnotations.rollout=2');
      // rollout status returns once the new pods are available; the old ones may still be terminating.
      await waitFor(
        'every agent pod replaced, the old ones gone',
        async () => {
          const now = await agentPods();
          return now.length === agentsBefore.length && now.every((p) => !agentsBefore.includes(p));
        },
        { timeoutMs: 2 * MIN, intervalMs: 2000 },
      );
      await new Promise((r) => setTimeout(r, 3000));
      const after2 = await consumer();
      t.diagnostic(
        `agent rollout: ${after2.ok - before2.ok} connections, ${after2.failed - before2.failed} failed (${after2.line})`,
      );
      assert.equal(after2.uid, before2.uid, 'the consumer pod is the same');
      assert.equal(after2.restarts, 0, 'no container of the consumer restarted');
      assert.ok(after2.ok > before2.ok + 20, 'the consumer kept fetching');
      assert.equal(after2.failed, 0, after2.line);
    });

    test('helm uninstall as docs/install.md says: nothing left', async () => {
      await kubectl('delete', 'namespace', CONSUMER_NS, '--wait=true', '--timeout=180s');
      const prose = INSTALL_MD.replace(/\s+/g, ' ');
      const helmUninstall = /`(helm uninstall socat-relay -n socat-relay-system)`: its post-delete hook/.exec(
        prose,
      )?.[1];
      const end =
        /`(kubectl delete crd relays\.socat\.io[^`]*)` and `(kubectl delete namespace socat-relay-system)` end it/.exec(
          prose,
        );
      assert.ok(helmUninstall && end, "docs/install.md's Helm uninstall paragraph changed");
      await kubectl('delete', 'relay', RELAY);
      await user([helmUninstall, end[1], end[2]].join('\n'), 15 * MIN);
      assert.deepEqual(await steps.leftovers(), []);
    });
  },
);
