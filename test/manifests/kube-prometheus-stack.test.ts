// The examples beside kube-prometheus-stack, the chart most clusters monitor with: each example in a
// namespace of its own (never a shared one such as `monitoring`, where a `restricted` label would
// refuse kube-prometheus-stack's node-exporter and a `kubectl delete -k` would take everything with
// it), the values file that turns kube-prometheus-stack's own control-plane scrapes off and keeps its
// alerts and dashboards, which select the job names our scrapes carry, and one `instance` per node
// instead of every node's `127.0.0.1:<port>` — shown with real Prometheus processes: two agents
// ("nodes") scraping the same loopback port, remote-writing with the example's write relabeling into
// a third Prometheus, whose series carry <node>:<port>.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { Cleanup } from '../../bench/lib/proc.js';
import { freePort, waitUntil } from '../../bench/lib/net.js';
import { query, startPrometheus, type Prometheus } from '../../bench/scrape/prometheus.js';
import { validateRelay } from '../../relay/validate.js';
import { isHelmValues, MANIFESTS } from '../harness/manifest-load.js';
import { required } from '../harness/required.js';
import { loadExamples } from '../harness/examples-catalog.js';

const examples = loadExamples();
const KPS_VALUES = path.join(MANIFESTS, 'examples', 'kubeadm-control-plane', 'kube-prometheus-stack-values.yaml');
/** Where kube-prometheus-stack (release kube-prometheus-stack, namespace monitoring) receives remote writes. */
const KPS_WRITE_URL = 'http://kube-prometheus-stack-prometheus.monitoring.svc:9090/api/v1/write';
/** Namespaces other charts or the cluster itself live in. */
const SHARED = ['default', 'kube-system', 'kube-public', 'kube-node-lease', 'monitoring', 'logging', 'observability'];

interface AgentConfig {
  global?: { external_labels?: Record<string, string> };
  scrape_configs: { job_name: string; static_configs?: { targets: string[] }[] }[];
  remote_write?: { url: string; write_relabel_configs?: Record<string, unknown>[] }[];
}
/** Every Prometheus configuration in the examples' ConfigMaps, by ConfigMap/key. */
const agentConfigs = (): Map<string, AgentConfig> =>
  new Map(
    examples.flatMap((e) =>
      e.objects
        .filter((o) => o.kind === 'ConfigMap')
        .flatMap((cm) =>
          Object.entries(cm.data as Record<string, string>)
            .map(([k, text]) => [`${e.name}: ${cm.metadata.name}/${k}`, parseYaml(text) as AgentConfig] as const)
            .filter(([, cfg]) => Array.isArray(cfg?.scrape_configs)),
        ),
    ),
  );

describe('each example in a namespace of its own', () => {
  for (const e of examples) {
    test(`${e.name}: its own restricted namespace, every object and every Relay's consumers in it`, () => {
      const namespaces = e.objects.filter((o) => o.kind === 'Namespace');
      assert.equal(namespaces.length, 1, 'one Namespace');
      const ns = namespaces[0]!;
      const name = ns.metadata.name;
      assert.ok(!SHARED.includes(name), `${name} is a shared namespace`);
      assert.equal(ns.metadata.labels?.['pod-security.kubernetes.io/enforce'], 'restricted');
      for (const o of e.objects.filter((x) => x.metadata.namespace !== undefined))
        assert.equal(o.metadata.namespace, name, `${o.kind}/${o.metadata.name}`);
      for (const r of e.relays) {
        assert.deepEqual(r.spec.consumers, { namespaces: [name] }, `${r.metadata.name}: only the example's namespace`);
        assert.deepEqual(validateRelay(r).problems, []);
      }
    });
  }
});

