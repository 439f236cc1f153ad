// A Relay re-created under the same name is a new relay (issue 20, point 3): a pod whose volume was
// mounted for the old Relay object never reaches the new one, and its open connections end at once.
// Real parts: the agent (in-process, real socat) reading the node files the controller writes
// (relayFileContent, which carries the Relay's uid), the CSI plugin (`socat-relay csi`, a real process)
// bind-mounting through the kubelet's gRPC calls, and — for hostPath mode — the very hostPath the
// webhook injects, bind-mounted as the kubelet does, all in a private mount namespace. A pod's
// connection is a socat client started inside that namespace on the mounted folder's socket.
// On the code before the uid folder, the re-created Relay kept serving the old pods' folder: each case
// fails there (the old connection stays open, the old folder keeps a socket that answers).
import assert from 'node:assert/strict';
import { writeFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test, type TestContext } from 'node:test';
import { relayFileContent } from '../../../node-contract/index.js';
import type { Relay } from '../../../relay/index.js';
import { StaticCatalog } from '../../../webhook/catalog/catalog.js';
import {
  decidePod,
  defaultInjectOptions,
  patchOps,
  podCreateRequest,
  type RawPod,
} from '../../../webhook/admission/index.js';
import fjp from 'fast-json-patch';
import { startAgent, waitFor } from '../../harness/agent.js';
import {
  call,
  clientsFor,
  makeLayout,
  MountNamespace,
  endsWithin,
  oneShot,
  podConnection,
  stillOpen,
  skipUnlessCsi,
  startPlugin,
  targetFor,
  type Layout,
  type Plugin,
  type PodConnection,
  streamService,
} from './plugin.js';

const UID_A = '0a0a0a0a-1111-4222-8333-444444444444';
const UID_B = '0b0b0b0b-5555-4666-8777-888888888888';

/** A "node" service that greets every connection with its name and keeps it open. */

function relay(name: string, uid: string, port: number): Relay {
  return {
    apiVersion: 'socat.io/v1alpha1',
    kind: 'Relay',
    metadata: { name, uid },
    spec: { target: { host: '127.0.0.1', port }, consumers: { namespaces: ['monitoring'] } },
  };
}

async function greeted(c: PodConnection, name: string): Promise<void> {
  await waitFor(`a greeting from ${name}`, () => c.out().includes(`${name}\n`), 10_000).catch((e: Error) => {
    throw new Error(`${e.message}; the connection printed ${JSON.stringify(c.out())}`);
  });
}

/**
 * Waits until a new connection through `<dir>/socket` is greeted by `name` (the agent serves a new volume
 * within a second or so).
 */
async function served(ns: MountNamespace, dir: string, name: string): Promise<void> {
  await waitFor(`${dir} to serve ${name}`, async () => (await oneShot(ns, dir)) === name, 10_000);
}

