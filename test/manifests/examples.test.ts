// The operator's examples (manifests/examples/) work as shipped: every Relay passes validateRelay,
// every consumer is injected by the real pure admission (both sidecar modes) with one sidecar per
// relay it names, the result passes the sidecar policy, and the consumers' own configuration (scrape
// targets, syslog port) points at the ports the relays listen on. The real API server's server-side
// dry-run of the same objects plugs in through loadExamples() (test/harness/examples-catalog.ts).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { parse as parseYaml } from 'yaml';
import { parseDocuments } from '../../relay/load.js';
import { CONSUME_ANNOTATION, CONSUME_LABEL, INJECTED_ANNOTATION } from '../../relay/constants.js';
import { sidecarName, volumeName } from '../../relay/names.js';
import { validateRelay } from '../../relay/validate.js';
import type { ResolvedRelay } from '../../relay/types.js';
import { kustomize, REPO, type KubeObject } from '../harness/manifest-load.js';
import { skipWithout } from '../harness/tools.js';
import { judgeSidecarPolicy } from '../harness/policy.js';
import { loadExamples, podLabels, type Example } from '../harness/examples-catalog.js';
import { injectPod, podFromWorkload } from '../harness/inject.js';
import { fits, MULTI_NODE, nodesFor, requirementHolds, type ClusterNode } from './placement.js';

const examples = loadExamples();
const byName = (n: string): Example => {
  const e = examples.find((x) => x.name === n);
  assert.ok(e, `example ${n} exists`);
  return e;
};
const resolved = (e: Example): Map<string, ResolvedRelay> =>
  new Map(e.relays.map((r) => [r.metadata.name, validateRelay(r).resolved!]));
function wanted(o: KubeObject): string[] {
  const pod = podFromWorkload(o as any);
  const names = [
    pod.metadata?.labels?.[CONSUME_LABEL] ?? '',
    ...(pod.metadata?.annotations?.[CONSUME_ANNOTATION] ?? '').split(','),
  ];
  return [...new Set(names.map((s) => s.trim()).filter(Boolean))].sort();
}

test('the shipped examples are all there, each with a README', () => {
  assert.deepEqual(examples.map((e) => e.name).sort(), [
    'agent-metrics',
    'docker-metrics',
    'kubeadm-control-plane',
    path.join('kubeadm-control-plane', 'prometheus-operator'),
    'syslog-udp',
  ]);
  for (const e of examples) {
    assert.ok(e.relays.length > 0, `${e.name} has relays`);
    assert.ok(e.consumers.length > 0, `${e.name} has a consumer`);
    const readme = e.name.includes('prometheus-operator')
      ? path.join(e.dir, '..', 'README.md')
      : path.join(e.dir, 'README.md');
    assert.ok(existsSync(readme), `${e.name}: README.md`);
  }
});

for (const e of examples) {
  describe(`example ${e.name}`, () => {
    for (const r of e.relays) {
      test(`Relay ${r.metadata.name} passes validateRelay`, () => {
        const v = validateRelay(r);
        assert.deepEqual(v.problems, []);
        // The only warning an example may carry is the deliberate pod-network listen of the -gw relays.
        for (const w of v.warnings)
          assert.match(w, /listen\.address 0\.0\.0\.0/, `${r.metadata.name}: unexpected warning ${w}`);
        if (v.warnings.length > 0) assert.match(r.metadata.name, /-gw$/);
      });
    }
    for (const c of e.consumers) {
      for (const mode of ['native', 'regular'] as const) {
        test(`${c.kind} ${c.metadata.name} is injected (${mode} sidecars) with one sidecar per relay it names, and passes the sidecar policy`, () => {
          const names = wanted(c);
          const relays = resolved(e);
          for (const n of names)
            assert.ok(relays.has(n), `${c.metadata.name} names relay ${n}, which the example defines`);
          const pod = podFromWorkload(c as any);
          const r = injectPod(pod, e.relays, { mode });
          assert.equal(r.allowed, true, r.message);
          const containers = mode === 'native' ? (r.pod.spec?.initContainers ?? []) : (r.pod.spec?.containers ?? []);
          for (const n of names) {
            const sidecar = containers.find((x) => x.name === sidecarName(n));
            assert.ok(sidecar, `sidecar ${sidecarName(n)}`);
            assert.deepEqual(
              sidecar.ports?.map((p) => [p.containerPort, p.protocol]),
              [[relays.get(n)!.listenPort, relays.get(n)!.protocol]],
            );
            assert.ok(
              (r.pod.spec?.volumes ?? []).some(
                (v: any) => v.name === volumeName(n) && v.hostPath?.path === `/run/socat-relay/${n}`,
              ),
            );
          }
          assert.equal(r.pod.metadata?.annotations?.[INJECTED_ANNOTATION], names.join(','));
          assert.deepEqual(judgeSidecarPolicy(r.pod), { matched: true });
          // A second pass (reinvocation) changes nothing.
          const again = injectPod(r.pod, e.relays, { mode });
          assert.deepEqual(again.pod, r.pod);
        });
      }
    }
    test('kubectl kustomize renders the example offline', { skip: skipWithout('kubectl') }, async () => {
      const objs = await kustomize(e.dir);
      assert.deepEqual(
        objs.map((o) => `${o.kind}/${o.metadata.name}`).sort(),
        e.objects.map((o) => `${o.kind}/${o.metadata.name}`).sort(),
      );
    });
  });
}

