// `helm upgrade` on a real kubeadm cluster (one control plane, one worker; cluster.ts) with a Relay and a
// consumer in place, as docs/upgrade.md tells a user:
//   1. an earlier commit (EARLIER: its chart packaged from git history, its images built by its own
//      scripts/build-image.sh) installed as docs/install.md's Helm path says, a Relay to every node's
//      loopback-only kube-proxy metrics and a consumer pod on the worker (CSI volume, restricted
//      namespace) whose app opens a connection through its sidecar every 100 ms, counting failures;
//   2. `helm upgrade` to this tree's chart and images: the CRD in the cluster is this chart's (its schema
//      compared), the DaemonSets rolled out, the consumer pod not restarted. EARLIER's agent predates the
//      socket handoff: the failures and the pause they span are measured and bounded (docs/upgrade.md
//      states the figure);
//   3. a second `helm upgrade` (this chart again) with a value that rolls the agent: every agent pod
//      replaced through the surge rollout (a new pod beside the old one, the sockets handed over), the
//      consumer not restarted, no failed connection;
//   4. `helm uninstall` as docs/install.md says: nothing left (the kind suite's checks).
// In CI every part this needs is required: the suite fails, never skips.
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
import { required } from '../harness/required.js';
import { nodeImageMissing, startKindCluster, type KindCluster } from './cluster.js';
import { helmUninstallCommands, shBlocks, substitute } from './docs.js';
import { INSTALL_MD, NS, restrictedPod, scene, userScene } from './scenario.js';

const MIN = 60_000;
const NAME = 'upg';
/**
 * The earlier version: the last commit before the socket handoff (the agent DaemonSet still
 * `maxUnavailable: 1`, its agent unlinking the socket paths when it stops) — recent enough that its
 * chart takes the same values, and its images build with its own scripts/build-image.sh from the same
 * cached base in seconds.
 */
const EARLIER = 'c8a4c7d';
const CONSUMER_NS = 'e2e-upgrade';
const RELAY = 'kube-proxy-metrics';
const UPGRADE_MD = path.join(REPO_ROOT, 'docs', 'upgrade.md');

const skip = required(podmanMissing(), nodeImageMissing(), missingFromTestbin(['helm'], 'helm'));

/**
 * The consumer's app: one new connection through the sidecar every 100 ms (no keep-alive), a line
 * `ok=N failed=M span=MS` every second and at each failure (span: from the first failure to the last).
 */
