// The prometheus-operator variant of manifests/examples/kubeadm-control-plane on a kind cluster with
// socat-relay installed: a real prometheus-operator (built from its Go module, images built here under
// upstream's tags) with kube-prometheus-stack's Prometheus (test/fixtures/kind/prometheus-operator.yaml),
// the monitoring.coreos.com CRDs from the operator's module, and the example's folder applied as its
// README says — instead of the agent variant, PodMonitor included. Checked through Prometheus' API:
// the PodMonitor's scrape pools (podMonitor/<ns>/<name>/<endpoint>) hold kube-scheduler,
// kube-controller-manager and etcd of the control-plane node, up, each the same process as a direct
// scrape on the node. Then all of it removed again, and the agent variant back as it was.
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { REPO_ROOT } from '../harness/binaries.js';
import { waitFor } from '../harness/wait.js';
import { shBlocks, substitute } from './docs.js';
import { EXAMPLE_NS, type scene, type Target } from './scenario.js';

const MIN = 60_000;
const FIXTURE = path.join(REPO_ROOT, 'test', 'fixtures', 'kind', 'prometheus-operator.yaml');
const EXAMPLE = 'manifests/examples/kubeadm-control-plane';
const README = readFileSync(path.join(REPO_ROOT, EXAMPLE, 'README.md'), 'utf8');
const MONITORING = 'monitoring';
/** The Service the operator makes for every Prometheus (its governing Service). */
const PROMETHEUS_SERVICE = 'prometheus-operated:web';
const PROMETHEUS_STS = 'statefulset/prometheus-kube-prometheus-stack-prometheus';
/** The example's PodMonitor, and the job each of its endpoints relabels its targets to, in order. */
const POD_MONITOR = `${EXAMPLE_NS}/control-plane`;
const ENDPOINT_JOBS = ['kube-scheduler', 'kube-controller-manager', 'etcd'];
/** The ServiceAccount whose token the PodMonitor presents (the example's rbac.yaml). */
const READER = 'control-plane-metrics-reader';

type Scene = ReturnType<typeof scene>;

/** The fixture with Prometheus moved to `prometheusImage` (repository:tag), its `version:` to the tag. */
export function operatorFixture(text: string, prometheusImage: string): string {
  const tag = /:([^:/]+)$/.exec(prometheusImage)?.[1];
  if (!tag) throw new Error(`image "${prometheusImage}" must be repository:tag`);
  return substitute(text, [
    [/image: quay\.io\/prometheus\/prometheus:\S+/, `image: ${prometheusImage}`],
    [/version: v3\S*/, `version: ${tag}`],
  ]);
}

interface ActiveTarget {
  scrapePool: string;
  labels: Record<string, string>;
  health: string;
  lastError: string;
}