/** 127.0.0.1 ports that a Prometheus config in the example's ConfigMaps scrapes, by job. */
function scrapeTargets(e: Example): Map<string, { port: number; scheme: string; token: boolean }[]> {
  const out = new Map<string, { port: number; scheme: string; token: boolean }[]>();
  for (const cm of e.objects.filter((o) => o.kind === 'ConfigMap')) {
    for (const [key, text] of Object.entries(cm.data as Record<string, string>)) {
      const cfg = parseYaml(text) as { scrape_configs?: any[] } | null;
      for (const job of cfg?.scrape_configs ?? []) {
        for (const sc of job.static_configs ?? []) {
          for (const t of sc.targets as string[]) {
            const m = /^127\.0\.0\.1:(\d+)$/.exec(t);
            assert.ok(m, `${cm.metadata.name}/${key}: job ${job.job_name} scrapes ${t}, not the pod's loopback`);
            const list = out.get(`${cm.metadata.name}/${key}`) ?? [];
            list.push({
              port: Number(m[1]),
              scheme: job.scheme ?? 'http',
              token: Boolean(job.authorization?.credentials_file),
            });
            out.set(`${cm.metadata.name}/${key}`, list);
          }
        }
      }
    }
  }
  return out;
}

/**
 * Where each consumer's pods may run on MULTI_NODE (cp-1: control plane, tainted NoSchedule;
 * worker-docker: example.com/docker=true; worker-2), worked out by hand from its manifest and its
 * relays' nodeSelector: `template` before the webhook (for a DaemonSet: the nodes it makes pods for),
 * `injected` after. A new example consumer needs its line here.
 */
const LANDS_ON: Record<string, { template: string[]; injected: string[] }> = {
  // Tolerates every NoSchedule taint; its relay has no nodeSelector.
  'agent-metrics: DaemonSet socat-relay-agent-scraper': {
    template: ['cp-1', 'worker-docker', 'worker-2'],
    injected: ['cp-1', 'worker-docker', 'worker-2'],
  },
  'docker-metrics: DaemonSet docker-metrics-agent': { template: ['worker-docker'], injected: ['worker-docker'] },
  // nodeSelector control-plane + its toleration; the relays select control-plane nodes as well.
  'kubeadm-control-plane: DaemonSet prometheus-agent-control-plane': { template: ['cp-1'], injected: ['cp-1'] },
  // control-plane DoesNotExist; kube-proxy-metrics runs on every node, so nothing is added.
  'kubeadm-control-plane: DaemonSet prometheus-agent-nodes': {
    template: ['worker-docker', 'worker-2'],
    injected: ['worker-docker', 'worker-2'],
  },
  'kubeadm-control-plane/prometheus-operator: DaemonSet control-plane-metrics-gateway': {
    template: ['cp-1'],
    injected: ['cp-1'],
  },
  // No toleration: not on the tainted control plane; node-syslog runs on every node.
  'syslog-udp: Deployment log-shipper': {
    template: ['worker-docker', 'worker-2'],
    injected: ['worker-docker', 'worker-2'],
  },
};

