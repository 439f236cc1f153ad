// The kubeadm example (manifests/examples/kubeadm-control-plane) with real parts: a real kube-scheduler
// on the node's loopback, the example's kube-scheduler Relay run by the real agent, the sidecar that
// `socat-relay inject` gives a pod of the example's namespace, and a real Prometheus in that pod's
// network namespace, as the example's uid 65534, with the example's kube-scheduler scrape job and the
// token of the example's ServiceAccount (RBAC from the example, checked by the scheduler against a real
// API server). Its query API must answer up == 1.
//
// Differences from the example, all of them outside the path under test: Debian's Prometheus 2.42 in
// server mode (the example runs 3.5 in agent mode, which has no query API) with
// --enable-feature=expand-external-labels (2.x needs it for the example's ${NODE_NAME}); no remote_write;
// scrape_interval 1 s instead of 30 s; the token file at a temp path instead of the pod's service-account
// mount; the scheduler on a free port with the Relay's target.port set to it, and listen.port 10259 so the
// job's target (127.0.0.1:10259) is the example's.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { TestContext } from 'node:test';
import { parse } from 'yaml';
import { Cleanup } from '../../bench/lib/proc.js';
import { exampleObjects, exampleScraperToken, startScheduler, EXAMPLE_NAMESPACE } from '../../bench/scrape/cluster.js';
import { findScrapeParts } from '../../bench/scrape/parts.js';
import { query, startPrometheus, type Prometheus } from '../../bench/scrape/prometheus.js';
import { skipUnlessControlPlane, startControlPlane, type KubeObject } from '../harness/index.js';
import { NetNs, netnsUnavailable } from '../harness/netns.js';
import { required } from '../harness/required.js';
import { socatUnavailable, startAgent, waitFor, waitRunning, type Dirs } from '../harness/agent.js';
import { injectSidecars, startSidecar, waitListening } from '../harness/pod-netns.js';

const skip = required(
  netnsUnavailable() ?? socatUnavailable() ?? (skipUnlessControlPlane() || null) ?? findScrapeParts().missing,
);
const PREFIX = 'sr-prom';
const POD_PORT = 10259;
const NODE_NAME = 'cp-1';

const cleanup = new Cleanup();
const cleanups: (() => unknown)[] = [];
const ctx = { after: (fn: () => unknown) => cleanups.push(fn) } as unknown as TestContext;
let ns: NetNs;
let prom: Prometheus;

/** The example's Prometheus configuration, its kube-scheduler job only, pointed at our token file. */
async function exampleScrapeConfig(tokenFile: string): Promise<string> {
  const cm = (await exampleObjects('prometheus-config.yaml')).find((o) => o.kind === 'ConfigMap') as
    { data?: Record<string, string> } | undefined;
  const text = cm?.data?.['control-plane.yml'];
  assert.ok(text, "the example's ConfigMap has control-plane.yml");
  const cfg = parse(text) as {
    global: Record<string, unknown>;
    scrape_configs: { job_name: string; authorization?: { credentials_file?: string } }[];
    remote_write?: unknown;
  };
  const job = cfg.scrape_configs.find((j) => j.job_name === 'kube-scheduler');
  assert.ok(
    job?.authorization?.credentials_file,
    "the example's kube-scheduler job authenticates with the ServiceAccount token",
  );
  job.authorization.credentials_file = tokenFile;
  delete cfg.remote_write;
  return JSON.stringify({
    ...cfg,
    global: { ...cfg.global, scrape_interval: '1s', scrape_timeout: '1s' },
    scrape_configs: [job],
  });
}

before(async () => {
  if (skip) return;
  const parts = findScrapeParts().parts!;
  const root = await mkdtemp(path.join(os.tmpdir(), `${PREFIX}-`));
  await chmod(root, 0o755);
  cleanups.push(() => rm(root, { recursive: true, force: true }));
  cleanups.push(() => cleanup.run());
  const cp = await startControlPlane();
  cleanup.add('stop the control plane', () => cp.stop());
  const tokenFile = path.join(root, 'token');
  await exampleScraperToken(cp, tokenFile);
  const sched = await startScheduler(parts, cp, root, tokenFile, cleanup);

  // The example's Relay, as the reconcile writes it to the node (the object itself), retargeted.
  const relay = (await exampleObjects('relays.yaml')).find((o) => o.metadata.name === 'kube-scheduler') as
    (KubeObject & { spec: { target: { port: number }; listen?: { port: number } } }) | undefined;
  assert.ok(relay, 'the example has a kube-scheduler Relay');
  relay.spec.target.port = sched.port;
  relay.spec.listen = { port: POD_PORT };
  const dirs: Dirs = { root, configDir: path.join(root, 'config'), socketDir: path.join(root, 'run') };
  await mkdir(dirs.configDir);
  await mkdir(dirs.socketDir, { mode: 0o755 });
  await writeFile(path.join(dirs.configDir, 'kube-scheduler.json'), JSON.stringify(relay));
  await startAgent(ctx, dirs);
  await waitRunning(dirs.socketDir, 'kube-scheduler');

  const [sidecar] = await injectSidecars(root, [relay], ['kube-scheduler'], dirs.socketDir, EXAMPLE_NAMESPACE);
  ns = NetNs.create(PREFIX);
  cleanups.push(() => ns.delete());
  startSidecar(ns, sidecar!);
  await waitListening(ns, 'tcp', POD_PORT);

  const promDir = path.join(root, 'prometheus');
  await mkdir(promDir, { mode: 0o755 });
  prom = await startPrometheus(
    {
      binary: parts.prometheus,
      dir: promDir,
      port: 9090,
      netns: ns.name,
      uid: 65534,
      config: await exampleScrapeConfig(tokenFile),
      extraArgs: ['--enable-feature=expand-external-labels'],
      env: { ...process.env, NODE_NAME },
    },
    cleanup,
  );
});

after(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

test(
  "a real Prometheus with the kubeadm example's Relay and scrape job scrapes a real kube-scheduler through the relay: up == 1",
  { skip, timeout: 240_000 },
  async () => {
    const up = await waitFor(
      'up{job="kube-scheduler"} == 1 in Prometheus',
      async () => {
        const r = await query(prom, 'up{job="kube-scheduler"}');
        return r[0]?.values[0]?.[1] === 1 ? r[0] : undefined;
      },
      60_000,
    );
    assert.equal(up.labels.instance, `127.0.0.1:${POD_PORT}`, "scraped at the example's target, inside the pod");
    const samples = await query(prom, 'scrape_samples_scraped{job="kube-scheduler"}');
    assert.ok(
      (samples[0]?.values[0]?.[1] ?? 0) > 100,
      `the whole /metrics page came through (${samples[0]?.values[0]?.[1]} samples)`,
    );
    const sched = await query(prom, 'count(scheduler_schedule_attempts_total) or count(scheduler_pending_pods)');
    assert.ok((sched[0]?.values[0]?.[1] ?? 0) > 0, "kube-scheduler's own metrics are stored");
  },
);
