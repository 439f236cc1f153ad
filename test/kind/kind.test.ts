// End to end on a real cluster: kind (Docker), cert-manager, our manifests (kubectl apply -k), the node
// agent as a static pod, a Relay to a service that listens only on the node's loopback, and a labeled
// pod that scrapes it through the injected sidecar. Skips where there is no Docker engine.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseDocuments } from '../../relay/index.js';
import { REPO_ROOT } from '../harness/binaries.js';
import { registerCleanup } from '../harness/cleanup.js';
import { DEFAULT_IMAGE, sidecarImageOf } from '../../lib/image.js';
import { CERT_MANAGER_URL, kindUnavailable, run } from './tools.js';

const IMAGE = DEFAULT_IMAGE;
const SIDECAR_IMAGE = sidecarImageOf(DEFAULT_IMAGE);

const skip = kindUnavailable();
const CLUSTER = `socat-relay-e2e-${process.pid}`;
const NODE = `${CLUSTER}-control-plane`;
const FIXTURE = path.join(REPO_ROOT, 'test', 'fixtures', 'kind', 'node-metrics.yaml');
const MIN = 60_000;

/** The node agent's static-pod manifest from manifests/node-agent/ (the first file holding a Pod). */
function agentStaticPod(): string {
  const dir = path.join(REPO_ROOT, 'manifests', 'node-agent');
  for (const f of readdirSync(dir).filter((e) => /\.ya?ml$/.test(e) && !e.startsWith('kustomization')).sort()) {
    const text = readFileSync(path.join(dir, f), 'utf8');
    if (parseDocuments(text, f).some((d) => (d as { kind?: string }).kind === 'Pod')) return path.join(dir, f);
  }
  throw new Error(`no static Pod manifest in ${dir}`);
}

describe('kind: install with cert-manager, relay a node-loopback service into a labeled pod', { timeout: 30 * MIN }, () => {
  let dir = '';
  let kubeconfig = '';
  let unregister: () => void = () => {};
  const kubectl = (args: string[], timeoutMs = 3 * MIN) => run('kubectl', ['--kubeconfig', kubeconfig, ...args], { timeoutMs });

  before(async () => {
    if (skip) return;
    dir = mkdtempSync(path.join(os.tmpdir(), 'socat-relay-kind-'));
    kubeconfig = path.join(dir, 'kubeconfig');
    // Deleted even when the run is interrupted; `kind delete` of a missing cluster is a no-op.
    unregister = registerCleanup(() => {
      try {
        execFileSync('kind', ['delete', 'cluster', '--name', CLUSTER], { stdio: 'ignore', timeout: 120_000 });
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
    // Always built (the layer cache makes an unchanged build quick): an image left from older sources
    // under the same tag must never be what the suite tests. Both targets: consumer pods run the sidecar.
    await run('docker', ['build', '-t', IMAGE, REPO_ROOT], { timeoutMs: 15 * MIN });
    await run('docker', ['build', '--target', 'sidecar', '-t', SIDECAR_IMAGE, REPO_ROOT], { timeoutMs: 15 * MIN });
    await run('kind', ['create', 'cluster', '--name', CLUSTER, '--kubeconfig', kubeconfig, '--wait', '180s'], { timeoutMs: 6 * MIN });
    await run('kind', ['load', 'docker-image', IMAGE, SIDECAR_IMAGE, '--name', CLUSTER], { timeoutMs: 5 * MIN });

    await kubectl(['apply', '--server-side', '-f', CERT_MANAGER_URL]);
    for (const d of ['cert-manager', 'cert-manager-cainjector', 'cert-manager-webhook']) {
      await kubectl(['-n', 'cert-manager', 'rollout', 'status', `deployment/${d}`, '--timeout=240s'], 5 * MIN);
    }
    // The node agent runs as a static pod: the kubelet picks it up from its manifests folder.
    await run('docker', ['cp', agentStaticPod(), `${NODE}:/etc/kubernetes/manifests/socat-relay-agent.yaml`]);
    // cert-manager's webhook may need a moment after rollout before it admits Certificates: retry.
    await retry(() => kubectl(['apply', '--server-side', '-k', path.join(REPO_ROOT, 'manifests')]), 2 * MIN);
    await kubectl(['-n', 'socat-relay-system', 'rollout', 'status', 'daemonset/socat-relay-controller', '--timeout=240s'], 5 * MIN);
  });

  after(async () => {
    if (skip) return;
    await run('kind', ['delete', 'cluster', '--name', CLUSTER], { timeoutMs: 3 * MIN }).catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
    unregister();
  });

  test('cert-manager filled both webhook configurations with a caBundle', { skip }, async () => {
    for (const kind of ['mutatingwebhookconfiguration', 'validatingwebhookconfiguration']) {
      const bundle = await kubectl(['get', kind, 'socat-relay', '-o', 'jsonpath={.webhooks[0].clientConfig.caBundle}']);
      assert.match(bundle, /^[A-Za-z0-9+/=]{100,}$/, `${kind} caBundle`);
    }
  });

  test('a labeled pod scrapes the node-loopback-only metrics through the injected sidecar', { skip }, async () => {
    // The node service and the Relay first; the consumer once the Relay is ready on the node.
    const docs = readFileSync(FIXTURE, 'utf8');
    writeFileSync(path.join(dir, 'all.yaml'), docs);
    await retry(() => kubectl(['apply', '--server-side', '-f', path.join(dir, 'all.yaml')]), 2 * MIN);
    await kubectl(['wait', '--for=jsonpath={.status.readyNodes}=1', 'relay/node-metrics', '--timeout=180s'], 4 * MIN);
    await kubectl(['-n', 'e2e', 'wait', '--for=jsonpath={.status.phase}=Succeeded', 'pod/scraper', '--timeout=240s'], 5 * MIN)
      .catch(async (err: Error) => {
        const describe = await kubectl(['-n', 'e2e', 'describe', 'pod/scraper']).catch(() => '');
        throw new Error(`${err.message}\n${describe}`);
      });
    const pod = JSON.parse(await kubectl(['-n', 'e2e', 'get', 'pod/scraper', '-o', 'json'])) as { spec: { initContainers?: { name: string }[] }; metadata: { annotations?: Record<string, string> } };
    assert.ok(pod.spec.initContainers?.some((c) => c.name === 'socat-node-metrics'), 'native sidecar injected (Kubernetes >= 1.29)');
    assert.equal(pod.metadata.annotations?.['socat.io/injected'], 'node-metrics');
    const logs = await kubectl(['-n', 'e2e', 'logs', 'pod/scraper', '-c', 'scrape']);
    assert.match(logs, /direct 127\.0\.0\.1:19100 reachable: false/, 'the node port is not reachable from the pod without the relay');
    assert.match(logs, /^node_loopback_up 1$/m);
  });
});

async function retry<T>(fn: () => Promise<T>, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await fn();
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 5000));
    }
  }
}