describe(`on a cluster with workers (${MULTI_NODE.map((n) => n.name).join(', ')}): every injected consumer pod can be scheduled where its controller puts it`, () => {
  test('every example consumer has its line in the table of where it lands', () => {
    const consumers = examples.flatMap((e) => e.consumers.map((c) => `${e.name}: ${c.kind} ${c.metadata.name}`));
    assert.deepEqual(consumers.sort(), Object.keys(LANDS_ON).sort());
  });

  for (const e of examples) {
    for (const c of e.consumers) {
      test(`${e.name}: ${c.kind} ${c.metadata.name}`, () => {
        const template = podFromWorkload(c as any);
        const injected = injectPod(template, e.relays);
        assert.equal(injected.allowed, true, injected.message);
        const targets = nodesFor(template.spec as any);
        const runnable = nodesFor(injected.pod.spec as any);
        const want = LANDS_ON[`${e.name}: ${c.kind} ${c.metadata.name}`];
        if (want) assert.deepEqual({ template: targets, injected: runnable }, want);
        assert.ok(runnable.length > 0, `the injected pod fits no node: ${JSON.stringify(injected.pod.spec?.affinity)}`);
        if (c.kind === 'DaemonSet') {
          // The DaemonSet controller makes a pod for every node its template fits; the webhook then
          // adds the relays' node affinity. A target the injected pod does not fit = a pod Pending forever.
          assert.ok(targets.length > 0, 'the DaemonSet targets no node');
          assert.deepEqual(
            targets.filter((n) => !runnable.includes(n)),
            [],
            `Pending pods on ${targets.filter((n) => !runnable.includes(n)).join(', ')}: select the nodes the relays run on in the DaemonSet itself`,
          );
        }
      });
    }
  }

  test("the scheduler's rules as written out: each operator, an empty term, taints and tolerations", () => {
    const labels = { zone: 'a', cores: '8', role: '' };
    const holds: [string, string, string[] | undefined, boolean][] = [
      ['zone', 'In', ['a', 'b'], true],
      ['zone', 'In', ['b'], false],
      ['missing', 'In', [''], false],
      ['role', 'In', [''], true],
      ['zone', 'NotIn', ['b'], true],
      ['zone', 'NotIn', ['a'], false],
      ['missing', 'NotIn', ['a'], true],
      ['role', 'Exists', undefined, true],
      ['missing', 'Exists', undefined, false],
      ['missing', 'DoesNotExist', undefined, true],
      ['zone', 'DoesNotExist', undefined, false],
      ['cores', 'Gt', ['4'], true],
      ['cores', 'Gt', ['8'], false],
      ['cores', 'Lt', ['10'], true],
      ['zone', 'Gt', ['1'], false],
      ['missing', 'Lt', ['1'], false],
      ['cores', 'Gt', ['4', '5'], false],
      ['zone', 'Matches', ['a'], false],
    ];
    for (const [key, operator, values, want] of holds)
      assert.equal(
        requirementHolds({ key, operator, values }, labels),
        want,
        `${key} ${operator} ${JSON.stringify(values)}`,
      );
    const node: ClusterNode = {
      name: 'n',
      labels,
      taints: [
        { key: 'gpu', value: 'yes', effect: 'NoExecute' },
        { key: 'soft', effect: 'PreferNoSchedule' },
      ],
    };
    const terms = (...t: { key: string; operator: string; values?: string[] }[][]) => ({
      nodeAffinity: {
        requiredDuringSchedulingIgnoredDuringExecution: {
          nodeSelectorTerms: t.map((matchExpressions) => ({ matchExpressions })),
        },
      },
    });
    const fitting: [string, object, boolean][] = [
      ['no toleration of a NoExecute taint', {}, false],
      ['Exists with no key and no effect tolerates everything', { tolerations: [{ operator: 'Exists' }] }, true],
      ['the same key and value, any effect', { tolerations: [{ key: 'gpu', value: 'yes' }] }, true],
      ['another value', { tolerations: [{ key: 'gpu', value: 'no' }] }, false],
      ['another effect', { tolerations: [{ key: 'gpu', operator: 'Exists', effect: 'NoSchedule' }] }, false],
      [
        'nodeSelector with a missing key',
        { tolerations: [{ operator: 'Exists' }], nodeSelector: { zone: 'a', disk: 'ssd' } },
        false,
      ],
      [
        'terms OR-ed',
        {
          tolerations: [{ operator: 'Exists' }],
          affinity: terms([{ key: 'zone', operator: 'In', values: ['b'] }], [{ key: 'role', operator: 'Exists' }]),
        },
        true,
      ],
      [
        'expressions AND-ed',
        {
          tolerations: [{ operator: 'Exists' }],
          affinity: terms([
            { key: 'zone', operator: 'In', values: ['a'] },
            { key: 'cores', operator: 'Lt', values: ['2'] },
          ]),
        },
        false,
      ],
      [
        'a term without expressions matches no node',
        { tolerations: [{ operator: 'Exists' }], affinity: terms([]) },
        false,
      ],
    ];
    for (const [name, spec, want] of fitting) assert.equal(fits(spec, node), want, name);
  });

  test('the check can fail: a control-plane consumer DaemonSet with only a toleration would leave Pending pods on the workers', () => {
    const e = byName('kubeadm-control-plane');
    const ds = structuredClone(e.consumers.find((c) => c.metadata.name === 'prometheus-agent-control-plane')!);
    delete ds.spec.template.spec.nodeSelector;
    delete ds.spec.template.spec.affinity;
    const template = podFromWorkload(ds as any);
    const injected = injectPod(template, e.relays);
    assert.deepEqual(nodesFor(template.spec as any), ['cp-1', 'worker-docker', 'worker-2']);
    assert.deepEqual(nodesFor(injected.pod.spec as any), ['cp-1']);
  });
});

