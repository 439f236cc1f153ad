// The real-node suite: a kubelet + containerd run the agent as a static pod (manifests/node-agent/
// static-pod.yaml) and pods created through the API server, injected by our webhook, with the images
// the project's Dockerfile builds. One node for the whole file (it takes ~30 s to start); the tests run
// in order on it, and the end checks that nothing it made is left on the host.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import {
  ApiError,
  applyAll,
  killPids,
  links,
  mountsUnder,
  netnsNames,
  nodeUnavailable,
  processesMentioning,
  readManifests,
  skipUnlessControlPlane,
  waitFor,
} from '../harness/index.js';
import { pluginPaths } from '../../node-agent/csi/server.js';
import { CONSUME_LABEL, INJECTED_ANNOTATION, sidecarName } from '../../relay/index.js';
import { findRelaySocket } from '../harness/relay-socket.js';
import {
  AGENT_POD,
  AGENT_PORT,
  applyRelay,
  consumerPod,
  CONTROL_PLANE_LABEL,
  createNamespace,
  CONTROL_PLANE_TAINT,
  createConsumer,
  deletePod,
  startCluster,
  waitForPodRunning,
  WORKLOAD_CONTROLLERS,
  type Cluster,
} from '../harness/index.js';
import {
  consumedRelays,
  EXAMPLES_DIR,
  failedCreates,
  injectionProblems,
  kubectl,
  placeholderNode,
  podsOf,
  projectedCredentials,
  render,
  scheduled,
  sidecarsNotRunning,
  tokenClaims,
  waitForPods,
  WORKLOAD_KINDS,
  writeOverlay,
  type Target,
} from './examples.js';
import { startNodeServices, TCP_GREETING, type NodeServices } from './services.js';
import { describeSockets, nodeSocatOffLoopback, nodeSocatPids } from '../harness/node-sockets.js';

const required = process.env.CI === 'true' || process.env.REQUIRE_APISERVER === '1';
const missing = skipUnlessControlPlane() || nodeUnavailable() || false;
// In CI a missing part is a failure, not a skip.
const skip = missing && !required ? missing : false;

const ALLOWED = 'e2e-consumers';
const DENIED = 'e2e-others';
const RESTRICTED = 'e2e-restricted';
const TCP = 'node-tcp';
const UDP_ONE_WAY = 'e2e-syslog'; // not node-syslog: the syslog-udp example's Relay has that name
const UDP_RR = 'node-dns';
const CONSUMER = 'consumer';
const TCP_PORT = 8080;
const UDP_ONE_WAY_PORT = 5514;
const UDP_RR_PORT = 5353;

type AnyObj = Record<string, any>;

