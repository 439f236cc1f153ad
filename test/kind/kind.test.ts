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
//   5. the uninstall as written: nothing left in the API or on any node (folders, mounts, socat);
//   6. Helm (the namespace first, the chart's own certificates, CSI off, the agent as a static pod on the
//      control plane and the DaemonSet on the workers): the same scrape; its uninstall leaves nothing.
// cert-manager cannot be had here (its images and manifest are downloads): its variant is not run.
// In CI every part this needs (podman, the Go-built binaries) is required: the suite fails, never skips.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { stringify } from 'yaml';
import { parseImageRef } from '../../lib/image.js';
import { REPO_ROOT } from '../harness/binaries.js';
import { registerCleanup } from '../harness/cleanup.js';
import { buildKindNodeImage, buildProjectImage, type KindNodeImage, type ProjectImage } from '../harness/image.js';
import { podmanMissing, startPodmanService, type PodmanService } from '../harness/podman.js';
import { waitFor } from '../harness/wait.js';
import { required } from '../support/required.js';
import { writeCheckout, shell } from './checkout.js';
import { startKindCluster, type KindCluster, type KindNode } from './cluster.js';
import { shBlocks, substitute } from './docs.js';

const MIN = 60_000;
/** The cluster's name: its nodes are e2e-control-plane, e2e-worker, e2e-worker2 (not socat-relay-…: see leftovers). */
const NAME = 'e2e';
const NS = 'socat-relay-system';
/** The example's own namespace (its agents), and where the agents remote-write (kube-prometheus-stack's Prometheus). */
const EXAMPLE_NS = 'control-plane-metrics';
const MONITORING = 'monitoring';
const INSTALL_MD = readFileSync(path.join(REPO_ROOT, 'docs', 'install.md'), 'utf8');
const RECEIVER = path.join(REPO_ROOT, 'test', 'fixtures', 'kind', 'prometheus-receiver.yaml');
/** Built by scripts/build-testbin.sh; the node image and the suite's host-side commands need them. */
const TESTBIN = [
  'kubeadm',
  'kubelet',
  'kubectl',
  'kube-proxy',
  'kube-apiserver',
  'etcd',
  'coredns',
  'prometheus',
  'helm',
];

const testbinMissing = () => {
  const gone = TESTBIN.filter((b) => !existsSync(path.join(REPO_ROOT, '.testbin', b)));
  return gone.length > 0 ? `.testbin lacks ${gone.join(', ')} (scripts/build-testbin.sh builds them)` : null;
};
const skip = required(podmanMissing(), testbinMissing());

/** A pod spec the "restricted" Pod Security level admits, so only socat-relay's own checks can refuse it. */
const restrictedPod = (img: string) => ({
  securityContext: { runAsNonRoot: true, runAsUser: 65532, seccompProfile: { type: 'RuntimeDefault' } },
  containers: [
    { name: 'app', image: img, securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } } },
  ],
});

const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