describe('the consumers are configured for the relays they consume', () => {
  for (const name of ['kubeadm-control-plane', 'docker-metrics', 'agent-metrics']) {
    test(`${name}: every Prometheus target is the listen port of a relay its pod consumes`, () => {
      const e = byName(name);
      const relays = resolved(e);
      const targets = scrapeTargets(e);
      assert.ok(targets.size > 0);
      for (const c of e.consumers) {
        const file = (c.spec.template.spec.containers[0].args as string[])
          .find((a) => a.startsWith('--config.file='))!
          .split('/')
          .pop()!;
        const cm = c.spec.template.spec.volumes.find((v: any) => v.configMap).configMap.name;
        const ports = targets.get(`${cm}/${file}`);
        assert.ok(ports, `${c.metadata.name} reads ${cm}/${file}`);
        const listening = new Set(wanted(c).map((n) => relays.get(n)!.listenPort));
        for (const p of ports)
          assert.ok(
            listening.has(p.port),
            `${c.metadata.name} scrapes 127.0.0.1:${p.port}, which none of its relays listens on`,
          );
        assert.deepEqual(
          [...listening].sort(),
          [...new Set(ports.map((p) => p.port))].sort(),
          'every consumed relay is scraped',
        );
      }
    });
  }

  test("kubeadm: scheduler and controller-manager over HTTPS with the pod's token, whose ServiceAccount may GET /metrics", () => {
    const e = byName('kubeadm-control-plane');
    const all = [...scrapeTargets(e).values()].flat();
    for (const port of [10259, 10257])
      assert.ok(
        all.some((t) => t.port === port && t.scheme === 'https' && t.token),
        `${port} https + token`,
      );
    for (const port of [2381, 10249])
      assert.ok(
        all.some((t) => t.port === port && t.scheme === 'http'),
        `${port} http`,
      );
    const role = e.objects.find((o) => o.kind === 'ClusterRole')!;
    assert.deepEqual(role.rules, [{ nonResourceURLs: ['/metrics'], verbs: ['get'] }]);
    const binding = e.objects.find((o) => o.kind === 'ClusterRoleBinding')!;
    for (const c of e.consumers) {
      const sa = c.spec.template.spec.serviceAccountName;
      assert.ok(
        binding.subjects.some((x: any) => x.name === sa && x.namespace === c.metadata.namespace),
        `${c.metadata.name}'s ServiceAccount ${sa} may GET /metrics`,
      );
    }
  });

  test('kubeadm: control-plane relays select control-plane nodes, kube-proxy every node; the injected agent lands on control-plane nodes only', () => {
    const e = byName('kubeadm-control-plane');
    const sel = Object.fromEntries(e.relays.map((r) => [r.metadata.name, r.spec.nodeSelector ?? {}]));
    const cp = { 'node-role.kubernetes.io/control-plane': '' };
    assert.deepEqual(sel, {
      'kube-scheduler': cp,
      'kube-controller-manager': cp,
      'etcd-metrics': cp,
      'kube-proxy-metrics': {},
    });
    const ds = e.consumers.find((c) => c.metadata.name === 'prometheus-agent-control-plane')!;
    assert.equal(podLabels(ds)?.[CONSUME_LABEL], 'kube-scheduler');
    assert.ok(ds.spec.template.spec.tolerations.some((t: any) => t.key === 'node-role.kubernetes.io/control-plane'));
    const injected = injectPod(podFromWorkload(ds as any), e.relays);
    const terms =
      injected.pod.spec?.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution?.nodeSelectorTerms ??
      [];
    assert.ok(
      terms.length > 0 &&
        terms.every((t: any) => t.matchExpressions.some((m: any) => m.key === 'node-role.kubernetes.io/control-plane')),
    );
  });

  test("syslog: UDP one-way into the node's 514, an unprivileged listen port, and the shipper sends there", () => {
    const e = byName('syslog-udp');
    const r = resolved(e).get('node-syslog')!;
    assert.deepEqual(
      [r.protocol, r.udpMode, r.targetHost, r.targetPort, r.listenAddress],
      ['UDP', 'OneWay', '127.0.0.1', 514, '127.0.0.1'],
    );
    assert.ok(r.listenPort >= 1024, 'the non-root sidecar cannot bind below 1024 without a sysctl');
    assert.deepEqual(validateRelay(e.relays[0]).warnings, []);
    const cfg = parseYaml(e.objects.find((o) => o.kind === 'ConfigMap')!.data['fluent-bit.yaml']);
    const out = cfg.pipeline.outputs[0];
    assert.deepEqual([out.name, out.host, out.port, out.mode], ['syslog', '127.0.0.1', r.listenPort, 'udp']);
  });

  test("agent metrics: the relay targets the agent's own listener (127.0.0.1:9465) on every node", () => {
    const e = byName('agent-metrics');
    const r = resolved(e).get('socat-relay-agent')!;
    assert.deepEqual([r.targetHost, r.targetPort, r.nodeSelector], ['127.0.0.1', 9465, {}]);
  });

  test("prometheus-operator: the PodMonitor scrapes what listens on the gateway's address, only Prometheus may connect, etcd's metrics stay behind an authenticating proxy", () => {
    const e = byName(path.join('kubeadm-control-plane', 'prometheus-operator'));
    const relays = resolved(e);
    const gw = e.consumers[0]!;
    const podSpec = gw.spec.template.spec;
    // etcd's plain-HTTP listener authenticates no one: its relay stays on the pod's loopback.
    const etcd = [...relays.values()].find((r) => r.targetPort === 2381)!;
    assert.equal(etcd.listenAddress, '127.0.0.1', "etcd's metrics never listen on the pod's address");
    const proxy = podSpec.containers.find((c: any) => c.image.includes('kube-rbac-proxy'));
    assert.ok(proxy, 'kube-rbac-proxy serves etcd');
    const flag = (name: string) =>
      (proxy.args as string[]).find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
    assert.equal(flag('upstream'), `http://127.0.0.1:${etcd.listenPort}/`, "the proxy's upstream is etcd's relay");
    assert.equal(flag('allow-paths'), '/metrics');
    const proxyPort = Number(flag('secure-listen-address')!.split(':').pop());
    assert.deepEqual(
      proxy.ports.map((p: any) => [p.name, p.containerPort]),
      [['etcd-metrics', proxyPort]],
    );
    // What listens on the pod's address: the relays on 0.0.0.0 (each authenticates itself) and the proxy.
    const open = [
      ...[...relays.values()].filter((r) => r.listenAddress === '0.0.0.0').map((r) => r.listenPort),
      proxyPort,
    ].sort();
    assert.deepEqual(open, [10257, 10259, proxyPort].sort());
    const pm = e.objects.find((o) => o.kind === 'PodMonitor')!;
    const portOf = (x: any) =>
      x.targetPort ??
      podSpec.containers.flatMap((c: any) => c.ports ?? []).find((p: any) => p.name === x.port)?.containerPort;
    assert.deepEqual(pm.spec.podMetricsEndpoints.map(portOf).sort(), open);
    for (const ep of pm.spec.podMetricsEndpoints) {
      assert.equal(ep.scheme, 'https', `${portOf(ep)}: HTTPS`);
      assert.deepEqual(ep.authorization.credentials, { name: 'control-plane-metrics-reader-token', key: 'token' });
      const relabel = (target: string) => ep.relabelings.find((r: any) => r.targetLabel === target);
      // One instance per node (the pod's node name), as the agent variant's write relabeling gives.
      assert.deepEqual(relabel('instance')?.sourceLabels, ['__meta_kubernetes_pod_node_name']);
      assert.match(relabel('instance')?.replacement, /^\$\{1\}:\d+$/);
      assert.ok(['kube-scheduler', 'kube-controller-manager', 'etcd'].includes(relabel('job')?.replacement));
    }
    // The token's ServiceAccount may GET /metrics, which kube-rbac-proxy checks with the gateway's own
    // ServiceAccount (TokenReview + SubjectAccessReview: system:auth-delegator).
    const bindings = e.objects.filter((o) => o.kind === 'ClusterRoleBinding');
    const boundTo = (sa: string, ns: string) =>
      bindings
        .filter((b) => b.subjects.some((s: any) => s.kind === 'ServiceAccount' && s.name === sa && s.namespace === ns))
        .map((b) => b.roleRef.name);
    assert.deepEqual(boundTo(podSpec.serviceAccountName, gw.metadata.namespace!), ['system:auth-delegator']);
    const secret = e.objects.find((o) => o.kind === 'Secret')!;
    assert.deepEqual(
      boundTo(secret.metadata.annotations!['kubernetes.io/service-account.name']!, secret.metadata.namespace!),
      ['socat-relay-example-metrics-reader'],
    );
    assert.equal(podSpec.automountServiceAccountToken, undefined, 'kube-rbac-proxy needs its token');
    const np = e.objects.find((o) => o.kind === 'NetworkPolicy')!;
    assert.deepEqual(np.spec.ingress[0].ports.map((p: any) => p.port).sort(), open);
    assert.deepEqual(np.spec.podSelector, gw.spec.selector);
    // Only kube-prometheus-stack's Prometheus pods, in their namespace.
    assert.deepEqual(np.spec.ingress, [
      {
        from: [
          {
            namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'monitoring' } },
            podSelector: { matchLabels: { 'app.kubernetes.io/name': 'prometheus' } },
          },
        ],
        ports: np.spec.ingress[0].ports,
      },
    ]);
    assert.equal(
      pm.metadata.labels?.release,
      'kube-prometheus-stack',
      'the label kube-prometheus-stack selects PodMonitors by',
    );
  });
});