describe(
  'a Relay re-created under the same name never serves a pod mounted for the old one',
  { skip: skipUnlessCsi() },
  () => {
    let l: Layout;
    let ns: MountNamespace;
    let plugin: Plugin;
    let c: ReturnType<typeof clientsFor>;
    const services: { close: () => Promise<void> }[] = [];
    const conns: PodConnection[] = [];

    before(async () => {
      l = makeLayout('csi-revoke');
      ns = await MountNamespace.create(path.join(l.logDir, 'ns.log'));
      plugin = await startPlugin(ns, l, ['--no-register']);
      c = clientsFor(plugin);
    });
    after(async () => {
      for (const k of conns) k.child.kill('SIGKILL');
      c?.close();
      await plugin?.proc.stop();
      await ns?.destroy();
      for (const s of services) await s.close();
    });

    async function service(name: string): Promise<number> {
      const s = await streamService(name);
      services.push(s);
      return s.port;
    }
    async function writeNodeFile(r: Relay): Promise<void> {
      // What the controller's reconcile writes (atomically, by rename): the Relay with its uid.
      const tmp = path.join(l.configDir, `.${r.metadata.name}.tmp`);
      await writeFile(tmp, relayFileContent(r));
      await import('node:fs/promises').then((fs) => fs.rename(tmp, path.join(l.configDir, `${r.metadata.name}.json`)));
    }
    async function publish(podUid: string, relayName: string): Promise<string> {
      const target = targetFor(l, podUid, `socat-${relayName}`);
      await call(c.node, 'NodePublishVolume', {
        volume_id: `csi-${podUid}-${relayName}`,
        target_path: target,
        readonly: true,
        volume_capability: { mount: {}, access_mode: { mode: 'SINGLE_NODE_WRITER' } },
        volume_context: {
          relay: relayName,
          'csi.storage.k8s.io/ephemeral': 'true',
          'csi.storage.k8s.io/pod.namespace': 'monitoring',
          'csi.storage.k8s.io/pod.uid': podUid,
        },
      });
      return target;
    }
    /** The hostPath the webhook injects for `r` (hostPath mode), bind-mounted read-only as the kubelet does. */
    async function hostPathMount(podUid: string, r: Relay): Promise<string> {
      const pod = {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: podUid, namespace: 'monitoring', labels: { 'socat.io/consume': r.metadata.name } },
        spec: { containers: [{ name: 'app', image: 'app' }] },
      } as RawPod;
      const d = decidePod(
        podCreateRequest(pod, 'monitoring', podUid, 'system:serviceaccount:kube-system:replicaset-controller'),
        {
          catalog: new StaticCatalog([r]),
          namespaceLabels: (n) => ({ 'kubernetes.io/metadata.name': n }),
          options: defaultInjectOptions({ nodeSocketDir: l.socketDir }),
        },
      );
      assert.equal(d.response.allowed, true, d.response.status?.message);
      const out = structuredClone(pod);
      fjp.applyPatch(out, patchOps(d.response), true, true);
      const hostPath = (out.spec!.volumes as { hostPath: { path: string } }[])[0]!.hostPath.path;
      assert.equal(hostPath, path.join(l.socketDir, r.metadata.name, r.metadata.uid!));
      const target = path.join(l.root, 'hostpath-pods', podUid, r.metadata.name);
      for (const [cmd, args] of [
        ['mkdir', ['-p', target]],
        ['mount', ['--bind', hostPath, target]],
        ['mount', ['-o', 'remount,bind,ro', target]],
      ] as const) {
        const res = await ns.exec(cmd, [...args]);
        assert.equal(res.code, 0, `${cmd} ${args.join(' ')}: ${res.stderr}`);
      }
      return target;
    }

    for (const mode of ['csi', 'hostPath'] as const) {
      test(`${mode}: re-created → the old pod's connection ends within seconds, its folder stays empty; a new pod gets the new Relay; another relay's connection stays`, async (t: TestContext) => {
        const name = `sched-${mode.toLowerCase()}`;
        const other = `etcd-${mode.toLowerCase()}`;
        const agent = await startAgent(
          t,
          { root: l.root, configDir: l.configDir, socketDir: l.socketDir },
          process.env.DEBUG_AGENT
            ? { log: (await import('../../../lib/log.js')).createLogger({ level: 'debug' }) }
            : {},
        );
        const oldPort = await service(`${name}-old`);
        const newPort = await service(`${name}-new`);
        const etcdPort = await service(other);
        await writeNodeFile(relay(name, UID_A, oldPort));
        await writeNodeFile(relay(other, UID_A.replace('0a0a0a0a', '0c0c0c0c'), etcdPort));
        await waitFor(
          'both relays served',
          () => agent.status()?.relays[name]?.running && agent.status()?.relays[other]?.running,
          10_000,
        );

        const mount = (pod: string, r: Relay): Promise<string> =>
          mode === 'csi' ? publish(pod, r.metadata.name) : hostPathMount(pod, r);
        const oldDir = await mount(`old-pod-${mode}`, relay(name, UID_A, oldPort));
        const otherDir = await mount(`old-pod-${mode}`, relay(other, UID_A.replace('0a0a0a0a', '0c0c0c0c'), etcdPort));
        await served(ns, oldDir, `${name}-old`);
        await served(ns, otherDir, other);
        const oldConn = podConnection(ns, oldDir);
        conns.push(oldConn);
        const otherConn = podConnection(ns, otherDir);
        conns.push(otherConn);
        await greeted(oldConn, `${name}-old`);
        await greeted(otherConn, other);

        // Deleted and re-created under the same name: another uid, another target.
        await rm(path.join(l.configDir, `${name}.json`));
        await writeNodeFile(relay(name, UID_B, newPort));
        await endsWithin(oldConn, 5000, "the old Relay's connection");
        await waitFor(
          'the new Relay served',
          () =>
            agent.status()?.relays[name]?.socket === path.join(l.socketDir, name, UID_B, 'socket') &&
            agent.status()?.relays[name]?.running,
          10_000,
        );
        assert.match(await oneShot(ns, oldDir), /^refused: /, "a new connection through the old pod's folder");
        const listing = await ns.exec('ls', ['-A', oldDir]);
        assert.equal(listing.stdout.trim(), '', "the old pod's folder is empty");

        const newDir = await mount(`new-pod-${mode}`, relay(name, UID_B, newPort));
        await served(ns, newDir, `${name}-new`); // a pod mounted for the new Relay reaches it
        await stillOpen(otherConn, 500, `relay ${other}, not re-created`);
        otherConn.child.stdin!.end();
      });
    }
  },
);
