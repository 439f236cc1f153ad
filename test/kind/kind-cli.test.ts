// README "Try it on kind", run as written with the `kind` binary (built from its Go module into .testbin/)
// on the oldest Kubernetes release upstream still supports (.testbin/k8s-oldest: v1.35) —
// with its podman provider, from the kind node image built here: `kind create cluster` with
// docs/kind-cluster.yaml (one control plane, two workers), the images built and saved with podman and
// loaded with `kind load image-archive`, then the install of docs/install.md (kustomize without
// cert-manager, the agent DaemonSet) and the kubeadm-control-plane example, scraped through the relays
// (scenario.ts, the same steps as kind.test.ts).
// What this machine needs beside the README's commands, each explicit below: the node image of
// scripts/build-kind-node.sh instead of kindest/node (`--image`) and, in the cluster configuration, the
// kubeadm patches that image needs on a cgroup v1 host (the kubelet's failCgroupV1: false, the etcd tag
// it carries); podman's default ulimits lowered (CONTAINERS_CONF: the VM refuses raising them) and its
// netavark network backend (kind's nodes find each other by name: podman's CNI backend gives kind's
// network no DNS here, and `kubeadm join` waits forever for socat-relay-control-plane); an empty
// /lib/modules on a host without one (kind's podman provider always mounts it), removed afterwards; the
// `podman build` of the README replaced by the images scripts/build-image.sh already built, tagged as the
// README names them.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parse, stringify } from 'yaml';
import { DEFAULT_TESTBIN, missingFromTestbin, REPO_ROOT } from '../harness/binaries.js';
import { registerCleanup } from '../harness/cleanup.js';
import { collect } from '../harness/processes.js';
import {
  buildKindNodeImage,
  buildProjectImage,
  OLDEST_K8S_DIR,
  type KindNodeImage,
  type ProjectImage,
} from '../harness/image.js';
import { PODMAN_ULIMITS_CONF, podmanMissing } from '../harness/podman.js';
import { required } from '../harness/required.js';
import { shell, writeCheckout } from './checkout.js';
import { shBlocks, substitute } from './docs.js';
import { nodeImageMissing } from './cluster.js';
import { scene, type NodeExec } from './scenario.js';

const MIN = 60_000;
const CLUSTER = 'socat-relay';
const README = readFileSync(path.join(REPO_ROOT, 'README.md'), 'utf8');
const KIND = path.join(DEFAULT_TESTBIN, 'kind');
const skip = required(
  podmanMissing(),
  missingFromTestbin(['kind'], 'kind'),
  nodeImageMissing(OLDEST_K8S_DIR, 'k8s-oldest'),
);

/** A node container of kind's podman provider: commands through `podman exec`. */
function podmanNode(container: string): NodeExec {
  const run = async (argv: string[]) => {
    const r = await collect('podman', ['exec', container, ...argv]);
    return { exitCode: r.code ?? 1, output: r.output };
  };
  return {
    name: container,
    try: run,
    async sh(argv) {
      const r = await run(argv);
      if (r.exitCode !== 0) throw new Error(`${argv.join(' ')} in ${container} (exit ${r.exitCode}):\n${r.output}`);
      return r.output;
    },
  };
}

/** docs/kind-cluster.yaml with the kubeadm patches the node image built here needs on this host. */
function clusterConfig(nodeImage: KindNodeImage): string {
  const config = parse(readFileSync(path.join(REPO_ROOT, 'docs', 'kind-cluster.yaml'), 'utf8')) as Record<
    string,
    unknown
  >;
  const tag = (img: string) => img.slice(img.lastIndexOf(':') + 1);
  config.kubeadmConfigPatches = [
    stringify({
      kind: 'ClusterConfiguration',
      etcd: { local: { imageTag: tag(nodeImage.etcdImage) } },
      dns: { imageTag: tag(nodeImage.corednsImage) },
    }),
    stringify({ kind: 'KubeletConfiguration', failCgroupV1: false }),
  ];
  return stringify(config);
}

