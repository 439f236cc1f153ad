// The real-node suite: a kubelet + containerd run the agent as a static pod (manifests/node-agent/
// static-pod.yaml) and pods created through the API server, injected by our webhook, with the images
// the project's Dockerfile builds. One node for the whole file (it takes ~30 s to start); the tests run
// in order on it, and the end checks that nothing it made is left on the host.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import {
  ApiError, applyAll, killPids, links, mountsUnder, netnsNames, nodeUnavailable, processesMentioning, readManifests, skipUnlessControlPlane, waitFor,
} from '../harness/index.js';
import { pluginPaths } from '../../node-agent/csi/server.js';
import { sidecarName } from '../../relay/index.js';
import { findRelaySocket } from '../support/relay-socket.js';
import {
  AGENT_POD, applyRelay, consumerPod, createConsumer, deletePod, startCluster, waitForPodRunning, type Cluster,
} from '../harness/index.js';
import { startNodeServices, TCP_GREETING, type NodeServices } from './services.js';

const required = process.env.CI === 'true' || process.env.REQUIRE_APISERVER === '1';
const missing = skipUnlessControlPlane() || nodeUnavailable() || false;
// In CI a missing part is a failure, not a skip.
const skip = missing && !required ? missing : false;

const ALLOWED = 'e2e-consumers';
const DENIED = 'e2e-others';
const RESTRICTED = 'e2e-restricted';
const TCP = 'node-tcp';
const UDP_ONE_WAY = 'node-syslog';
const UDP_RR = 'node-dns';
const CONSUMER = 'consumer';
const TCP_PORT = 8080;
const UDP_ONE_WAY_PORT = 5514;
const UDP_RR_PORT = 5353;

type AnyObj = Record<string, any>;