const exec = promisify(execFile);
describe('socat-relay inject on each example consumer', () => {
  for (const e of examples) {
    const consumerFile = e.consumers.length > 0 ? findFile(e, e.consumers[0]!) : undefined;
    const relayFile = e.relays.length > 0 ? findFile(e, e.relays[0]!) : undefined;
    test(`${e.name}: inject -f ${consumerFile} --relays ${relayFile} succeeds`, async () => {
      assert.ok(consumerFile && relayFile);
      let out: { stdout: string; stderr: string };
      try {
        out = await exec(
          process.execPath,
          [
            '--import',
            'tsx',
            'cli/main.ts',
            'inject',
            '-f',
            consumerFile,
            '--relays',
            relayFile,
            '-n',
            e.consumers[0]!.metadata.namespace ?? 'default',
          ],
          { cwd: REPO, timeout: 60_000 },
        );
      } catch (err) {
        const x = err as { code?: number; stderr?: string };
        throw new Error(`inject exited ${x.code}: ${x.stderr}`, { cause: err });
      }
      const docs = parseDocuments(out.stdout) as KubeObject[];
      const injected = docs.find(
        (d) => d.kind === e.consumers[0]!.kind && d.metadata.name === e.consumers[0]!.metadata.name,
      );
      assert.ok(injected, 'the consumer is printed');
      const annotations =
        injected.kind === 'Pod' ? injected.metadata.annotations : injected.spec.template.metadata.annotations;
      assert.equal(annotations?.[INJECTED_ANNOTATION], wanted(e.consumers[0]!).join(','));
    });
  }
});

function findFile(e: Example, o: KubeObject): string | undefined {
  return e.loaded.find((l) => l.object === o)?.file;
}