const CLIENT = `
const http = require('node:http');
let ok = 0, failed = 0, last = '', first = 0, lastAt = 0;
const say = () => console.log('ok=' + ok + ' failed=' + failed + ' span=' + (lastAt - first) + (last ? ' last=' + last : ''));
const once = () => new Promise((done) => {
  const req = http.get({ host: '127.0.0.1', port: 10249, path: '/healthz', agent: false, timeout: 5000 }, (res) => {
    res.resume();
    res.on('end', () => { if (res.statusCode === 200) ok++; else { failed++; last = 'status ' + res.statusCode; say(); } done(); });
  });
  req.on('timeout', () => req.destroy(new Error('timeout')));
  req.on('error', (e) => { failed++; lastAt = Date.now(); first = first || lastAt; last = new Date().toISOString() + ' ' + e.message; say(); done(); });
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
    let earlierChart = '';
    let earlier: { image: string; archive: string; sidecarImage: string; sidecarArchive: string };
    let values = '';
    let steps: ReturnType<typeof scene>;
    let unregister: () => void = () => {};
    const user = (script: string, timeoutMs?: number) => steps.user(script, timeoutMs);
    const kubectl = (...args: string[]) => steps.kubectl(...args);

    /** The consumer pod's identity and restarts, and its client's counts. */
    async function consumer(): Promise<{
      uid: string;
      restarts: number;
      ok: number;
      failed: number;
      span: number;
      line: string;
    }> {
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
      const m = /^ok=(\d+) failed=(\d+) span=(\d+)/.exec(line);
      return {
        uid: pod.metadata.uid,
        restarts,
        ok: Number(m?.[1] ?? 0),
        failed: Number(m?.[2] ?? -1),
        span: Number(m?.[3] ?? 0),
        line,
      };
    }

    async function agentPods(): Promise<string[]> {
      return (await kubectl('-n', NS, 'get', 'pods', '-l', 'app.kubernetes.io/component=agent', '-o', 'name'))
        .trim()
        .split('\n')
        .sort();
    }

    /** Every agent pod replaced and the old ones gone (rollout status returns while they terminate). */
    async function agentsReplaced(before: string[]): Promise<void> {
      await waitFor(
        'every agent pod replaced, the old ones gone',
        async () => {
          const now = await agentPods();
          return now.length === before.length && now.every((p) => !before.includes(p));
        },
        { timeoutMs: 3 * MIN, intervalMs: 2000 },
      );
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
      // Its images, built by its own build-image.sh (the same base and caches: TESTBIN_DIR).
      const src = path.join(dir, 'earlier-src');
      mkdirSync(src);
      const built = await collect('bash', [
        '-c',
        `git -C ${REPO_ROOT} archive ${EARLIER} | tar -x -C ${src} && TESTBIN_DIR=${DEFAULT_TESTBIN} bash ${src}/scripts/build-image.sh`,
      ]);
      assert.equal(built.code, 0, built.output);
      const out = (k: string) => new RegExp(`^${k}=(.+)$`, 'm').exec(built.stdout)?.[1] ?? assert.fail(built.output);
      earlier = {
        image: out('IMAGE'),
        archive: out('ARCHIVE'),
        sidecarImage: out('SIDECAR_IMAGE'),
        sidecarArchive: out('SIDECAR_ARCHIVE'),
      };
      assert.notEqual(earlier.image, image.image, "the earlier commit's image is not this tree's");
      cluster = await startKindCluster({ name: NAME, workers: 1, nodeImage });
      ({ steps } = await userScene(cluster, {
        dir,
        image: image.image,
        prometheusImage: nodeImage.prometheusImage,
        images: [
          { archive: image.archive, image: image.image },
          { archive: image.sidecarArchive, image: image.sidecarImage },
          { archive: earlier.archive, image: earlier.image },
          { archive: earlier.sidecarArchive, image: earlier.sidecarImage },
        ],
      }));
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
      const { repository, tag } = parseImageRef(earlier.image);
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

    test(`helm upgrade from ${EARLIER} to this tree: the CRD is this chart's, every DaemonSet rolled out, the consumer not restarted; the pause an agent from before the handoff costs, measured`, async (t) => {
      before1 = await consumer();
      const agentsBefore = await agentPods();
      await helmUpgrade();
      await agentsReplaced(agentsBefore);
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
        `upgrade from ${EARLIER}: ${after1.ok - before1.ok} connections, ${after1.failed - before1.failed} failed, over ${after1.span} ms (${after1.line})`,
      );
      assert.equal(after1.uid, before1.uid, 'the consumer pod is the same');
      assert.equal(after1.restarts, 0, 'no container of the consumer restarted');
      assert.ok(after1.ok > before1.ok + 20, 'the consumer kept fetching');
      // docs/upgrade.md: the new agent binds the paths the old one's socats removed at once (it watches their folders).
      assert.ok(after1.span < 2000, `the relay paused for ${after1.span} ms: ${after1.line}`);
    });

    test('a second helm upgrade that rolls the agent (surge): every agent pod replaced, the consumer not restarted, no failed connection', async (t) => {
      const before2 = await consumer();
      const agentsBefore = await agentPods();
      await helmUpgrade(' --set-string agent.podAnnotations.rollout=2');
      await agentsReplaced(agentsBefore);
      await new Promise((r) => setTimeout(r, 3000));
      const after2 = await consumer();
      t.diagnostic(
        `agent rollout: ${after2.ok - before2.ok} connections, ${after2.failed - before2.failed} failed (${after2.line})`,
      );
      assert.equal(after2.uid, before2.uid, 'the consumer pod is the same');
      assert.equal(after2.restarts, 0, 'no container of the consumer restarted');
      assert.ok(after2.ok > before2.ok + 20, 'the consumer kept fetching');
      assert.equal(after2.failed - before2.failed, 0, after2.line);
    });

    test('helm uninstall as docs/install.md says: nothing left', async () => {
      await kubectl('delete', 'namespace', CONSUMER_NS, '--wait=true', '--timeout=180s');
      const uninstall = helmUninstallCommands(INSTALL_MD); // the docs' Helm uninstall paragraph, as written
      await kubectl('delete', 'relay', RELAY);
      await user(uninstall.join('\n'), 15 * MIN);
      assert.deepEqual(await steps.leftovers(), []);
    });
  },
);