describe('beside kube-prometheus-stack', () => {
  test('every Prometheus agent remote-writes to kube-prometheus-stack with one instance per node: <node>:<port>', () => {
    const configs = agentConfigs();
    assert.ok(configs.size >= 4, [...configs.keys()].join());
    for (const [where, cfg] of configs) {
      assert.equal(cfg.global?.external_labels?.node, '${NODE_NAME}', `${where}: the node's name as an external label`);
      for (const job of cfg.scrape_configs)
        for (const sc of job.static_configs ?? [])
          for (const t of sc.targets) assert.match(t, /^127\.0\.0\.1:\d+$/, `${where}: ${job.job_name}`);
      assert.deepEqual(
        cfg.remote_write?.map((w) => [w.url, w.write_relabel_configs]),
        [
          [
            KPS_WRITE_URL,
            [
              {
                source_labels: ['node', 'instance'],
                regex: '(.+);127\\.0\\.0\\.1:(\\d+)',
                target_label: 'instance',
                replacement: '${1}:${2}',
              },
            ],
          ],
        ],
        where,
      );
    }
  });

  test("the values file turns off kube-prometheus-stack's own scrapes of the four components, keeps their alerts and dashboards, and receives remote writes", () => {
    const values = parseYaml(readFileSync(KPS_VALUES, 'utf8')) as Record<string, any>;
    assert.ok(isHelmValues(KPS_VALUES), 'left out of the manifests the schema checks read');
    for (const c of ['kubeScheduler', 'kubeControllerManager', 'kubeEtcd', 'kubeProxy'])
      assert.deepEqual(
        values[c],
        { enabled: true, service: { enabled: false }, serviceMonitor: { enabled: false } },
        `${c}: enabled (its rules and dashboards), without its Service and ServiceMonitor`,
      );
    assert.equal(values.prometheus?.prometheusSpec?.enableRemoteWriteReceiver, true);
  });

  test("our scrapes carry the job names kube-prometheus-stack's rules select, in both variants", () => {
    // kube-prometheus-stack's rules and dashboards: job="kube-scheduler", "kube-controller-manager",
    // "kube-proxy", and job=~".*etcd.*".
    const selects = (jobs: string[]) => {
      assert.ok(jobs.includes('kube-scheduler'), jobs.join());
      assert.ok(jobs.includes('kube-controller-manager'), jobs.join());
      assert.ok(
        jobs.some((j) => /^.*etcd.*$/.test(j)),
        jobs.join(),
      );
    };
    const cp = agentConfigs().get('kubeadm-control-plane: prometheus-agent/control-plane.yml')!;
    const agentJobs = cp.scrape_configs.map((j) => j.job_name);
    selects(agentJobs);
    assert.ok(agentJobs.includes('kube-proxy'));
    const po = examples.find((e) => e.name.endsWith('prometheus-operator'))!;
    const pm = po.objects.find((o) => o.kind === 'PodMonitor')!;
    selects(
      pm.spec.podMetricsEndpoints.map(
        (ep: any) => ep.relabelings.find((r: any) => r.targetLabel === 'job' && !r.sourceLabels).replacement,
      ),
    );
  });
});

const PROMETHEUS = (process.env.PATH ?? '')
  .split(':')
  .map((d) => path.join(d, 'prometheus'))
  .find((p) => existsSync(p));
const skip = required(
  PROMETHEUS ? null : 'prometheus is not installed (Debian package prometheus; scripts/setup.sh installs it)',
);

describe("one instance per node, on real Prometheus processes (Debian's)", { skip }, () => {
  const cleanup = new Cleanup();
  const NODES = ['cp-1', 'worker-1'];
  let dir: string;
  let receiver: Prometheus;
  let server: Server;
  let targetPort: number;

  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'sr-instance-'));
    // The "kube-proxy" both agents scrape: one loopback port, as every node's sidecar gives.
    server = createServer((_req, res) => {
      res.setHeader('content-type', 'text/plain; version=0.0.4');
      res.end('kubeproxy_sync_proxy_rules_last_timestamp_seconds 1\n');
    });
    targetPort = await freePort();
    await new Promise<void>((resolve) => server.listen(targetPort, '127.0.0.1', resolve));
    const prometheus = PROMETHEUS!;
    const rxDir = path.join(dir, 'receiver');
    await mkdir(rxDir);
    receiver = await startPrometheus(
      {
        binary: prometheus,
        dir: rxDir,
        port: await freePort(),
        config: 'global: {scrape_interval: 1h}\n',
        extraArgs: ['--web.enable-remote-write-receiver'],
      },
      cleanup,
    );
    // The example's worker configuration (its kube-proxy job and its remote_write with the write
    // relabeling), with the target's port, the receiver's URL and a 1 s interval put in.
    const cfg = agentConfigs().get('kubeadm-control-plane: prometheus-agent/nodes.yml')!;
    cfg.global = { ...cfg.global, scrape_interval: '1s', scrape_timeout: '1s' } as AgentConfig['global'];
    cfg.scrape_configs[0]!.static_configs = [{ targets: [`127.0.0.1:${targetPort}`] }];
    cfg.remote_write![0]!.url = `http://${receiver.listen}/api/v1/write`;
    for (const node of NODES) {
      const d = path.join(dir, node);
      await mkdir(d);
      await startPrometheus(
        {
          binary: prometheus,
          dir: d,
          port: await freePort(),
          config: JSON.stringify(cfg),
          // Prometheus 2.x expands ${NODE_NAME} in external labels only with this flag (3.x always).
          extraArgs: ['--enable-feature=expand-external-labels'],
          env: { ...process.env, NODE_NAME: node },
        },
        cleanup,
      );
    }
  });
  after(async () => {
    await cleanup.run();
    server?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  test(
    "the receiver holds each node's kube-proxy series apart: instance <node>:<port>, node <node>",
    { timeout: 120_000 },
    async () => {
      let got: Record<string, string>[] = [];
      await waitUntil(
        'both agents\' up{job="kube-proxy"} at the receiver',
        async () => {
          got = (await query(receiver, 'up{job="kube-proxy"}')).map((s) => s.labels);
          return got.length >= NODES.length;
        },
        90_000,
        1000,
      ).catch((err: Error) => assert.fail(`${err.message}: ${JSON.stringify(got)}`));
      assert.deepEqual(got.map((l) => [l.instance, l.node]).sort(), NODES.map((n) => [`${n}:${targetPort}`, n]).sort());
    },
  );
});