describe(
  'a real node: kubelet + containerd, the agent as a static pod, injected pods',
  { skip, timeout: 1_200_000 },
  () => {
    let c: Cluster;
    let svc: NodeServices;
    let baseDir = '';
    const netnsBefore = new Set(netnsNames());
    // The CNI bridge plugin names host-side veths veth<8 hex>.
    const cniVeth = /^veth[0-9a-f]{8}$/;
    const vethsBefore = new Set(
      links()
        .map((l) => l.ifname)
        .filter((n) => cniVeth.test(n)),
    );

    // The app is the project's image (no shell): socat runs in it directly, its stdin the request.
    const socatInApp = (argv: string[], input: string, timeoutMs = 30_000) =>
      c.node.exec(ALLOWED, CONSUMER, 'app', ['socat', ...argv], { input, timeoutMs });
    const tcpRequest = (word: string) => socatInApp(['-T5', '-', `TCP:127.0.0.1:${TCP_PORT}`], `${word}\n`);
    /** Retries a TCP request until the greeting comes back (after a fault the relay takes a moment). */
    const tcpWorks = (what: string, timeoutMs = 60_000) =>
      waitFor(
        what,
        async () => {
          const r = await tcpRequest('again');
          return r.code === 0 && r.stdout.trim() === `${TCP_GREETING}: again` ? r : undefined;
        },
        { timeoutMs, intervalMs: 1000 },
      );
    const agentContainer = () => c.node.containerId('kube-system', c.agentMirrorPod, 'agent');
    const relayProcess = async (relay: string) => {
      const pids = await c.node.containerPids(await agentContainer());
      return pids.find((p) => {
        try {
          const argv = readFileSync(`/proc/${p}/cmdline`, 'utf8').split('\0');
          return (
            argv[0]?.endsWith('socat') && argv.some((a) => a.startsWith('UNIX-LISTEN:') && a.includes(`/${relay}/`))
          );
        } catch {
          return false;
        }
      });
    };

    before(async () => {
      if (missing) throw new Error(`the real-node suite is required here (CI/REQUIRE_APISERVER) but: ${missing}`);
      svc = await startNodeServices();
      // A kubeadm control-plane node with the workload controllers and a scheduler, for the examples at the end.
      c = await startCluster({
        controllers: WORKLOAD_CONTROLLERS,
        scheduler: true,
        controlPlaneNode: true,
        namespaces: [
          { name: ALLOWED },
          { name: DENIED },
          { name: RESTRICTED, labels: { 'pod-security.kubernetes.io/enforce': 'restricted' } },
        ],
      });
      baseDir = c.node.dirs.base;
      const relay = (name: string, spec: AnyObj) => ({
        apiVersion: 'socat.io/v1alpha1',
        kind: 'Relay',
        metadata: { name },
        spec: { ...spec, consumers: { namespaces: [ALLOWED, RESTRICTED] } },
      });
      await applyRelay(c, relay(TCP, { target: { host: '127.0.0.1', port: svc.tcpPort }, listen: { port: TCP_PORT } }));
      await applyRelay(
        c,
        relay(UDP_ONE_WAY, {
          protocol: 'UDP',
          udp: { mode: 'OneWay' },
          target: { host: '127.0.0.1', port: svc.udpSinkPort },
          listen: { port: UDP_ONE_WAY_PORT },
        }),
      );
      await applyRelay(
        c,
        relay(UDP_RR, {
          protocol: 'UDP',
          udp: { mode: 'RequestReply', replyTimeoutSeconds: 2 },
          target: { host: '127.0.0.1', port: svc.udpEchoPort },
          listen: { port: UDP_RR_PORT },
        }),
      );
    });

    after(async () => {
      const ownLinks = c?.node.ownLinks() ?? [];
      await c?.stop();
      await svc?.stop();
      if (!baseDir) return;
      // Nothing left behind: processes, mounts, network namespaces, the bridge and its veths.
      assert.deepEqual(
        processesMentioning(baseDir).map((p) => p.cmdline.join(' ')),
        [],
        'processes left',
      );
      assert.deepEqual(
        mountsUnder(baseDir).map((m) => m.mountPoint),
        [],
        'mounts left',
      );
      const now = links();
      const left = new Set(now.map((l) => l.ifname));
      assert.deepEqual(
        ownLinks.filter((l) => left.has(l)),
        [],
        'bridge/veths left',
      );
      // A new veth still enslaved to a bridge that is not ours belongs to someone else on this host (podman's
      // networks name theirs the same way); ours lost their bridge with the node's stop.
      assert.deepEqual(
        now
          .filter((l) => cniVeth.test(l.ifname) && !vethsBefore.has(l.ifname))
          .filter((l) => !l.master || ownLinks.includes(l.master))
          .map((l) => l.ifname),
        [],
        'new CNI veths left',
      );
      assert.deepEqual(
        netnsNames().filter((n) => n.startsWith('cni-') && !netnsBefore.has(n)),
        [],
        'pod network namespaces left',
      );
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
      const created = await createConsumer(
        c,
        consumerPod(c, { name: CONSUMER, namespace: ALLOWED, relay: TCP, moreRelays: [UDP_ONE_WAY, UDP_RR] }),
      );
      for (const r of [TCP, UDP_ONE_WAY, UDP_RR]) {
        const sc = created.spec.initContainers?.find((x: { name: string }) => x.name === sidecarName(r));
        assert.equal(sc?.restartPolicy, 'Always', `${r}: injected as a native sidecar`);
        assert.equal(sc?.image, c.node.image.sidecarImage);
      }
      await waitForPodRunning(c, ALLOWED, CONSUMER);
    });

    test("TCP: the app reaches the node's loopback-only service at 127.0.0.1:PORT, and not directly", async () => {
      const before = svc.tcpConnections();
      const res = await tcpRequest('ping');
      assert.equal(res.code, 0, `exit ${res.code}: ${res.stderr}`);
      assert.equal(res.stdout.trim(), `${TCP_GREETING}: ping`);
      assert.ok(svc.tcpConnections() > before, 'the node service saw the connection');
      const direct = await socatInApp(['-T2', '-', `TCP:127.0.0.1:${svc.tcpPort}`], 'ping\n');
      assert.notEqual(direct.code, 0, 'the node port is not reachable directly from the pod');
    });

    test("UDP one-way: datagrams from the app arrive at the node's service, boundaries kept", async () => {
      for (const m of ['first', 'second']) {
        const res = await socatInApp(['-u', '-', `UDP-SENDTO:127.0.0.1:${UDP_ONE_WAY_PORT}`], `syslog-${m}`);
        assert.equal(res.code, 0, res.stderr);
      }
      await waitFor(
        'both datagrams at the node',
        () => svc.received.includes('syslog-first') && svc.received.includes('syslog-second'),
        { timeoutMs: 15_000 },
      );
    });

    test("UDP request/reply: the app's query gets the node service's answer", async () => {
      const res = await socatInApp(['-T3', '-', `UDP:127.0.0.1:${UDP_RR_PORT}`], 'query-1');
      assert.equal(res.code, 0, res.stderr);
      assert.equal(res.stdout, 'reply:query-1');
    });

    test('no socat of ours has a socket (TCP or UDP, listening or bound) on a non-loopback address of the node', () => {
      // After the TCP and both UDP exchanges above: the agent's relays have all sent and received.
      assert.ok(
        nodeSocatPids({ inContainer: true }).length >= 3,
        "the agent's socat processes in the node network namespace",
      );
      const off = nodeSocatOffLoopback({ inContainer: true });
      assert.deepEqual(off, [], describeSockets(off));
    });

    test('the sidecar runs as uid/gid 65532, no capabilities, no privilege escalation, read-only root', async () => {
      const id = await c.node.containerId(ALLOWED, CONSUMER, sidecarName(TCP));
      const [pid] = await c.node.containerPids(id);
      assert.ok(pid, 'the sidecar has a process');
      // What the kernel says about the sidecar's own process, read on the host.
      const status = Object.fromEntries(
        readFileSync(`/proc/${pid}/status`, 'utf8')
          .trim()
          .split('\n')
          .map((l) => l.split(/:\s*/, 2) as [string, string]),
      );
      assert.deepEqual(status.Uid!.split(/\s+/), ['65532', '65532', '65532', '65532']);
      assert.deepEqual(status.Gid!.split(/\s+/), ['65532', '65532', '65532', '65532']);
      for (const k of ['CapInh', 'CapPrm', 'CapEff', 'CapBnd', 'CapAmb'])
        assert.equal(BigInt(`0x${status[k]}`), 0n, `${k} = ${status[k]}`);
      assert.equal(status.NoNewPrivs, '1');
      assert.match(readFileSync(`/proc/${pid}/cmdline`, 'utf8'), /^\/usr\/bin\/socat\0|^socat\0/);
      const root = readFileSync(`/proc/${pid}/mountinfo`, 'utf8')
        .split('\n')
        .find((l) => l.split(' ')[4] === '/');
      assert.ok(root, 'a root mount');
      assert.match(root.split(' ')[5]!, /^ro\b/, `root mounted read-only: ${root}`);
      // The relay's folder is mounted read-only too, and the sidecar reached its 0660 socket (TCP above).
      const relayMount = readFileSync(`/proc/${pid}/mountinfo`, 'utf8')
        .split('\n')
        .find((l) => l.split(' ')[4] === `/run/socat-relay/${TCP}`);
      assert.match(relayMount?.split(' ')[5] ?? '', /^ro\b/, `relay folder read-only: ${relayMount}`);
    });

    test("fault: the relay's socat is killed → the agent brings it back and the app's next connection works", async () => {
      const pid = await relayProcess(TCP);
      assert.ok(pid, "the relay's socat (UNIX-LISTEN on its socket) runs in the agent container");
      killPids([pid]);
      await waitFor(
        'a new socat for the relay',
        async () => {
          const p = await relayProcess(TCP);
          return p !== undefined && p !== pid ? p : undefined;
        },
        { timeoutMs: 30_000, intervalMs: 500 },
      );
      await tcpWorks('TCP through the relay after the socat restart');
    });

    test("fault: the agent container is killed → the kubelet restarts it and the sidecar's next connection works", async () => {
      const id = await agentContainer();
      const [pid] = await c.node.containerPids(id);
      const restartsBefore = (
        await c.cp.client.get('v1', 'Pod', c.agentMirrorPod, 'kube-system')
      ).status.containerStatuses.find((s: AnyObj) => s.name === 'agent').restartCount;
      killPids([pid!]);
      await waitFor(
        'the kubelet to restart the agent container',
        async () => {
          const p = await c.cp.client.get('v1', 'Pod', c.agentMirrorPod, 'kube-system');
          const st = p.status.containerStatuses.find((s: AnyObj) => s.name === 'agent');
          return st.restartCount > restartsBefore && st.state?.running ? st : undefined;
        },
        { timeoutMs: 90_000, intervalMs: 1000 },
      );
      assert.notEqual(await agentContainer(), id, 'a new container');
      await tcpWorks('TCP through the relay after the agent restart', 90_000);
      // The sidecar itself did not need a restart: it mounts the folder, not the socket file.
      const pod = await c.cp.client.get('v1', 'Pod', CONSUMER, ALLOWED);
      assert.equal(pod.status.initContainerStatuses.find((s: AnyObj) => s.name === sidecarName(TCP)).restartCount, 0);
    });

    test("CSI: a labeled pod in a restricted namespace gets its relay through the kubelet's CSI calls; a namespace the relay does not allow gets no mount", async () => {
      const mirror = await c.cp.client.get('v1', 'Pod', c.agentMirrorPod, 'kube-system');
      assert.ok(
        mirror.spec.containers.some((x: AnyObj) => x.name === 'csi'),
        'the static pod runs the CSI plugin',
      );
      await applyAll(c.cp.client, readManifests('csi-driver'));
      await waitFor(
        'the kubelet to register csi.socat.io',
        async () => {
          const cn = await c.cp.client.getOrUndefined('storage.k8s.io/v1', 'CSINode', c.node.name);
          return cn?.spec?.drivers?.some((d: AnyObj) => d.name === 'csi.socat.io');
        },
        { timeoutMs: 60_000, intervalMs: 500 },
      );
      // The webhook in CSI mode: the relay's folder comes as a read-only csi.socat.io ephemeral volume,
      // which the restricted Pod Security level allows (a hostPath it refuses).
      await c.restartController({ SOCAT_RELAY_VOLUME_SOURCE: 'csi' });
      const created = await createConsumer(
        c,
        consumerPod(c, { name: 'csi-consumer', namespace: RESTRICTED, relay: TCP }),
      );
      const vol = created.spec.volumes?.find((v: AnyObj) => v.name === sidecarName(TCP));
      assert.equal(vol?.csi?.driver, 'csi.socat.io', `injected volume: ${JSON.stringify(vol)}`);
      assert.equal(vol?.hostPath, undefined);
      await waitForPodRunning(c, RESTRICTED, 'csi-consumer');
      const res = await c.node.exec(
        RESTRICTED,
        'csi-consumer',
        'app',
        ['socat', '-T5', '-', `TCP:127.0.0.1:${TCP_PORT}`],
        {
          input: 'csi\n',
        },
      );
      assert.equal(res.stdout.trim(), `${TCP_GREETING}: csi`, res.stderr);
      const podUid = created.metadata.uid as string;
      const csiMounts = () =>
        mountsUnder(`${c.node.dirs.kubeletRoot}/pods/`).filter((m) =>
          m.mountPoint.includes('/volumes/kubernetes.io~csi/'),
        );
      assert.ok(
        csiMounts().some((m) => m.mountPoint.includes(podUid)),
        "the plugin's bind mount under the kubelet's pod folder",
      );
      // The plugin decides on the node too: a pod that carries the volume itself (no label, so no
      // webhook) in a namespace the relay does not allow gets FailedMount and no mount.
      const intruder = consumerPod(c, { name: 'csi-intruder', namespace: DENIED });
      intruder.spec.volumes = [
        { name: 'relay', csi: { driver: 'csi.socat.io', readOnly: true, volumeAttributes: { relay: TCP } } },
      ];
      intruder.spec.containers[0].volumeMounts = [{ name: 'relay', mountPath: '/relay', readOnly: true }];
      const intruderUid = (await c.cp.client.create(intruder)).metadata.uid as string;
      const failed = await waitFor(
        'FailedMount for the intruder',
        async () => {
          const evs = await c.cp.client.list<AnyObj>('v1', 'Event', DENIED);
          return evs.find((e) => e.involvedObject?.name === 'csi-intruder' && e.reason === 'FailedMount');
        },
        { timeoutMs: 60_000, intervalMs: 1000 },
      );
      assert.match(failed.message, new RegExp(DENIED), failed.message);
      assert.notEqual((await c.cp.client.get('v1', 'Pod', 'csi-intruder', DENIED)).status.phase, 'Running');
      assert.equal(
        csiMounts().filter((m) => m.mountPoint.includes(intruderUid)).length,
        0,
        'no CSI mount for the intruder',
      );
      await deletePod(c, RESTRICTED, 'csi-consumer');
      await deletePod(c, DENIED, 'csi-intruder');
      await waitFor(
        'the CSI mount gone with the pod (NodeUnpublishVolume)',
        () => !csiMounts().some((m) => m.mountPoint.includes(podUid)),
        { timeoutMs: 60_000, intervalMs: 500 },
      );
    });

    test('CSI: a pod without the label (no admission check) that carries the volume itself and mounts it without readOnly gets the folder read-only; with the volume not readOnly it gets no mount', async () => {
      // Runs after the CSI test above (driver registered, controller in CSI mode). Unlabeled pods are
      // neither webhook's nor policy's business: the plugin (readOnly required) and the kubelet (a
      // read-only volume is mounted read-only into every container) are what keep the folder read-only.
      // The app runs as the socket group (65532): with a writable folder it could replace the socket.
      const pod = consumerPod(c, { name: 'csi-unlabeled', namespace: RESTRICTED });
      pod.spec.volumes = [
        { name: 'relay', csi: { driver: 'csi.socat.io', readOnly: true, volumeAttributes: { relay: TCP } } },
      ];
      pod.spec.containers[0].volumeMounts = [{ name: 'relay', mountPath: '/relay', readOnly: false }];
      await c.cp.client.create(pod);
      await waitForPodRunning(c, RESTRICTED, 'csi-unlabeled');
      // List the folder, try to create a file and to remove the socket (each error printed), list again.
      const script = [
        "const fs = require('node:fs');",
        "const ls = () => console.log(fs.readdirSync('/relay').join('\\n'));",
        'ls();',
        "for (const f of [() => fs.writeFileSync('/relay/x', ''), () => fs.rmSync('/relay/socket', { force: true })])",
        '  try { f(); } catch (e) { console.log(e.message); }',
        'ls();',
      ].join('\n');
      const res = await c.node.exec(RESTRICTED, 'csi-unlabeled', 'app', ['node', '-e', script]);
      assert.match(res.stdout, /read-only file system/i, `${res.stdout}\n${res.stderr}`);
      assert.deepEqual(
        res.stdout.split('\n').filter((l) => l === 'socket' || l === 'x'),
        ['socket', 'socket'],
        `the folder changed: ${res.stdout}`,
      );
      const writable = consumerPod(c, { name: 'csi-writable', namespace: RESTRICTED });
      writable.spec.volumes = [
        { name: 'relay', csi: { driver: 'csi.socat.io', readOnly: false, volumeAttributes: { relay: TCP } } },
      ];
      writable.spec.containers[0].volumeMounts = [{ name: 'relay', mountPath: '/relay' }];
      await c.cp.client.create(writable);
      const failed = await waitFor(
        'FailedMount for the writable volume',
        async () => {
          const evs = await c.cp.client.list<AnyObj>('v1', 'Event', RESTRICTED);
          return evs.find((e) => e.involvedObject?.name === 'csi-writable' && e.reason === 'FailedMount');
        },
        { timeoutMs: 60_000, intervalMs: 1000 },
      );
      assert.match(failed.message, /readonly: must be set to 'true'/, failed.message);
      await deletePod(c, RESTRICTED, 'csi-unlabeled');
      await deletePod(c, RESTRICTED, 'csi-writable');
    });

    test("CSI liveness: the kubelet probes the csi container's /healthz on the node loopback; a deleted plugin socket fails it and the kubelet restarts the container, which serves and registers again", async () => {
      const csiStatus = async () =>
        (await c.cp.client.get('v1', 'Pod', c.agentMirrorPod, 'kube-system')).status.containerStatuses.find(
          (s: AnyObj) => s.name === 'csi',
        );
      const mirror = await c.cp.client.get('v1', 'Pod', c.agentMirrorPod, 'kube-system');
      const probe = mirror.spec.containers.find((x: AnyObj) => x.name === 'csi').livenessProbe;
      // The manifest's 9466, moved to a free port on this test node (the harness's only change to it).
      assert.deepEqual(probe.httpGet, { host: '127.0.0.1', port: c.ports.csi, path: '/healthz', scheme: 'HTTP' });
      assert.ok(
        mirror.spec.containers
          .find((x: AnyObj) => x.name === 'csi')
          .args.includes(`--health-listen=127.0.0.1:${c.ports.csi}`),
      );
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
      await waitFor(
        'the kubelet to restart the csi container',
        async () => {
          const st = await csiStatus();
          return st.restartCount > before && st.state?.running ? st : undefined;
        },
        { timeoutMs: 120_000, intervalMs: 1000 },
      );
      const events = await c.cp.client.list<AnyObj>('v1', 'Event', 'kube-system');
      const unhealthy = events.find(
        (e) =>
          e.involvedObject?.name === c.agentMirrorPod &&
          e.reason === 'Unhealthy' &&
          /Liveness probe failed.*503/.test(e.message ?? ''),
      );
      assert.ok(
        unhealthy,
        `an Unhealthy event naming the 503: ${JSON.stringify(events.filter((e) => e.reason === 'Unhealthy').map((e) => e.message))}`,
      );
      await waitFor(
        'the restarted plugin healthy, its socket back',
        async () => existsSync(csiSocket) && (await healthz().catch(() => undefined))?.status === 200,
        { timeoutMs: 60_000, intervalMs: 500 },
      );
      // The stopped plugin removed its registration socket (the kubelet deregistered it); the new one registers.
      await waitFor(
        'the kubelet to register csi.socat.io again',
        async () => {
          const cn = await c.cp.client.getOrUndefined('storage.k8s.io/v1', 'CSINode', c.node.name);
          return cn?.spec?.drivers?.some((d: AnyObj) => d.name === 'csi.socat.io');
        },
        { timeoutMs: 60_000, intervalMs: 500 },
      );
    });

    // Revocation through kubelet-run pods (CSI mode, set by the CSI test above): each published volume
    // has its own socket, which the agent closes — ending its open connections — once that pod's right
    // is gone. Three ways a right goes: the namespace leaves `consumers.namespaces`, the namespace is
    // relabeled out of `consumers.namespaceSelector`, the Relay is deleted (and re-created under its
    // name: another relay, which never serves the pods admitted for the old one). Each time a pod still
    // allowed keeps working.
    describe('revocation: a consumer whose right is taken away loses its relay within seconds; the others keep theirs', () => {
      const REVOKE = 'e2e-revoke';
      const REVOKE_PORT = 8081;
      const LISTED = 'e2e-rev-listed';
      const SELECTED = 'e2e-rev-selected';
      const KEPT = 'e2e-rev-kept';
      const SELECT_LABEL = 'e2e.socat.io/consume';
      const POD = 'rev-app';
      /** Seconds from a change to the pod's cut-off that count as "within seconds" here, loaded machine included. */
      const CUT_WITHIN_MS = 30_000;
      const revokeRelay = (namespaces: string[]) => ({
        apiVersion: 'socat.io/v1alpha1',
        kind: 'Relay',
        metadata: { name: REVOKE },
        spec: {
          target: { host: '127.0.0.1', port: svc.tcpPort },
          listen: { port: REVOKE_PORT },
          consumers: { namespaces, namespaceSelector: { matchLabels: { [SELECT_LABEL]: 'yes' } } },
        },
      });
      const ask = (ns: string, pod: string, word: string) =>
        c.node.exec(ns, pod, 'app', ['socat', '-T5', '-', `TCP:127.0.0.1:${REVOKE_PORT}`], {
          input: `${word}\n`,
          timeoutMs: 30_000,
        });
      const answered = async (ns: string, pod: string, word: string) => {
        const r = await ask(ns, pod, word);
        return r.code === 0 && r.stdout.trim() === `${TCP_GREETING}: ${word}`;
      };
      const works = (ns: string, pod: string, what: string) =>
        waitFor(what, () => answered(ns, pod, 'still'), { timeoutMs: 90_000, intervalMs: 1000 });
      /** Waits until the pod gets no answer; returns how long that took from `since`. */
      const cutOff = async (ns: string, pod: string, since: number) => {
        await waitFor(`${ns}/${pod} cut off`, async () => !(await answered(ns, pod, 'cut')), {
          timeoutMs: CUT_WITHIN_MS,
          intervalMs: 500,
        });
        return Date.now() - since;
      };
      /**
       * A connection the pod holds open: socat -u only reads from it and sends no line, so the service never
       * answers or closes it; the command ends when the connection does.
       */
      const hold = (ns: string, pod: string) => {
        const started = Date.now();
        const done = c.node
          .exec(ns, pod, 'app', ['socat', '-u', '-T600', `TCP:127.0.0.1:${REVOKE_PORT}`, '-'], {
            timeoutMs: 400_000,
          })
          .then((r) => ({ ...r, at: Date.now() }));
        return { started, done };
      };
      const pods: [string, string][] = [];

      before(async () => {
        await createNamespace(c.cp.client, LISTED);
        await createNamespace(c.cp.client, SELECTED, { [SELECT_LABEL]: 'yes' });
        await createNamespace(c.cp.client, KEPT);
        await applyRelay(c, revokeRelay([LISTED, KEPT]));
        for (const ns of [LISTED, SELECTED, KEPT]) {
          const created = await createConsumer(c, consumerPod(c, { name: POD, namespace: ns, relay: REVOKE }));
          const vol = created.spec.volumes?.find((v: AnyObj) => v.name === sidecarName(REVOKE));
          assert.equal(vol?.csi?.driver, 'csi.socat.io', `${ns}: a CSI volume (per-volume socket)`);
          pods.push([ns, POD]);
        }
        for (const ns of [LISTED, SELECTED, KEPT]) {
          await waitForPodRunning(c, ns, POD);
          await works(ns, POD, `${ns}/${POD} served before any change`);
        }
      });

      after(async () => {
        for (const [ns, pod] of pods.splice(0)) await deletePod(c, ns, pod);
        await c.cp.client.delete('socat.io/v1alpha1', 'Relay', REVOKE).catch(() => undefined);
      });

      test('a namespace removed from consumers.namespaces: its pod is cut off, its open connection ends; the others keep working', async () => {
        const held = hold(LISTED, POD);
        // The held connection is open once the service counts it.
        const before = svc.tcpConnections();
        await waitFor('the held connection at the service', () => svc.tcpConnections() > before, { timeoutMs: 30_000 });
        const t0 = Date.now();
        await c.cp.client.apply(revokeRelay([KEPT]));
        const took = await cutOff(LISTED, POD, t0);
        const ended = await Promise.race([
          held.done,
          new Promise<undefined>((r) => setTimeout(() => r(undefined), CUT_WITHIN_MS)),
        ]);
        assert.ok(ended, `the open connection still held ${CUT_WITHIN_MS / 1000} s after the revocation`);
        assert.equal(ended.code, 0, `the held connection's socat: ${ended.stderr}`);
        assert.ok(ended.at - t0 < CUT_WITHIN_MS, `open connection ended after ${ended.at - t0} ms`);
        assert.ok(took < CUT_WITHIN_MS, `cut off after ${took} ms`);
        assert.ok(await answered(KEPT, POD, 'kept'), 'a pod still allowed keeps its relay');
        assert.ok(await answered(SELECTED, POD, 'selected'), 'a pod allowed by the selector keeps its relay');
        // The pod stays cut off (no later pass serves it again).
        await new Promise((r) => setTimeout(r, 3000));
        assert.equal(await answered(LISTED, POD, 'again'), false, 'served again after the revocation');
      });

      test('a namespace relabeled out of consumers.namespaceSelector: its pod is cut off; the others keep working', async () => {
        assert.ok(await answered(SELECTED, POD, 'before'), 'served before the relabel');
        const t0 = Date.now();
        await c.cp.client.request('PATCH', `/api/v1/namespaces/${SELECTED}`, {
          body: { metadata: { labels: { [SELECT_LABEL]: null } } },
          contentType: 'application/merge-patch+json',
        });
        const took = await cutOff(SELECTED, POD, t0);
        assert.ok(took < CUT_WITHIN_MS, `cut off after ${took} ms`);
        assert.ok(await answered(KEPT, POD, 'kept'), 'a pod still allowed keeps its relay');
      });

      test('the Relay deleted and re-created under its name: pods admitted for the old one are never served by the new one; a pod admitted for the new one is', async () => {
        const t0 = Date.now();
        const oldUid = (await c.cp.client.get('socat.io/v1alpha1', 'Relay', REVOKE)).metadata.uid as string;
        assert.ok(await answered(KEPT, POD, 'before'), 'served before the deletion');
        await c.cp.client.delete('socat.io/v1alpha1', 'Relay', REVOKE);
        const took = await cutOff(KEPT, POD, t0);
        assert.ok(took < CUT_WITHIN_MS, `cut off after ${took} ms`);
        // The same name, the same consumers (KEPT among them): another relay.
        await applyRelay(c, revokeRelay([KEPT]));
        const newUid = (await c.cp.client.get('socat.io/v1alpha1', 'Relay', REVOKE)).metadata.uid as string;
        assert.notEqual(newUid, oldUid);
        const fresh = `${POD}-new`;
        await createConsumer(c, consumerPod(c, { name: fresh, namespace: KEPT, relay: REVOKE }));
        pods.push([KEPT, fresh]);
        await waitForPodRunning(c, KEPT, fresh);
        await works(KEPT, fresh, 'the pod admitted for the new Relay served');
        const before = svc.tcpConnections();
        for (let i = 0; i < 5; i++) {
          assert.equal(await answered(KEPT, POD, `old-${i}`), false, 'the old pod served by the re-created Relay');
          await new Promise((r) => setTimeout(r, 1000));
        }
        assert.equal(svc.tcpConnections(), before, "nothing from the old pod reached the node's service");
        // Its sidecar keeps running (it is the pod's, not ours to stop); it just has nothing to reach.
        const pod = await c.cp.client.get('v1', 'Pod', POD, KEPT);
        const st = pod.status.initContainerStatuses.find((s: AnyObj) => s.name === sidecarName(REVOKE));
        assert.ok(st.state.running, 'the old pod runs on');
      });
    });

    test('a pod without the label gets nothing', async () => {
      const created = await c.cp.client.create(consumerPod(c, { name: 'plain', namespace: ALLOWED }));
      assert.equal(created.spec.initContainers, undefined);
      // Only the ServiceAccount plugin's token volume (the pod keeps its token), nothing of ours.
      assert.deepEqual(
        created.spec.volumes?.map((v: AnyObj) => v.name.replace(/-[a-z0-9]{5}$/, '-*')),
        ['kube-api-access-*'],
      );
      assert.equal(created.metadata.annotations?.[INJECTED_ANNOTATION], undefined);
      await waitForPodRunning(c, ALLOWED, 'plain');
      await deletePod(c, ALLOWED, 'plain');
    });

    test('a labeled pod in a namespace the relay does not allow is denied', async () => {
      const pod = consumerPod(c, { name: 'intruder', namespace: DENIED, relay: TCP });
      await assert.rejects(
        c.cp.client.create(pod),
        (e: unknown) => e instanceof ApiError && e.message.includes(DENIED),
      );
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
      await waitFor(
        'the sidecar to log the failed connect',
        () => /No such file or directory|Connection refused/.test(c.node.podLog(ALLOWED, CONSUMER, sidecarName(TCP))),
        { timeoutMs: 10_000 },
      );
      // The sidecar keeps running (a Relay re-created under the same name is another relay, served in
      // another folder: this pod's folder stays empty).
      const pod = await c.cp.client.get('v1', 'Pod', CONSUMER, ALLOWED);
      const st = pod.status.initContainerStatuses.find((s: AnyObj) => s.name === sidecarName(TCP));
      assert.ok(st.state.running, 'sidecar still running');
      assert.equal(st.restartCount, 0);
    });
    // Every example as a user applies it, on this node made a kubeadm control-plane node (label and
    // taint) plus a worker: a Node object without a kubelet, so that what the examples place on workers
    // is created and scheduled too (nothing runs there; the sidecars must run on the real node). The
    // controller is in CSI mode by now (the CSI test above), as manifests/controller sets it: the
    // examples' namespaces enforce the restricted Pod Security level.
    describe('every example under manifests/examples/: kubectl apply -k creates every pod, scheduled, injected, tokens kept, sidecars running', () => {
      const WORKER = 'e2e-worker';
      const DOCKER_LABEL = 'example.com/docker';
      type Place = 'control-plane' | 'worker';
      // Where each workload's pods must land (one per node listed): none may be missing or Pending.
      const EXAMPLES: { dir: string; placement: Record<string, Place[]>; drop?: string[] }[] = [
        {
          dir: 'kubeadm-control-plane',
          placement: {
            'DaemonSet/prometheus-agent-control-plane': ['control-plane'],
            'DaemonSet/prometheus-agent-nodes': ['worker'],
          },
        },
        // No monitoring.coreos.com CRDs in the repository: the PodMonitor is left out (test/manifests
        // checks its schema).
        {
          dir: 'kubeadm-control-plane/prometheus-operator',
          placement: { 'DaemonSet/control-plane-metrics-gateway': ['control-plane'] },
          drop: ['PodMonitor'],
        },
        { dir: 'docker-metrics', placement: { 'DaemonSet/docker-metrics-agent': ['control-plane', 'worker'] } },
        { dir: 'syslog-udp', placement: { 'Deployment/log-shipper': ['worker'] } },
        { dir: 'agent-metrics', placement: { 'DaemonSet/socat-relay-agent-scraper': ['control-plane', 'worker'] } },
      ];
      const overlays: { dir: string; remove(): void }[] = [];
      const nodeOf = (p: Place) => (p === 'control-plane' ? c.node.name : WORKER);
      // Each Relay's node side goes to a loopback service of this test; the agent's own metrics to the agent.
      const targetOf = (r: AnyObj): Target => {
        if (r.spec.protocol === 'UDP') return { port: svc.udpSinkPort, kind: 'udp' };
        if (r.spec.target.port === AGENT_PORT) return { port: c.ports.agent, kind: 'agent-metrics' };
        return { port: svc.tcpPort, kind: 'greeting' };
      };

      before(async () => {
        await c.cp.client.create(placeholderNode(WORKER, { [DOCKER_LABEL]: 'true' }));
        // The API server taints a new Node not-ready until the node lifecycle controller sees it Ready;
        // that controller does not run here (nothing would keep a kubelet-less Node's heartbeat).
        await c.cp.client.request('PATCH', `/api/v1/nodes/${WORKER}`, {
          body: { spec: { taints: null } },
          contentType: 'application/merge-patch+json',
        });
        // docker-metrics' README: label the nodes that run Docker (this one too).
        await c.cp.client.request('PATCH', `/api/v1/nodes/${c.node.name}`, {
          body: { metadata: { labels: { [DOCKER_LABEL]: 'true' } } },
          contentType: 'application/merge-patch+json',
        });
        const node = await c.cp.client.get('v1', 'Node', c.node.name);
        assert.equal(node.metadata.labels[CONTROL_PLANE_LABEL], '', 'labeled as kubeadm labels a control-plane node');
        assert.deepEqual(
          node.spec.taints?.filter((t: AnyObj) => t.key === CONTROL_PLANE_LABEL),
          [CONTROL_PLANE_TAINT],
        );
      });

      after(async () => {
        // The workloads go first (the garbage collector takes their pods), so the node's stop does not
        // race a DaemonSet controller that remakes them.
        for (const o of overlays.splice(0).reverse()) {
          await kubectl(c, ['delete', '-k', o.dir, '--wait=false', '--ignore-not-found']);
          o.remove();
        }
      });

      test('the list below covers every example folder', () => {
        const dirs: string[] = [];
        const walk = (d: string) => {
          if (existsSync(path.join(d, 'kustomization.yaml'))) dirs.push(path.relative(EXAMPLES_DIR, d));
          for (const e of readdirSync(d, { withFileTypes: true })) if (e.isDirectory()) walk(path.join(d, e.name));
        };
        walk(EXAMPLES_DIR);
        assert.deepEqual(dirs.sort(), EXAMPLES.map((e) => e.dir).sort());
      });

      for (const ex of EXAMPLES) {
        test(`${ex.dir}: every workload's pods created where they belong, scheduled, injected with their token, sidecars running and relaying`, async () => {
          const exampleDir = path.join(EXAMPLES_DIR, ex.dir);
          const objects = await render(c, exampleDir);
          const overlay = writeOverlay({
            exampleDir,
            objects,
            image: c.node.image.image,
            pauseImage: c.node.image.pauseImage,
            targetOf,
            drop: objects.filter((o) => ex.drop?.includes(o.kind)),
          });
          overlays.push(overlay);
          const applied = await kubectl(c, ['apply', '-k', overlay.dir]);
          assert.equal(applied.code, 0, `kubectl apply -k: ${applied.stderr}`);
          const relays = new Map(objects.filter((o) => o.kind === 'Relay').map((r) => [r.metadata.name as string, r]));
          const ownRelays = new Set(relays.keys());
          const workloads = objects.filter((o) => WORKLOAD_KINDS.has(o.kind));
          assert.deepEqual(
            workloads.map((w) => `${w.kind}/${w.metadata.name}`).sort(),
            Object.keys(ex.placement).sort(),
            'the workloads this test expects',
          );
          for (const w of workloads) {
            const id = `${w.kind}/${w.metadata.name}`;
            const ns = w.metadata.namespace as string;
            const want = ex.placement[id]!.map(nodeOf).sort();
            const outcome = await waitForPods(
              c,
              ns,
              `${id}: one pod on each of ${want.join(', ')}, scheduled, its sidecars running on ${c.node.name}`,
              async () => {
                // A refusal of ours ends the wait at once.
                const refused = (await failedCreates(c, w, ownRelays)).unexpected;
                if (refused.length > 0) return { refused, pods: [] as AnyObj[] };
                const ps = await podsOf(c, w);
                if (JSON.stringify(ps.map((p) => p.spec.nodeName ?? '').sort()) !== JSON.stringify(want))
                  return undefined;
                if (!ps.every(scheduled)) return undefined;
                return ps.every((p) => p.spec.nodeName !== c.node.name || sidecarsNotRunning(p).length === 0)
                  ? { refused, pods: ps }
                  : undefined;
              },
            );
            assert.deepEqual(outcome.refused, [], `${id}: no FailedCreate`);
            const { pods } = outcome;
            // A Relay the same apply created a moment before, not yet delivered by the webhook's watch, is
            // looked up live (webhook/server/catalog-miss.ts): no pod refused for it either.
            const { catalogLag } = await failedCreates(c, w, ownRelays);
            assert.deepEqual(catalogLag, [], `${id}: no pod refused for a Relay of the same apply`);
            for (const p of pods) {
              const name = `${id} pod ${p.metadata.name}`;
              assert.ok(consumedRelays(p.metadata).length > 0, `${name} is labeled`);
              assert.deepEqual(injectionProblems(p), [], name);
              if (p.spec.nodeName !== c.node.name) continue;
              for (const relay of consumedRelays(p.metadata)) {
                const r = relays.get(relay);
                assert.ok(r, `${name}: relay ${relay} is in the example`);
                const sidecar = sidecarName(relay);
                const [pid] = await c.node.containerPids(await c.node.containerId(ns, p.metadata.name, sidecar));
                assert.ok(pid, `${name}: ${sidecar} has a process`);
                if (p.spec.automountServiceAccountToken !== false) {
                  // The kubelet got the pod's token and kube-root-ca.crt and projected them into our sidecar too.
                  const { token, caCrt } = projectedCredentials(pid);
                  const claims = tokenClaims(token);
                  assert.equal(claims.sub, `system:serviceaccount:${ns}:${p.spec.serviceAccountName ?? 'default'}`);
                  assert.equal(claims['kubernetes.io']?.pod?.name, p.metadata.name);
                  assert.equal(caCrt, readFileSync(path.join(c.cp.dir, 'ca.crt'), 'utf8'));
                  const review = await c.cp.client.request<AnyObj>(
                    'POST',
                    '/apis/authentication.k8s.io/v1/tokenreviews',
                    { body: { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenReview', spec: { token } } },
                  );
                  assert.equal(
                    review.status?.authenticated,
                    true,
                    `${name}: the projected token authenticates: ${JSON.stringify(review.status)}`,
                  );
                }
                // Through the sidecar (socat in the pod's network namespace) to the node's loopback service,
                // once the agent serves the Relay the apply just made (the sidecar may run before that).
                await waitFor(`the agent to serve ${relay}`, () => findRelaySocket(c.socketDir, relay) !== undefined, {
                  timeoutMs: 60_000,
                  intervalMs: 250,
                });
                const listen = r.spec.listen?.port ?? r.spec.target.port;
                const t = targetOf(r);
                // socat -t 10: after the request (stdin's end) it waits for the answer up to 10 s, not its
                // default 0.5 s, which a busy machine's two relay hops to the agent's /metrics can exceed.
                const viaSidecar = (argv: string[], input: string) =>
                  c.node.exec(ns, p.metadata.name, sidecar, ['/usr/bin/socat', ...argv], { input, timeoutMs: 30_000 });
                let last: { stdout: string; stderr: string } = { stdout: '', stderr: '' };
                const answered = (what: string, argv: string[], input: string, ok: (out: string) => boolean) =>
                  waitFor(
                    what,
                    async () => {
                      last = await viaSidecar(argv, input);
                      return ok(last.stdout);
                    },
                    // 90 s: on a loaded machine the first answers over the new volume's two hops came late.
                    { timeoutMs: 90_000, intervalMs: 1000 },
                  ).catch(() =>
                    assert.fail(`${name}: ${what}: ${JSON.stringify(last.stdout.slice(0, 300))} ${last.stderr}`),
                  );
                if (t.kind === 'greeting') {
                  await answered(
                    `the node's service answers through ${relay}`,
                    ['-t', '10', '-T', '10', '-', `TCP:127.0.0.1:${listen}`],
                    `${relay}\n`,
                    (out) => out.trim() === `${TCP_GREETING}: ${relay}`,
                  );
                } else if (t.kind === 'agent-metrics') {
                  await answered(
                    `the agent's own metrics through ${relay}`,
                    ['-t', '10', '-T', '10', '-', `TCP:127.0.0.1:${listen}`],
                    'GET /metrics HTTP/1.0\r\nHost: localhost\r\n\r\n',
                    (out) => /^HTTP\/1\.[01] 200/.test(out) && /socat_relay_/.test(out),
                  );
                } else {
                  const word = `example-${relay}-${p.metadata.name}`;
                  await answered(
                    `${word} at the node's service`,
                    ['-u', '-', `UDP-SENDTO:127.0.0.1:${listen}`],
                    word,
                    () => svc.received.includes(word),
                  );
                }
              }
            }
          }
        });
      }

      test('a labeled pod of a control-plane relay without the control-plane toleration: kubectl shows the admission warning; with it, none', async () => {
        // Runs after the kubeadm example (its Relays and namespace exist).
        const pod: AnyObj = {
          apiVersion: 'v1',
          kind: 'Pod',
          metadata: {
            name: 'no-toleration',
            namespace: 'control-plane-metrics',
            labels: { [CONSUME_LABEL]: 'kube-scheduler' },
          },
          spec: {
            securityContext: { runAsNonRoot: true, runAsUser: 65534, seccompProfile: { type: 'RuntimeDefault' } },
            containers: [
              {
                name: 'app',
                image: c.node.image.image,
                securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } },
              },
            ],
          },
        };
        const warned = await kubectl(c, ['create', '--dry-run=server', '-f', '-'], JSON.stringify(pod));
        assert.equal(warned.code, 0, warned.stderr);
        assert.match(
          warned.stderr,
          /Warning: socat-relay: relay kube-scheduler needs a toleration of node-role\.kubernetes\.io\/control-plane:NoSchedule/,
          warned.stderr,
        );
        pod.spec.tolerations = [{ key: CONTROL_PLANE_LABEL, operator: 'Exists', effect: 'NoSchedule' }];
        const quiet = await kubectl(c, ['create', '--dry-run=server', '-f', '-'], JSON.stringify(pod));
        assert.equal(quiet.code, 0, quiet.stderr);
        assert.doesNotMatch(quiet.stderr, /needs a toleration/, quiet.stderr);
      });
    });
  },
);
