// The steps of a user's install that both kind suites run — the one whose cluster testcontainers starts
// (kind.test.ts) and the one the `kind` binary starts (kind-cli.test.ts): docs/install.md's commands as
// written from a user's checkout (checkout.ts, docs.ts), and what each step must show on the cluster.
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { stringify } from 'yaml';
import { REPO_ROOT } from '../harness/binaries.js';
import { waitFor } from '../harness/wait.js';
import { shell, writeCheckout } from './checkout.js';
import type { KindCluster } from './cluster.js';
import { shBlocks } from './docs.js';

const MIN = 60_000;
export const NS = 'socat-relay-system';
/** The example's own namespace (its agents), and where the agents remote-write (kube-prometheus-stack's Prometheus). */
export const EXAMPLE_NS = 'control-plane-metrics';
const MONITORING = 'monitoring';
export const INSTALL_MD = readFileSync(path.join(REPO_ROOT, 'docs', 'install.md'), 'utf8');
const RECEIVER = path.join(REPO_ROOT, 'test', 'fixtures', 'kind', 'prometheus-receiver.yaml');
const RECEIVER_SERVICE = 'kube-prometheus-stack-prometheus:web';

/** A scrape target of the examples: its job, node and port, and how to scrape it directly on the node. */
export interface Target {
  job: string;
  node: string;
  port: number;
  direct: string;
}

/** A node of the cluster: its name, and commands run inside it. */
export interface NodeExec {
  name: string;
  sh(argv: string[]): Promise<string>;
  try(argv: string[]): Promise<{ exitCode: number; output: string }>;
}

export interface SceneOptions {
  /** The user's checkout (checkout.ts) the docs' commands run in, and the cluster's kubeconfig. */
  checkout: string;
  kubeconfig: string;
  /** Scratch files. */
  dir: string;
  controlPlane: NodeExec;
  workers: NodeExec[];
  prometheusImage: string;
  /** Folders before .testbin on PATH (the oldest release's kubectl for its cluster). */
  binDirs?: string[];
}

export interface PodJson {
  metadata: { name: string; namespace: string; labels?: Record<string, string> };
  spec: { nodeName?: string; volumes?: { name: string; secret?: { secretName: string } }[] };
  status: { phase: string; podIP?: string };
}

/** A pod spec the "restricted" Pod Security level admits, so only socat-relay's own checks can refuse it. */
export const restrictedPod = (img: string) => ({
  securityContext: { runAsNonRoot: true, runAsUser: 65532, seccompProfile: { type: 'RuntimeDefault' } },
  containers: [
    { name: 'app', image: img, securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } } },
  ],
});