export async function operatorVariant(
  steps: Scene,
  o: {
    dir: string;
    crds: string;
    prometheusImage: string;
    /** The images built here under upstream's tags: the fixture and the example must name exactly these. */
    operatorImage: string;
    configReloaderImage: string;
    kubeRbacProxyImage: string;
  },
): Promise<void> {
  const { kubectl, user } = steps;
  const text = readFileSync(FIXTURE, 'utf8');
  assert.ok(text.includes(`image: ${o.operatorImage}\n`), `the fixture runs ${o.operatorImage}`);
  assert.ok(
    text.includes(`--prometheus-config-reloader=${o.configReloaderImage}\n`),
    `the fixture's operator deploys ${o.configReloaderImage}`,
  );
  const gateway = readFileSync(path.join(REPO_ROOT, EXAMPLE, 'prometheus-operator', 'gateway.yaml'), 'utf8');
  assert.ok(gateway.includes(`image: ${o.kubeRbacProxyImage}\n`), `the example's gateway runs ${o.kubeRbacProxyImage}`);
  const fixture = path.join(o.dir, 'prometheus-operator.yaml');
  writeFileSync(fixture, operatorFixture(text, o.prometheusImage));
  const crds = readFileSync(path.join(o.crds, 'monitoring.coreos.com_podmonitors.yaml'), 'utf8');
  assert.match(crds, /name: podmonitors\.monitoring\.coreos\.com/);
  try {
    // The CRDs, server-side: the largest exceed the last-applied annotation's size limit.
    await kubectl('apply', '--server-side', '-f', o.crds);
    await kubectl('wait', '--for=condition=Established', '-f', o.crds, '--timeout=60s');
    await kubectl('apply', '-f', fixture);
    await kubectl('-n', MONITORING, 'rollout', 'status', 'deployment/kube-prometheus-stack-operator', '--timeout=300s');
    // The README: the variant is applied instead of the agent variant.
    await user(`kubectl delete -k ${EXAMPLE}/`, 5 * MIN);
    const [apply] = shBlocks(README, 'prometheus-operator');
    assert.equal(apply, `kubectl apply -k ${EXAMPLE}/prometheus-operator/`, "the README's command changed");
    await user(apply);
    await kubectl('-n', EXAMPLE_NS, 'rollout', 'status', 'daemonset/control-plane-metrics-gateway', '--timeout=300s');
    await waitFor(
      `the operator's ${PROMETHEUS_STS}`,
      () =>
        kubectl('-n', MONITORING, 'get', PROMETHEUS_STS).then(
          () => true,
          () => false,
        ),
      { timeoutMs: 3 * MIN, intervalMs: 3000 },
    );
    await kubectl('-n', MONITORING, 'rollout', 'status', PROMETHEUS_STS, '--timeout=300s');

    const want = steps.targets().filter((t) => ENDPOINT_JOBS.includes(t.job));
    const poolOf = (t: Target) => `podMonitor/${POD_MONITOR}/${ENDPOINT_JOBS.indexOf(t.job)}`;
    let seen: ActiveTarget[] = [];
    await waitFor(
      "the PodMonitor's targets up: kube-scheduler, kube-controller-manager, etcd of the control-plane node",
      async () => {
        const raw = await steps.prometheusApi('targets?state=active', PROMETHEUS_SERVICE).catch(() => '');
        seen = raw ? (JSON.parse(raw) as { data: { activeTargets: ActiveTarget[] } }).data.activeTargets : [];
        return want.every((t) =>
          seen.some((a) => a.scrapePool === poolOf(t) && a.labels.job === t.job && a.health === 'up'),
        );
      },
      { timeoutMs: 5 * MIN, intervalMs: 5000 },
    ).catch((e: Error) =>
      assert.fail(
        `${e.message}; active targets: ${JSON.stringify(seen.map((a) => [a.scrapePool, a.labels.job, a.labels.instance, a.health, a.lastError]))}`,
      ),
    );
    // Exactly these: one target per endpoint and control-plane node, its instance <node>:<port>.
    assert.deepEqual(
      seen.map((a) => `${a.scrapePool} ${a.labels.job}@${a.labels.instance} node=${a.labels.node}`).sort(),
      want.map((t) => `${poolOf(t)} ${t.job}@${t.node}:${t.port} node=${t.node}`).sort(),
    );
    const up = await steps.query('up', PROMETHEUS_SERVICE);
    assert.deepEqual(
      up.map((r) => `${r.metric.job}@${r.metric.node}=${r.value[1]}`).sort(),
      want.map((t) => `${t.job}@${t.node}=1`).sort(),
    );
    await steps.sameProcesses(want, READER, PROMETHEUS_SERVICE);
    await steps.nothingPendingNorRefused();
  } finally {
    // Nothing of it left, and the agent variant back for the uninstall as written.
    await user(
      [
        `kubectl delete -k ${EXAMPLE}/prometheus-operator/ --ignore-not-found`,
        `kubectl delete -f ${fixture} --ignore-not-found`,
        `kubectl delete -f ${o.crds} --ignore-not-found`,
        `kubectl apply -k ${EXAMPLE}/`,
      ].join('\n'),
      10 * MIN,
    );
    for (const w of ['daemonset/prometheus-agent-control-plane', 'daemonset/prometheus-agent-nodes'])
      await kubectl('-n', EXAMPLE_NS, 'rollout', 'status', w, '--timeout=300s');
  }
  const left = await user(
    'kubectl get crd -o name | grep monitoring.coreos.com || true; kubectl get clusterroles,clusterrolebindings -o name | grep kube-prometheus-stack || true',
  );
  assert.equal(left.trim(), '', 'nothing of the operator left');
}
