// The real-node suite: a kubelet + containerd run the agent as a static pod (manifests/node-agent/
// static-pod.yaml) and pods created through the API server, injected by our webhook, with the image
// the project's Dockerfile builds. One node for the whole file (it takes ~30 s to start); the end checks
// that nothing it made is left on the host.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ApiError, mountsUnder, netnsNames, links, nodeUnavailable, processesMentioning, skipUnlessControlPlane } from '../harness/index.js';
import { sidecarName } from '../../relay/index.js';
import { AGENT_POD, applyRelay, consumerPod, createConsumer, deletePod, startCluster, waitForPodRunning, type Cluster } from './cluster.js';
import { startNodeServices, TCP_GREETING, type NodeServices } from './services.js';

const required = process.env.CI === 'true' || process.env.REQUIRE_APISERVER === '1';
const missing = skipUnlessControlPlane() || nodeUnavailable() || false;
// In CI a missing part is a failure, not a skip.
const skip = missing && !required ? missing : false;

const ALLOWED = 'e2e-consumers';
const DENIED = 'e2e-others';
const TCP_RELAY = 'node-tcp';

describe('a real node: kubelet + containerd, the agent as a static pod, injected pods', { skip, timeout: 900_000 }, () => {
  let c: Cluster;
  let svc: NodeServices;
  let baseDir = '';
  const netnsBefore = new Set(netnsNames());

  before(async () => {
    if (missing) throw new Error(`the real-node suite is required here (CI/REQUIRE_APISERVER) but: ${missing}`);
    svc = await startNodeServices();
    c = await startCluster({ namespaces: [{ name: ALLOWED }, { name: DENIED }] });
    baseDir = c.node.dirs.base;
  });

  after(async () => {
    const ownLinks = c?.node.ownLinks() ?? [];
    await c?.stop();
    await svc?.stop();
    if (!baseDir) return;
    // Nothing left behind: processes, mounts, network namespaces, the bridge and its veths.
    assert.deepEqual(processesMentioning(baseDir).map((p) => p.cmdline.join(' ')), [], 'processes left');
    assert.deepEqual(mountsUnder(baseDir).map((m) => m.mountPoint), [], 'mounts left');
    const left = new Set(links().map((l) => l.ifname));
    assert.deepEqual(ownLinks.filter((l) => left.has(l)), [], 'bridge/veths left');
    assert.deepEqual(netnsNames().filter((n) => n.startsWith('cni-') && !netnsBefore.has(n)), [], 'pod network namespaces left');
  });

  test('the agent runs as a static pod and its mirror pod is in the API', async () => {
    const mirror = await c.cp.client.get('v1', 'Pod', c.agentMirrorPod, 'kube-system');
    assert.equal(mirror.status.phase, 'Running');
    assert.ok(mirror.metadata.annotations?.['kubernetes.io/config.mirror'], 'a mirror pod');
    assert.equal(mirror.spec.containers[0].image, c.node.image.image);
    assert.equal(mirror.metadata.labels['app.kubernetes.io/component'], 'agent');
    assert.match(mirror.metadata.name, new RegExp(`^${AGENT_POD}-`));
  });

  test('a labeled pod in an allowed namespace runs with its native sidecar and reaches the node\'s TCP service', async () => {
    await applyRelay(c, {
      apiVersion: 'socat.io/v1alpha1', kind: 'Relay', metadata: { name: TCP_RELAY },
      spec: { target: { host: '127.0.0.1', port: svc.tcpPort }, listen: { port: 8080 }, consumers: { namespaces: [ALLOWED] } },
    });
    const created = await createConsumer(c, consumerPod(c, { name: 'tcp-consumer', namespace: ALLOWED, relay: TCP_RELAY }));
    const sc = created.spec.initContainers?.find((x: { name: string }) => x.name === sidecarName(TCP_RELAY));
    assert.equal(sc?.restartPolicy, 'Always', 'injected as a native sidecar');
    await waitForPodRunning(c, ALLOWED, 'tcp-consumer');
    const before = svc.tcpConnections();
    const res = await c.node.exec(ALLOWED, 'tcp-consumer', 'app', ['sh', '-c', 'echo ping | socat -T5 - TCP:127.0.0.1:8080']);
    assert.equal(res.code, 0, `exit ${res.code}: ${res.stderr}`);
    assert.equal(res.stdout.trim(), `${TCP_GREETING}: ping`);
    assert.ok(svc.tcpConnections() > before, 'the node service saw the connection');
    // Not reachable without the relay: the pod has its own network namespace.
    const direct = await c.node.exec(ALLOWED, 'tcp-consumer', 'app', ['sh', '-c', `echo ping | socat -T2 - TCP:127.0.0.1:${svc.tcpPort}`]);
    assert.notEqual(direct.code, 0, 'the node port is not reachable directly from the pod');
  });

  test('a pod without the label gets nothing', async () => {
    const pod = consumerPod(c, { name: 'plain', namespace: ALLOWED });
    const created = await c.cp.client.create(pod);
    assert.equal(created.spec.initContainers, undefined);
    assert.equal(created.spec.volumes?.some((v: { hostPath?: unknown }) => v.hostPath), undefined);
    await waitForPodRunning(c, ALLOWED, 'plain');
    await deletePod(c, ALLOWED, 'plain');
  });

  test('a labeled pod in a namespace the relay does not allow is denied', async () => {
    const pod = consumerPod(c, { name: 'intruder', namespace: DENIED, relay: TCP_RELAY });
    await assert.rejects(c.cp.client.create(pod), (e: unknown) => e instanceof ApiError && /not allowed|namespace/i.test(e.message));
  });
});