export const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/** The steps, bound to one cluster and checkout. */
export function scene(o: SceneOptions) {
  const { dir, controlPlane, workers } = o;
  const nodes = [controlPlane, ...workers];
  const cp = () => controlPlane;
  const nodeNamed = (name: string): NodeExec => nodes.find((n) => n.name === name)!;
  const user = (script: string, timeoutMs?: number) => shell(script, o.checkout, o.kubeconfig, timeoutMs, o.binDirs);
  const kubectl = (...args: string[]) => user(`kubectl ${args.map(q).join(' ')}`);
  const pods = async (ns: string) =>
    (JSON.parse(await kubectl('-n', ns, 'get', 'pods', '-o', 'json')) as { items: PodJson[] }).items;

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
      workers.map((w) => w.name).sort(),
      'every worker runs the reconcile-only controller',
    );
    // The agent: the DaemonSet's pods, and static pods' mirrors (kube-system).
    const staticAgents = (await pods('kube-system')).filter(
      (p) => p.metadata.labels?.['app.kubernetes.io/component'] === 'agent',
    );
    assert.deepEqual(
      nodesOf([...on('agent'), ...staticAgents]),
      nodes.map((n) => n.name).sort(),
      'an agent on every node',
    );
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

  /** The receiver the example's agents remote-write to, with its image moved like the example's. */
  function receiver(): string {
    return readFileSync(RECEIVER, 'utf8').replace(
      /image: quay\.io\/prometheus\/prometheus:\S+/,
      `image: ${o.prometheusImage}`,
    );
  }

  /** A Prometheus API call through the API server's service proxy (`service`: name:port in `monitoring`). */
  const prometheusApi = (call: string, service = RECEIVER_SERVICE) =>
    kubectl('get', '--raw', `/api/v1/namespaces/${MONITORING}/services/${service}/proxy/api/v1/${call}`);
  const query = async (promql: string, service?: string) => {
    const raw = await prometheusApi(`query?query=${encodeURIComponent(promql)}`, service);
    return (JSON.parse(raw) as { data: { result: { metric: Record<string, string>; value: [number, string] }[] } }).data
      .result;
  };

  /** What each job scrapes, on which nodes, its port, and how to scrape it directly on the node. */
  function targets(): Target[] {
    const https = (port: number) => `curl -sfk -H "Authorization: Bearer $TOKEN" https://127.0.0.1:${port}/metrics`;
    const http = (port: number) => `curl -sf http://127.0.0.1:${port}/metrics`;
    return [
      { job: 'kube-scheduler', node: cp().name, port: 10259, direct: https(10259) },
      { job: 'kube-controller-manager', node: cp().name, port: 10257, direct: https(10257) },
      { job: 'etcd', node: cp().name, port: 2381, direct: http(2381) },
      ...nodes.map((n) => ({ job: 'kube-proxy', node: n.name, port: 10249, direct: http(10249) })),
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
    await sameProcesses(want, 'prometheus-agent');
  }

  /**
   * The same process as a direct scrape on the node: process_start_time_seconds equal, for each of
   * `want`, the HTTPS ones scraped with a token of the example's ServiceAccount `serviceAccount`.
   */
  async function sameProcesses(want: Target[], serviceAccount: string, service?: string): Promise<void> {
    const token = (await kubectl('-n', EXAMPLE_NS, 'create', 'token', serviceAccount)).trim();
    const started = await query('process_start_time_seconds', service);
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
    for (const n of nodes) {
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

  /** A labeled pod of a namespace the Relay does not allow is refused, naming the namespace. */
  async function refusedNamespace(image: string): Promise<void> {
    await kubectl('create', 'namespace', 'e2e-denied');
    const pod = path.join(dir, 'denied.yaml');
    writeFileSync(
      pod,
      stringify({
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: 'consumer', namespace: 'e2e-denied', labels: { 'socat.io/consume': 'kube-scheduler' } },
        spec: restrictedPod(image),
      }),
    );
    const err = await kubectl('create', '--dry-run=server', '-f', pod).then(
      (out) => assert.fail(`admitted: ${out}`),
      (e: Error) => e.message,
    );
    assert.match(err, /does not allow namespace "e2e-denied"/);
    await kubectl('delete', 'namespace', 'e2e-denied', '--wait=false');
  }

  return {
    refusedNamespace,
    user,
    kubectl,
    pods,
    kustomizeInstall,
    waitBlock,
    assertPlacement,
    exampleScrapes,
    targets,
    prometheusApi,
    query,
    sameProcesses,
    nothingPendingNorRefused,
    leftovers,
  };
}

/**
 * A started cluster as a user meets it: its admin kubeconfig in `dir`, `images` imported into every node,
 * the user's checkout (`dir`/checkout) running `image`, and the scene's steps over both.
 */
export async function userScene(
  cluster: KindCluster,
  o: { dir: string; image: string; prometheusImage: string; images: { archive: string; image: string }[] },
): Promise<{ steps: ReturnType<typeof scene>; checkout: string }> {
  const kubeconfig = path.join(o.dir, 'kubeconfig');
  writeFileSync(kubeconfig, await cluster.controlPlane.sh(['cat', '/etc/kubernetes/admin.conf']), { mode: 0o600 });
  for (const i of o.images) await cluster.importImage(i.archive, i.image);
  const checkout = path.join(o.dir, 'checkout');
  writeCheckout(checkout, o.image, o.prometheusImage);
  const steps = scene({
    checkout,
    kubeconfig,
    dir: o.dir,
    controlPlane: cluster.controlPlane,
    workers: cluster.workers,
    prometheusImage: o.prometheusImage,
  });
  return { steps, checkout };
}