describe(
  'README "Try it on kind" on the oldest supported Kubernetes (v1.35): the kind binary (podman provider), a node image built here',
  { skip, timeout: 60 * MIN },
  () => {
    let image: ProjectImage;
    let nodeImage: KindNodeImage;
    let dir = '';
    let env: Record<string, string> = {};
    let madeModules = false;
    let unregister: () => void = () => {};
    const kind = (script: string, timeoutMs = 15 * MIN) =>
      shell(
        `export ${Object.entries(env)
          .map(([k, v]) => `${k}=${v}`)
          .join(' ')}\n${script}`,
        dir,
        path.join(dir, 'kubeconfig'),
        timeoutMs,
      );
    const deleteCluster = () => {
      const opts = { env: { ...process.env, ...env }, stdio: 'ignore' as const, timeout: 180_000 };
      spawnSync(KIND, ['delete', 'cluster', '--name', CLUSTER], opts);
      spawnSync('podman', ['network', 'rm', 'kind'], opts);
    };

    before(async () => {
      image = await buildProjectImage();
      nodeImage = await buildKindNodeImage(OLDEST_K8S_DIR);
      dir = mkdtempSync(path.join(os.tmpdir(), 'socat-relay-kind-cli-'));
      writeFileSync(
        path.join(dir, 'containers.conf'),
        `${PODMAN_ULIMITS_CONF}[network]\nnetwork_backend = "netavark"\n`,
      );
      env = { KIND_EXPERIMENTAL_PROVIDER: 'podman', CONTAINERS_CONF: path.join(dir, 'containers.conf') };
      if (!existsSync('/lib/modules')) {
        mkdirSync('/lib/modules');
        madeModules = true;
      }
      unregister = registerCleanup(() => {
        deleteCluster();
        if (madeModules) rmdirSync('/lib/modules');
        rmSync(dir, { recursive: true, force: true });
      });
      writeCheckout(path.join(dir, 'checkout'), 'localhost/socat-relay:dev', nodeImage.prometheusImage);
      writeFileSync(path.join(dir, 'kind-cluster.yaml'), clusterConfig(nodeImage));
    });

    after(() => {
      deleteCluster();
      if (madeModules) rmdirSync('/lib/modules');
      rmSync(dir, { recursive: true, force: true });
      unregister();
    });

    test('kind create cluster, the images loaded, installed as docs/install.md says: the example scraped through the relays', async () => {
      const podmanBlock = shBlocks(README, 'Try it on kind').find((b) =>
        b.includes('KIND_EXPERIMENTAL_PROVIDER=podman'),
      );
      assert.ok(podmanBlock, "README's podman block for kind is gone");
      const script = substitute(podmanBlock, [
        [
          '--config docs/kind-cluster.yaml',
          `--config ${path.join(dir, 'kind-cluster.yaml')} --image ${nodeImage.image}`,
        ],
        [
          /^podman build .*$/m,
          `podman tag ${image.image} localhost/socat-relay:dev && podman tag ${image.sidecarImage} localhost/socat-relay-sidecar:dev`,
        ],
      ]);
      await kind(script);
      // Prometheus is pulled from quay.io by a user; here its image built here is loaded the same way.
      await kind(
        `podman save -o prometheus.tar ${nodeImage.prometheusImage} && kind load image-archive prometheus.tar --name ${CLUSTER}`,
      );
      const nodes = (await kind(`kind get nodes --name ${CLUSTER} 2>/dev/null`)).trim().split('\n').sort();
      assert.deepEqual(nodes, [`${CLUSTER}-control-plane`, `${CLUSTER}-worker`, `${CLUSTER}-worker2`]);
      const steps = scene({
        checkout: path.join(dir, 'checkout'),
        kubeconfig: path.join(dir, 'kubeconfig'),
        dir,
        controlPlane: podmanNode(`${CLUSTER}-control-plane`),
        workers: [podmanNode(`${CLUSTER}-worker`), podmanNode(`${CLUSTER}-worker2`)],
        prometheusImage: nodeImage.prometheusImage,
        binDirs: [OLDEST_K8S_DIR],
      });
      const version = JSON.parse(await steps.kubectl('version', '-o', 'json')) as {
        serverVersion: { gitVersion: string };
      };
      assert.equal(version.serverVersion.gitVersion, nodeImage.kubernetesVersion, 'the oldest supported release');
      await steps.kubectl('wait', '--for=condition=Ready', 'node', '--all', '--timeout=300s');
      await steps.user(steps.kustomizeInstall());
      await steps.assertPlacement();
      await steps.exampleScrapes();
      await steps.nothingPendingNorRefused();
      await steps.refusedNamespace(image.image);
    });
  },
);