describe('a real node: kubelet + containerd, the agent as a static pod, injected pods', { skip, timeout: 1_200_000 }, () => {
  let c: Cluster;
  let svc: NodeServices;
  let baseDir = '';
  const netnsBefore = new Set(netnsNames());
  // The CNI bridge plugin names host-side veths veth<8 hex>.
  const cniVeth = /^veth[0-9a-f]{8}$/;
  const vethsBefore = new Set(links().map((l) => l.ifname).filter((n) => cniVeth.test(n)));

  const inApp = (script: string, timeoutMs = 30_000) => c.node.exec(ALLOWED, CONSUMER, 'app', ['sh', '-c', script], { timeoutMs });
  const tcpRequest = (word: string) => inApp(`echo ${word} | socat -T5 - TCP:127.0.0.1:${TCP_PORT}`);
  /** Retries a TCP request until the greeting comes back (after a fault the relay takes a moment). */
  const tcpWorks = (what: string, timeoutMs = 60_000) =>
    waitFor(what, async () => {
      const r = await tcpRequest('again');
      return r.code === 0 && r.stdout.trim() === `${TCP_GREETING}: again` ? r : undefined;
    }, { timeoutMs, intervalMs: 1000 });
  const agentContainer = () => c.node.containerId('kube-system', c.agentMirrorPod, 'agent');
  const relayProcess = async (relay: string) => {
    const pids = await c.node.containerPids(await agentContainer());
    return pids.find((p) => {
      try {
        const argv = readFileSync(`/proc/${p}/cmdline`, 'utf8').split('\0');
        return argv[0]?.endsWith('socat') && argv.some((a) => a.startsWith('UNIX-LISTEN:') && a.includes(`/${relay}/`));
      } catch {
        return false;
      }
    });
  };

  before(async () => {
    if (missing) throw new Error(`the real-node suite is required here (CI/REQUIRE_APISERVER) but: ${missing}`);
    svc = await startNodeServices();
    c = await startCluster({
      namespaces: [{ name: ALLOWED }, { name: DENIED }, { name: RESTRICTED, labels: { 'pod-security.kubernetes.io/enforce': 'restricted' } }],
    });
    baseDir = c.node.dirs.base;
    const relay = (name: string, spec: AnyObj) => ({ apiVersion: 'socat.io/v1alpha1', kind: 'Relay', metadata: { name }, spec: { ...spec, consumers: { namespaces: [ALLOWED, RESTRICTED] } } });
    await applyRelay(c, relay(TCP, { target: { host: '127.0.0.1', port: svc.tcpPort }, listen: { port: TCP_PORT } }));
    await applyRelay(c, relay(UDP_ONE_WAY, { protocol: 'UDP', udp: { mode: 'OneWay' }, target: { host: '127.0.0.1', port: svc.udpSinkPort }, listen: { port: UDP_ONE_WAY_PORT } }));
    await applyRelay(c, relay(UDP_RR, { protocol: 'UDP', udp: { mode: 'RequestReply', replyTimeoutSeconds: 2 }, target: { host: '127.0.0.1', port: svc.udpEchoPort }, listen: { port: UDP_RR_PORT } }));
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
    assert.deepEqual([...left].filter((n) => cniVeth.test(n) && !vethsBefore.has(n)), [], 'new CNI veths left');
    assert.deepEqual(netnsNames().filter((n) => n.startsWith('cni-') && !netnsBefore.has(n)), [], 'pod network namespaces left');
  });

  test('the agent runs as a static pod and its mirror pod is in the API', async () => {
    const mirror = await c.cp.client.get('v1', 'Pod', c.agentMirrorPod, 'kube-system');
    assert.equal(mirror.status.phase, 'Running');
    assert.ok(mirror.metadata.annotations?.['kubernetes.io/config.mirror'], 'a mirror pod');
    assert.equal(mirror.metadata.labels['app.kubernetes.io/component'], 'agent');
    assert.match(mirror.metadata.name, new RegExp(`^${AGENT_POD}-`));
    for (const ct of mirror.spec.containers) assert.equal(ct.image, c.node.image.image);
  });

  test('a labeled pod in an allowed namespace runs with its native sidecars (one per relay)', async () => {
    const created = await createConsumer(c, consumerPod(c, { name: CONSUMER, namespace: ALLOWED, relay: TCP, moreRelays: [UDP_ONE_WAY, UDP_RR] }));
    for (const r of [TCP, UDP_ONE_WAY, UDP_RR]) {
      const sc = created.spec.initContainers?.find((x: { name: string }) => x.name === sidecarName(r));
      assert.equal(sc?.restartPolicy, 'Always', `${r}: injected as a native sidecar`);
      assert.equal(sc?.image, c.node.image.sidecarImage);
    }
    await waitForPodRunning(c, ALLOWED, CONSUMER);
  });

  test('TCP: the app reaches the node\'s loopback-only service at 127.0.0.1:PORT, and not directly', async () => {
    const before = svc.tcpConnections();
    const res = await tcpRequest('ping');
    assert.equal(res.code, 0, `exit ${res.code}: ${res.stderr}`);
    assert.equal(res.stdout.trim(), `${TCP_GREETING}: ping`);
    assert.ok(svc.tcpConnections() > before, 'the node service saw the connection');
    const direct = await inApp(`echo ping | socat -T2 - TCP:127.0.0.1:${svc.tcpPort}`);
    assert.notEqual(direct.code, 0, 'the node port is not reachable directly from the pod');
  });

  test('UDP one-way: datagrams from the app arrive at the node\'s service, boundaries kept', async () => {
    const res = await inApp(`for m in first second; do printf "syslog-$m" | socat -u - UDP-SENDTO:127.0.0.1:${UDP_ONE_WAY_PORT}; done`);
    assert.equal(res.code, 0, res.stderr);
    await waitFor('both datagrams at the node', () => svc.received.includes('syslog-first') && svc.received.includes('syslog-second'), { timeoutMs: 15_000 });
  });

  test('UDP request/reply: the app\'s query gets the node service\'s answer', async () => {
    const res = await inApp(`printf query-1 | socat -T3 - UDP:127.0.0.1:${UDP_RR_PORT}`);
    assert.equal(res.code, 0, res.stderr);
    assert.equal(res.stdout, 'reply:query-1');
  });

  test('the sidecar runs as uid/gid 65532, no capabilities, no privilege escalation, read-only root', async () => {
    const id = await c.node.containerId(ALLOWED, CONSUMER, sidecarName(TCP));
    const [pid] = await c.node.containerPids(id);
    assert.ok(pid, 'the sidecar has a process');
    // What the kernel says about the sidecar's own process, read on the host.
    const status = Object.fromEntries(readFileSync(`/proc/${pid}/status`, 'utf8').trim().split('\n').map((l) => l.split(/:\s*/, 2) as [string, string]));
    assert.deepEqual(status.Uid!.split(/\s+/), ['65532', '65532', '65532', '65532']);
    assert.deepEqual(status.Gid!.split(/\s+/), ['65532', '65532', '65532', '65532']);
    for (const k of ['CapInh', 'CapPrm', 'CapEff', 'CapBnd', 'CapAmb']) assert.equal(BigInt(`0x${status[k]}`), 0n, `${k} = ${status[k]}`);
    assert.equal(status.NoNewPrivs, '1');
    assert.match(readFileSync(`/proc/${pid}/cmdline`, 'utf8'), /^\/usr\/bin\/socat\0|^socat\0/);
    const root = readFileSync(`/proc/${pid}/mountinfo`, 'utf8').split('\n').find((l) => l.split(' ')[4] === '/');
    assert.ok(root, 'a root mount');
    assert.match(root!.split(' ')[5]!, /^ro\b/, `root mounted read-only: ${root}`);
    // The relay's folder is mounted read-only too, and the sidecar reached its 0660 socket (TCP above).
    const relayMount = readFileSync(`/proc/${pid}/mountinfo`, 'utf8').split('\n').find((l) => l.split(' ')[4] === `/run/socat-relay/${TCP}`);
    assert.match(relayMount?.split(' ')[5] ?? '', /^ro\b/, `relay folder read-only: ${relayMount}`);
  });

  test('fault: the relay\'s socat is killed → the agent brings it back and the app\'s next connection works', async () => {
    const pid = await relayProcess(TCP);
    assert.ok(pid, 'the relay\'s socat (UNIX-LISTEN on its socket) runs in the agent container');
    killPids([pid!]);
    await waitFor('a new socat for the relay', async () => {
      const p = await relayProcess(TCP);
      return p !== undefined && p !== pid ? p : undefined;
    }, { timeoutMs: 30_000, intervalMs: 500 });
    await tcpWorks('TCP through the relay after the socat restart');
  });

  test('fault: the agent container is killed → the kubelet restarts it and the sidecar\'s next connection works', async () => {
    const id = await agentContainer();
    const [pid] = await c.node.containerPids(id);
    const restartsBefore = (await c.cp.client.get('v1', 'Pod', c.agentMirrorPod, 'kube-system')).status.containerStatuses.find((s: AnyObj) => s.name === 'agent').restartCount;
    killPids([pid!]);
    await waitFor('the kubelet to restart the agent container', async () => {
      const p = await c.cp.client.get('v1', 'Pod', c.agentMirrorPod, 'kube-system');
      const st = p.status.containerStatuses.find((s: AnyObj) => s.name === 'agent');
      return st.restartCount > restartsBefore && st.state?.running ? st : undefined;
    }, { timeoutMs: 90_000, intervalMs: 1000 });
    assert.notEqual(await agentContainer(), id, 'a new container');
    await tcpWorks('TCP through the relay after the agent restart', 90_000);
    // The sidecar itself did not need a restart: it mounts the folder, not the socket file.
    const pod = await c.cp.client.get('v1', 'Pod', CONSUMER, ALLOWED);
    assert.equal(pod.status.initContainerStatuses.find((s: AnyObj) => s.name === sidecarName(TCP)).restartCount, 0);
  });

  test('CSI: a labeled pod in a restricted namespace gets its relay through the kubelet\'s CSI calls; a namespace the relay does not allow gets no mount', async () => {
    const mirror = await c.cp.client.get('v1', 'Pod', c.agentMirrorPod, 'kube-system');
    assert.ok(mirror.spec.containers.some((x: AnyObj) => x.name === 'csi'), 'the static pod runs the CSI plugin');
    await applyAll(c.cp.client, readManifests('csi-driver'));
    await waitFor('the kubelet to register csi.socat.io', async () => {
      const cn = await c.cp.client.getOrUndefined('storage.k8s.io/v1', 'CSINode', c.node.name);
      return cn?.spec?.drivers?.some((d: AnyObj) => d.name === 'csi.socat.io');
    }, { timeoutMs: 60_000, intervalMs: 500 });
    // The webhook in CSI mode: the relay's folder comes as a read-only csi.socat.io ephemeral volume,
    // which the restricted Pod Security level allows (a hostPath it refuses).
    await c.restartController({ SOCAT_RELAY_VOLUME_SOURCE: 'csi' });
    const created = await createConsumer(c, consumerPod(c, { name: 'csi-consumer', namespace: RESTRICTED, relay: TCP }));
    const vol = created.spec.volumes?.find((v: AnyObj) => v.name === sidecarName(TCP));
    assert.equal(vol?.csi?.driver, 'csi.socat.io', `injected volume: ${JSON.stringify(vol)}`);
    assert.equal(vol?.hostPath, undefined);
    await waitForPodRunning(c, RESTRICTED, 'csi-consumer');
    const res = await c.node.exec(RESTRICTED, 'csi-consumer', 'app', ['sh', '-c', `echo csi | socat -T5 - TCP:127.0.0.1:${TCP_PORT}`]);
    assert.equal(res.stdout.trim(), `${TCP_GREETING}: csi`, res.stderr);
    const podUid = created.metadata.uid as string;
    const csiMounts = () => mountsUnder(`${c.node.dirs.kubeletRoot}/pods/`).filter((m) => m.mountPoint.includes('/volumes/kubernetes.io~csi/'));
    assert.ok(csiMounts().some((m) => m.mountPoint.includes(podUid)), 'the plugin\'s bind mount under the kubelet\'s pod folder');
    // The plugin decides on the node too: a pod that carries the volume itself (no label, so no
    // webhook) in a namespace the relay does not allow gets FailedMount and no mount.
    const intruder = consumerPod(c, { name: 'csi-intruder', namespace: DENIED });
    intruder.spec.volumes = [{ name: 'relay', csi: { driver: 'csi.socat.io', readOnly: true, volumeAttributes: { relay: TCP } } }];
    intruder.spec.containers[0].volumeMounts = [{ name: 'relay', mountPath: '/relay', readOnly: true }];
    const intruderUid = (await c.cp.client.create(intruder)).metadata.uid as string;
    const failed = await waitFor('FailedMount for the intruder', async () => {
      const evs = await c.cp.client.list<AnyObj>('v1', 'Event', DENIED);
      return evs.find((e) => e.involvedObject?.name === 'csi-intruder' && e.reason === 'FailedMount');
    }, { timeoutMs: 60_000, intervalMs: 1000 });
    assert.match(failed.message, new RegExp(DENIED), failed.message);
    assert.notEqual((await c.cp.client.get('v1', 'Pod', 'csi-intruder', DENIED)).status.phase, 'Running');
    assert.equal(csiMounts().filter((m) => m.mountPoint.includes(intruderUid)).length, 0, 'no CSI mount for the intruder');
    await deletePod(c, RESTRICTED, 'csi-consumer');
    await deletePod(c, DENIED, 'csi-intruder');
    await waitFor('the CSI mount gone with the pod (NodeUnpublishVolume)', () => !csiMounts().some((m) => m.mountPoint.includes(podUid)), { timeoutMs: 60_000, intervalMs: 500 });
  });

  test('CSI: a pod without the label (no admission check) that carries the volume itself and mounts it without readOnly gets the folder read-only; with the volume not readOnly it gets no mount', async () => {
    // Runs after the CSI test above (driver registered, controller in CSI mode). Unlabeled pods are
    // neither webhook's nor policy's business: the plugin (readOnly required) and the kubelet (a
    // read-only volume is mounted read-only into every container) are what keep the folder read-only.
    // The app runs as the socket group (65532): with a writable folder it could replace the socket.
    const pod = consumerPod(c, { name: 'csi-unlabeled', namespace: RESTRICTED });
    pod.spec.volumes = [{ name: 'relay', csi: { driver: 'csi.socat.io', readOnly: true, volumeAttributes: { relay: TCP } } }];
    pod.spec.containers[0].volumeMounts = [{ name: 'relay', mountPath: '/relay', readOnly: false }];
    await c.cp.client.create(pod);
    await waitForPodRunning(c, RESTRICTED, 'csi-unlabeled');
    const res = await c.node.exec(RESTRICTED, 'csi-unlabeled', 'app', ['sh', '-c', 'ls /relay; touch /relay/x 2>&1; rm -f /relay/socket 2>&1; ls /relay']);
    assert.match(res.stdout, /Read-only file system/, `${res.stdout}\n${res.stderr}`);
    assert.deepEqual(res.stdout.split('\n').filter((l) => l === 'socket' || l === 'x'), ['socket', 'socket'], `the folder changed: ${res.stdout}`);
    const writable = consumerPod(c, { name: 'csi-writable', namespace: RESTRICTED });
    writable.spec.volumes = [{ name: 'relay', csi: { driver: 'csi.socat.io', readOnly: false, volumeAttributes: { relay: TCP } } }];
    writable.spec.containers[0].volumeMounts = [{ name: 'relay', mountPath: '/relay' }];
    await c.cp.client.create(writable);
    const failed = await waitFor('FailedMount for the writable volume', async () => {
      const evs = await c.cp.client.list<AnyObj>('v1', 'Event', RESTRICTED);
      return evs.find((e) => e.involvedObject?.name === 'csi-writable' && e.reason === 'FailedMount');
    }, { timeoutMs: 60_000, intervalMs: 1000 });
    assert.match(failed.message, /readonly: must be set to 'true'/, failed.message);
    await deletePod(c, RESTRICTED, 'csi-unlabeled');
    await deletePod(c, RESTRICTED, 'csi-writable');
  });

  test('CSI liveness: the kubelet probes the csi container\'s /healthz on the node loopback; a deleted plugin socket fails it and the kubelet restarts the container, which serves and registers again', async () => {
    const csiStatus = async () => (await c.cp.client.get('v1', 'Pod', c.agentMirrorPod, 'kube-system')).status.containerStatuses.find((s: AnyObj) => s.name === 'csi');
    const mirror = await c.cp.client.get('v1', 'Pod', c.agentMirrorPod, 'kube-system');
    const probe = mirror.spec.containers.find((x: AnyObj) => x.name === 'csi').livenessProbe;
    // The manifest's 9466, moved to a free port on this test node (the harness's only change to it).
    assert.deepEqual(probe.httpGet, { host: '127.0.0.1', port: c.ports.csi, path: '/healthz', scheme: 'HTTP' });
    assert.ok(mirror.spec.containers.find((x: AnyObj) => x.name === 'csi').args.includes(`--health-listen=127.0.0.1:${c.ports.csi}`));
    // A hostNetwork pod: its 127.0.0.1 is this host's, where the kubelet asks too.
    const healthz = async () => {
      const r = await fetch(`http://127.0.0.1:${c.ports.csi}/healthz`, { signal: AbortSignal.timeout(10_000) });
      return { status: r.status, body: await r.text() };
    };
    assert.deepEqual(await healthz(), { status: 200, body: 'ok\n' });
    const before = (await csiStatus()).restartCount as number;
    const { csiSocket } = pluginPaths(c.node.dirs.kubeletRoot, 'csi.socat.io');
    rmSync(csiSocket);
    const failing = await healthz();
    assert.equal(failing.status, 503);
    assert.ok(failing.body.startsWith(`CSI Probe over unix:${csiSocket} failed: UNAVAILABLE`), failing.body);
    await waitFor('the kubelet to restart the csi container', async () => {
      const st = await csiStatus();
      return st.restartCount > before && st.state?.running ? st : undefined;
    }, { timeoutMs: 120_000, intervalMs: 1000 });
    const events = await c.cp.client.list<AnyObj>('v1', 'Event', 'kube-system');
    const unhealthy = events.find((e) => e.involvedObject?.name === c.agentMirrorPod && e.reason === 'Unhealthy' && /Liveness probe failed.*503/.test(e.message ?? ''));
    assert.ok(unhealthy, `an Unhealthy event naming the 503: ${JSON.stringify(events.filter((e) => e.reason === 'Unhealthy').map((e) => e.message))}`);
    await waitFor('the restarted plugin healthy, its socket back', async () => existsSync(csiSocket) && (await healthz().catch(() => undefined))?.status === 200, { timeoutMs: 60_000, intervalMs: 500 });
    // The stopped plugin removed its registration socket (the kubelet deregistered it); the new one registers.
    await waitFor('the kubelet to register csi.socat.io again', async () => {
      const cn = await c.cp.client.getOrUndefined('storage.k8s.io/v1', 'CSINode', c.node.name);
      return cn?.spec?.drivers?.some((d: AnyObj) => d.name === 'csi.socat.io');
    }, { timeoutMs: 60_000, intervalMs: 500 });
  });

  test('a pod without the label gets nothing', async () => {
    const created = await c.cp.client.create(consumerPod(c, { name: 'plain', namespace: ALLOWED }));
    assert.equal(created.spec.initContainers, undefined);
    assert.equal(created.spec.volumes, undefined);
    await waitForPodRunning(c, ALLOWED, 'plain');
    await deletePod(c, ALLOWED, 'plain');
  });

  test('a labeled pod in a namespace the relay does not allow is denied', async () => {
    const pod = consumerPod(c, { name: 'intruder', namespace: DENIED, relay: TCP });
    await assert.rejects(c.cp.client.create(pod), (e: unknown) => e instanceof ApiError && e.message.includes(DENIED));
  });

  test('fault: the Relay is deleted → its socket goes away and new connections fail cleanly', async () => {
    const sock = findRelaySocket(c.socketDir, TCP);
    assert.ok(sock, `relay ${TCP} has a socket under ${c.socketDir}`);
    await c.cp.client.delete('socat.io/v1alpha1', 'Relay', TCP);
    await waitFor(`${sock} removed`, () => !existsSync(sock), { timeoutMs: 60_000, intervalMs: 500 });
    const before = svc.tcpConnections();
    const t0 = Date.now();
    const res = await tcpRequest('gone');
    assert.ok(Date.now() - t0 < 15_000, 'the connection ends promptly, it does not hang');
    assert.doesNotMatch(res.stdout, new RegExp(TCP_GREETING), 'no answer');
    assert.equal(svc.tcpConnections(), before, 'nothing reached the node service');
    // The sidecar's socat said why, in its log file (the kubelet's podLogsDir).
    await waitFor('the sidecar to log the failed connect', () => /No such file or directory|Connection refused/.test(c.node.podLog(ALLOWED, CONSUMER, sidecarName(TCP))), { timeoutMs: 10_000 });
    // The sidecar keeps running (a Relay re-created under the same name is another relay, served in
    // another folder: this pod's folder stays empty).
    const pod = await c.cp.client.get('v1', 'Pod', CONSUMER, ALLOWED);
    const st = pod.status.initContainerStatuses.find((s: AnyObj) => s.name === sidecarName(TCP));
    assert.ok(st.state.running, 'sidecar still running');
    assert.equal(st.restartCount, 0);
  });
});