interface PodJson {
  metadata: { name: string; namespace: string; labels?: Record<string, string> };
  spec: { nodeName?: string; volumes?: { name: string; secret?: { secretName: string } }[] };
  status: { phase: string; podIP?: string };
}

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
    let kubeconfig = '';
    let unregister: () => void = () => {};

    const user = (script: string, timeoutMs?: number) => shell(script, checkout, kubeconfig, timeoutMs);
    const kubectl = (...args: string[]) => user(`kubectl ${args.map(q).join(' ')}`);
    const pods = async (ns: string) =>
      (JSON.parse(await kubectl('-n', ns, 'get', 'pods', '-o', 'json')) as { items: PodJson[] }).items;
    const cp = () => cluster.controlPlane;
    const nodeNamed = (name: string): KindNode => cluster.nodes.find((n) => n.name === name)!;

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
      kubeconfig = path.join(dir, 'kubeconfig');
      writeFileSync(kubeconfig, await cp().sh(['cat', '/etc/kubernetes/admin.conf']), { mode: 0o600 });
      await cluster.importImage(image.archive, image.image);
      await cluster.importImage(image.sidecarArchive, image.sidecarImage);
      await cluster.importImage(nodeImage.prometheusArchive, nodeImage.prometheusImage);
      checkout = path.join(dir, 'checkout');
      writeCheckout(checkout, image.image, nodeImage.prometheusImage);
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
      const dns = (await pods('kube-system')).filter((p) => p.metadata.labels?.['k8s-app'] === 'kube-dns');
      assert.ok(
        dns.length > 0 && dns.every((p) => p.status.phase === 'Running' && p.spec.nodeName !== worker2),
        JSON.stringify(dns.map((p) => [p.spec.nodeName, p.status.phase])),
      );
      await kubectl(
        'run',
        'dns-check',
        `--image=${image.image}`,
        '--image-pull-policy=Never',
        '--restart=Never',
        `--overrides=${JSON.stringify({ spec: { nodeName: worker2 } })}`,
        '--command',
        '--',
        'getent',
        'hosts',
        'kubernetes.default.svc.cluster.local',
      );
      await kubectl('wait', '--for=jsonpath={.status.phase}=Succeeded', 'pod/dns-check', '--timeout=180s');
      assert.match(await kubectl('logs', 'dns-check'), /^10\.96\.0\.1\s+kubernetes\.default\.svc\.cluster\.local$/m);
      await kubectl('delete', 'pod', 'dns-check', '--wait=false');
    });

    /** The install section's commands for kustomize without cert-manager, as written. */
    function kustomizeInstall(): string {
      const [kustomize] = shBlocks(INSTALL_MD, '2. socat-relay');
      const noCertManager = /^# or: (kubectl apply -k manifests\/no-cert-manager\/)/m.exec(kustomize!)?.[1];
      const agent = /^(kubectl apply -k manifests\/node-agent\/)/m.exec(kustomize!)?.[1];
      assert.ok(noCertManager && agent, `docs/install.md's kustomize block changed:\n${kustomize}`);
      const certificates = shBlocks(INSTALL_MD, '2. socat-relay').find((b) => b.includes('socat-relay certs'));
      assert.ok(certificates, "docs/install.md's certificate block is gone");
      return [noCertManager, certificates, agent, waitBlock()].join('\n');
    }

    /** Section 3's waits, without cert-manager's. */
    const waitBlock = () =>
      shBlocks(INSTALL_MD, '3. Wait until it can answer')[0]!
        .split('\n')
        .filter((l) => !l.includes('# cert-manager only'))
        .join('\n');

    async function assertPlacement(): Promise<void> {
      const all = await pods(NS);
      const on = (name: string) => all.filter((p) => p.metadata.labels?.['app.kubernetes.io/component'] === name);
      const nodesOf = (ps: PodJson[]) => ps.map((p) => p.spec.nodeName).sort();
      const controllers = on('controller');
      assert.deepEqual(nodesOf(controllers), [cp().name], 'the serving controller runs on the control plane only');
      assert.deepEqual(
        nodesOf(on('node')),
        cluster.workers.map((w) => w.name).sort(),
        'every worker runs the reconcile-only controller',
      );
      assert.deepEqual(nodesOf(on('agent')), cluster.nodes.map((n) => n.name).sort(), 'an agent on every node');
      for (const p of on('node')) {
        const secrets = (p.spec.volumes ?? []).filter((v) => v.secret).map((v) => v.secret!.secretName);
        assert.deepEqual(
          secrets,
          [],
          `${p.metadata.name} on ${p.spec.nodeName} mounts no Secret (no serving key on workers)`,
        );
      }
      const slices = JSON.parse(
        await kubectl(
          '-n',
          NS,
          'get',
          'endpointslices',
          '-l',
          'kubernetes.io/service-name=socat-relay-webhook',
          '-o',
          'json',
        ),
      ) as {
        items: { endpoints?: { addresses: string[]; nodeName?: string }[] }[];
      };
      const endpoints = slices.items.flatMap((s) => s.endpoints ?? []);
      assert.deepEqual(
        endpoints.map((e) => e.nodeName),
        [cp().name],
        "the webhook Service's endpoints: the control plane's controller only",
      );
      assert.deepEqual(
        endpoints.flatMap((e) => e.addresses),
        controllers.map((p) => p.status.podIP),
      );
    }

    test('kustomize without cert-manager, as written: the DaemonSets rolled out on every node, the serving key and the webhook endpoints only on the control plane', async () => {
      await user(kustomizeInstall());
      await assertPlacement();
    });

    /** The receiver the example's agents remote-write to, with its image moved like the example's. */
    function receiver(): string {
      return readFileSync(RECEIVER, 'utf8').replace(
        /image: quay\.io\/prometheus\/prometheus:\S+/,
        `image: ${nodeImage.prometheusImage}`,
      );
    }

    const query = async (promql: string) => {
      const raw = await kubectl(
        'get',
        '--raw',
        `/api/v1/namespaces/${MONITORING}/services/kube-prometheus-stack-prometheus:web/proxy/api/v1/query?query=${encodeURIComponent(promql)}`,
      );
      return (JSON.parse(raw) as { data: { result: { metric: Record<string, string>; value: [number, string] }[] } })
        .data.result;
    };

    /** What each job scrapes, on which nodes, its port, and how to scrape it directly on the node. */
    function targets(): { job: string; node: string; port: number; direct: string }[] {
      const https = (port: number) => `curl -sfk -H "Authorization: Bearer $TOKEN" https://127.0.0.1:${port}/metrics`;
      const http = (port: number) => `curl -sf http://127.0.0.1:${port}/metrics`;
      return [
        { job: 'kube-scheduler', node: cp().name, port: 10259, direct: https(10259) },
        { job: 'kube-controller-manager', node: cp().name, port: 10257, direct: https(10257) },
        { job: 'etcd', node: cp().name, port: 2381, direct: http(2381) },
        ...cluster.nodes.map((n) => ({ job: 'kube-proxy', node: n.name, port: 10249, direct: http(10249) })),
      ];
    }

    async function exampleScrapes(): Promise<void> {
      await user(shBlocks(INSTALL_MD, '4. The first Relay')[0]!);
      writeFileSync(path.join(dir, 'receiver.yaml'), receiver());
      await kubectl('apply', '-f', path.join(dir, 'receiver.yaml'));
      for (const w of ['daemonset/prometheus-agent-control-plane', 'daemonset/prometheus-agent-nodes'])
        await kubectl('-n', EXAMPLE_NS, 'rollout', 'status', w, '--timeout=300s');
      await kubectl(
        '-n',
        MONITORING,
        'rollout',
        'status',
        'deployment/kube-prometheus-stack-prometheus',
        '--timeout=300s',
      );
      const want = targets();
      const key = (job: string, node: string) => `${job}@${node}`;
      let seen = '';
      await waitFor(
        'up == 1 for every control-plane component and every kube-proxy, scraped through the relays',
        async () => {
          const up = await query('up').catch(() => []);
          const got = new Map(up.map((r) => [key(r.metric.job!, r.metric.node!), r.value[1]]));
          seen = JSON.stringify([...got]);
          return want.every((t) => got.get(key(t.job, t.node)) === '1');
        },
        { timeoutMs: 5 * MIN, intervalMs: 5000 },
      ).catch((e: Error) => assert.fail(`${e.message}; up series: ${seen}`));
      // The example relabels each target's instance to <node>:<port>: one series per node, not 127.0.0.1.
      const instances = (await query('up')).map((r) => `${r.metric.job}@${r.metric.instance}`).sort();
      assert.deepEqual(instances, want.map((t) => `${t.job}@${t.node}:${t.port}`).sort());
      // The same process as a direct scrape on the node: process_start_time_seconds equal.
      const token = (await kubectl('-n', EXAMPLE_NS, 'create', 'token', 'prometheus-agent')).trim();
      const started = await query('process_start_time_seconds');
      for (const t of want) {
        const viaRelay = started.find((r) => r.metric.job === t.job && r.metric.node === t.node);
        assert.ok(viaRelay, `process_start_time_seconds of ${t.job} on ${t.node} through the relay`);
        const direct = await nodeNamed(t.node).sh([
          'sh',
          '-c',
          `TOKEN=${q(token)}; ${t.direct} | grep '^process_start_time_seconds '`,
        ]);
        assert.equal(
          Number(viaRelay.value[1]),
          Number(direct.trim().split(/\s+/)[1]),
          `${t.job} on ${t.node}: the relay reaches the node's own process`,
        );
      }
    }

    async function nothingPendingNorRefused(): Promise<void> {
      const all = (JSON.parse(await kubectl('get', 'pods', '-A', '-o', 'json')) as { items: PodJson[] }).items;
      const bad = all
        .filter((p) => !['Running', 'Succeeded'].includes(p.status.phase))
        .map((p) => `${p.metadata.namespace}/${p.metadata.name} ${p.status.phase} on ${p.spec.nodeName ?? '(none)'}`);
      assert.deepEqual(bad, [], 'every pod Running (or done)');
      const events = await kubectl(
        'get',
        'events',
        '-A',
        '--field-selector=reason=FailedCreate',
        '-o',
        'custom-columns=NS:.metadata.namespace,OBJ:.involvedObject.name,MSG:.message',
        '--no-headers',
      );
      assert.equal(events.trim(), '', 'no workload was refused a pod');
    }

    test('the kubeadm-control-plane example: Prometheus scrapes the loopback-only kube-scheduler, kube-controller-manager, etcd and every kube-proxy through the relays, the same processes as on the nodes', async () => {
      await exampleScrapes();
      await nothingPendingNorRefused();
    });

    test('a labeled pod of a namespace the Relay does not allow is refused', async () => {
      await kubectl('create', 'namespace', 'e2e-denied');
      const pod = path.join(dir, 'denied.yaml');
      writeFileSync(
        pod,
        stringify({
          apiVersion: 'v1',
          kind: 'Pod',
          metadata: { name: 'consumer', namespace: 'e2e-denied', labels: { 'socat.io/consume': 'kube-scheduler' } },
          spec: restrictedPod(image.image),
        }),
      );
      const err = await kubectl('create', '--dry-run=server', '-f', pod).then(
        (out) => assert.fail(`admitted: ${out}`),
        (e: Error) => e.message,
      );
      assert.match(err, /does not allow namespace "e2e-denied"/);
      await kubectl('delete', 'namespace', 'e2e-denied', '--wait=false');
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

    /**
     * What an uninstall must not leave: socat-relay's objects in the API, its folders, mounts and processes
     * on every node.
     */
    async function leftovers(): Promise<string[]> {
      const api = await user(
        [
          'kubectl get crd,mutatingwebhookconfigurations,validatingwebhookconfigurations,validatingadmissionpolicies,validatingadmissionpolicybindings,clusterroles,clusterrolebindings,csidrivers,priorityclasses -o name | grep -E "socat" || true',
          'kubectl get leases,secrets,configmaps,serviceaccounts,daemonsets,services -A -o custom-columns=NS:.metadata.namespace,KIND:.kind,NAME:.metadata.name --no-headers | grep -E "socat-relay" || true',
        ].join('\n'),
      );
      const found = api.split('\n').filter((l) => l.trim() !== '');
      for (const n of cluster.nodes) {
        const r = await n.try([
          'sh',
          '-c',
          'ls -d /etc/socat-relay /run/socat-relay /var/lib/kubelet/plugins/csi.socat.io /var/lib/kubelet/plugins_registry/csi.socat.io* 2>/dev/null; grep socat /proc/mounts; pgrep -a socat; true',
        ]);
        found.push(
          ...r.output
            .split('\n')
            .filter((l) => l.trim() !== '')
            .map((l) => `${n.name}: ${l}`),
        );
      }
      return found;
    }

    test('the uninstall, as written: nothing left in the API or on any node', async () => {
      const script = substitute(shBlocks(INSTALL_MD, 'Uninstall')[0]!, [
        [
          /kubectl delete -k manifests\/ --ignore-not-found\s+# or manifests\/no-cert-manager\/.*/,
          'kubectl delete -k manifests/no-cert-manager/ --ignore-not-found',
        ],
      ]);
      await user(script, 20 * MIN);
      await waitFor(
        'the socat-relay-system namespace gone',
        async () => !(await kubectl('get', 'namespaces', '-o', 'name')).includes(`namespace/${NS}`),
        { timeoutMs: 3 * MIN, intervalMs: 3000 },
      );
      assert.deepEqual(await leftovers(), []);
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
      await user(`${install}\n${waitBlock()}`);
      // The static pod's mirror pod appears once its namespace exists (the kubelet retries).
      const mirror = `pod/socat-relay-agent-${cp().name}`;
      await waitFor(
        `the static-pod agent's mirror ${mirror}`,
        () =>
          kubectl('-n', NS, 'get', mirror).then(
            () => true,
            () => false,
          ),
        {
          timeoutMs: 3 * MIN,
          intervalMs: 3000,
        },
      );
      await kubectl('-n', NS, 'wait', '--for=condition=Ready', mirror, '--timeout=300s');
      await assertPlacement();
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
      await exampleScrapes();
      await nothingPendingNorRefused();
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
      const prose = INSTALL_MD.replace(/\s+/g, ' ');
      const helmUninstall = /`(helm uninstall socat-relay -n socat-relay-system)`: its post-delete hook/.exec(
        prose,
      )?.[1];
      const end =
        /`(kubectl delete crd relays\.socat\.io[^`]*)` and `(kubectl delete namespace socat-relay-system)` end it/.exec(
          prose,
        );
      assert.ok(helmUninstall && end, "docs/install.md's Helm uninstall paragraph changed");
      await user([helmUninstall, end[1], end[2]].join('\n'), 15 * MIN);
      assert.deepEqual(await leftovers(), []);
    });
  },
);
