// CSI mode: a pod whose namespace loses its right loses its relay within seconds, while pods still
// allowed keep theirs (issue 20, point 3). Each published volume has its own socket: the plugin
// records the volume (node-contract/volumes.ts) and bind-mounts the volume's own folder; the agent
// serves it for as long as the volume's right holds and closes it — its open connections end with
// it — on the first pass where the right is gone. Real parts: the agent (in-process, real socat)
// reading the node files the controller writes (relayFileContent, with the resolved selector names),
// the CSI plugin (`socat-relay csi`, a real process) publishing through its gRPC socket, real bind
// mounts in a private mount namespace, and a pod's connection as a socat client inside it. Every case
// fails on the code before per-volume sockets (the pods shared the relay's folder: a revoked pod kept
// its connection and could open new ones).
import assert from 'node:assert/strict';
import { existsSync, writeFileSync } from 'node:fs';
import { rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test, type TestContext } from 'node:test';
import { createLogger } from '../../../lib/log.js';
import {
  relayFileContent,
  volumeKey,
  volumeRecordPath,
  volumeRecordsDir,
  volumeSocketDir,
} from '../../../node-contract/index.js';
import type { Relay } from '../../../relay/index.js';
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

const UID = '0d0d0d0d-1111-4222-8333-444444444444';
const OTHER_UID = '0e0e0e0e-1111-4222-8333-444444444444';

describe(
  'CSI mode: a revoked consumer loses its relay within seconds; the others keep theirs',
  { skip: skipUnlessCsi() },
  () => {
    let l: Layout;
    let ns: MountNamespace;
    let plugin: Plugin;
    let c: ReturnType<typeof clientsFor>;
    const services: { close: () => Promise<void> }[] = [];
    const conns: PodConnection[] = [];
    let port = 0;
    let otherPort = 0;

    before(async () => {
      l = makeLayout('csi-revoke-ns');
      ns = await MountNamespace.create(path.join(l.logDir, 'ns.log'));
      plugin = await startPlugin(ns, l, ['--no-register']);
      c = clientsFor(plugin);
      for (const [name, set] of [
        [
          'sched',
          (p: number) => {
            port = p;
          },
        ],
        [
          'etcd',
          (p: number) => {
            otherPort = p;
          },
        ],
      ] as const) {
        const s = await streamService(name);
        services.push(s);
        set(s.port);
      }
    });
    after(async () => {
      for (const k of conns) k.child.kill('SIGKILL');
      c?.close();
      await plugin?.proc.stop();
      await ns?.destroy();
      for (const s of services) await s.close();
    });

    function relay(name: string, consumers: Relay['spec']['consumers'], uid = UID, p = port): Relay {
      return {
        apiVersion: 'socat.io/v1alpha1',
        kind: 'Relay',
        metadata: { name, uid },
        spec: { target: { host: '127.0.0.1', port: p }, consumers },
      };
    }
    /** What the controller's reconcile writes, atomically; `resolved`: the names its namespaceSelector resolved to. */
    async function nodeFile(r: Relay, resolved?: string[]): Promise<void> {
      const tmp = path.join(l.configDir, `.${r.metadata.name}.tmp`);
      await writeFile(tmp, relayFileContent(r, resolved));
      await rename(tmp, path.join(l.configDir, `${r.metadata.name}.json`));
    }
    async function publish(podUid: string, relayName: string, namespace: string): Promise<string> {
      const target = targetFor(l, podUid, `socat-${relayName}`);
      await call(c.node, 'NodePublishVolume', {
        volume_id: `csi-${podUid}-${relayName}`,
        target_path: target,
        readonly: true,
        volume_capability: { mount: {}, access_mode: { mode: 'SINGLE_NODE_WRITER' } },
        volume_context: {
          relay: relayName,
          'csi.storage.k8s.io/ephemeral': 'true',
          'csi.storage.k8s.io/pod.namespace': namespace,
          'csi.storage.k8s.io/pod.uid': podUid,
        },
      });
      return target;
    }
    /**
     * Waits until the pod's volume serves (the agent starts a new volume's socket within a second or so), then
     * holds a connection open.
     */
    async function openConnection(dir: string, greeting: string): Promise<PodConnection> {
      await waitFor(`${dir} to serve ${greeting}`, async () => (await oneShot(ns, dir)) === greeting, 10_000);
      const k = podConnection(ns, dir);
      conns.push(k);
      await waitFor(`a greeting through ${dir}`, () => k.out().includes(`${greeting}\n`), 10_000);
      return k;
    }
    async function revoked(dir: string, what: string): Promise<void> {
      assert.match(await oneShot(ns, dir), /^refused: /, `${what}: a new connection`);
      assert.equal((await ns.exec('ls', ['-A', dir])).stdout.trim(), '', `${what}: the pod's folder is empty`);
    }

    test("namespace dropped from consumers.namespaces: that pod is cut within seconds; the pod of a namespace still listed and another relay's pod keep working", async (t: TestContext) => {
      const agent = await startAgent(t, { root: l.root, configDir: l.configDir, socketDir: l.socketDir });
      await nodeFile(relay('sched', { namespaces: ['team-a', 'team-b'] }));
      await nodeFile(relay('etcd', { namespaces: ['team-b'] }, OTHER_UID, otherPort));
      await waitFor(
        'both relays served',
        () => agent.status()?.relays.sched?.running && agent.status()?.relays.etcd?.running,
        10_000,
      );
      const a = await publish('pod-a1', 'sched', 'team-a');
      const b = await publish('pod-b1', 'sched', 'team-b');
      const bEtcd = await publish('pod-b1', 'etcd', 'team-b');
      const ka = await openConnection(a, 'sched');
      const kb = await openConnection(b, 'sched');
      const kbe = await openConnection(bEtcd, 'etcd');

      const t0 = Date.now();
      await nodeFile(relay('sched', { namespaces: ['team-a'] }));
      await endsWithin(kb, 5000, "team-b's connection");
      assert.ok(Date.now() - t0 < 5000);
      await revoked(b, 'team-b');
      await stillOpen(ka, 300, 'team-a, still listed');
      assert.equal(await oneShot(ns, a), 'sched', 'team-a opens new connections');
      await stillOpen(kbe, 0, "team-b's etcd volume, another relay");
      assert.equal(await oneShot(ns, bEtcd), 'etcd');
      // The right comes back (listed again): the same volume is served again.
      await nodeFile(relay('sched', { namespaces: ['team-a', 'team-b'] }));
      await waitFor('team-b served again', async () => (await oneShot(ns, b)) === 'sched', 10_000);
    });

    test("a publish returns once the agent serves the volume's socket: the pod's first connection is answered", async (t: TestContext) => {
      const agent = await startAgent(t, { root: l.root, configDir: l.configDir, socketDir: l.socketDir });
      await nodeFile(relay('sched', { namespaces: ['team-first'] }));
      await waitFor('the relay served', () => agent.status()?.relays.sched?.running, 10_000);
      const dir = await publish('pod-first', 'sched', 'team-first');
      assert.equal(await oneShot(ns, dir), 'sched', 'the first connection, right after NodePublishVolume returned');
    });

    test('namespace relabeled out of consumers.namespaceSelector (the controller resolves fewer names): that pod is cut; the one still selected keeps working', async (t: TestContext) => {
      const agent = await startAgent(t, { root: l.root, configDir: l.configDir, socketDir: l.socketDir });
      const selector = { namespaceSelector: { matchLabels: { team: 'obs' } } };
      await nodeFile(relay('sel', selector, UID), ['obs-1', 'obs-2']);
      await waitFor('relay sel served', () => agent.status()?.relays.sel?.running, 10_000);
      const one = await publish('pod-obs1', 'sel', 'obs-1');
      const two = await publish('pod-obs2', 'sel', 'obs-2');
      const k1 = await openConnection(one, 'sched');
      const k2 = await openConnection(two, 'sched');
      await nodeFile(relay('sel', selector, UID), ['obs-1']);
      await endsWithin(k2, 5000, "obs-2's connection");
      await revoked(two, 'obs-2');
      await stillOpen(k1, 300, 'obs-1, still selected');
      assert.equal(await oneShot(ns, one), 'sched');
    });

    test("Relay deleted: every pod of it is cut within seconds; another relay's pod keeps working", async (t: TestContext) => {
      const agent = await startAgent(t, { root: l.root, configDir: l.configDir, socketDir: l.socketDir });
      await nodeFile(relay('gone', { namespaces: ['team-a'] }));
      await nodeFile(relay('etcd', { namespaces: ['team-b'] }, OTHER_UID, otherPort));
      await waitFor(
        'relays served',
        () => agent.status()?.relays.gone?.running && agent.status()?.relays.etcd?.running,
        10_000,
      );
      const g = await publish('pod-g', 'gone', 'team-a');
      const e = await publish('pod-e', 'etcd', 'team-b');
      const kg = await openConnection(g, 'sched');
      const ke = await openConnection(e, 'etcd');
      await rm(path.join(l.configDir, 'gone.json'));
      await endsWithin(kg, 5000, "the deleted Relay's connection");
      await revoked(g, 'Relay deleted');
      await stillOpen(ke, 300, 'another relay');
      // Re-created under the same name with another uid: the old volume is never served again.
      await nodeFile(relay('gone', { namespaces: ['team-a'] }, '0f0f0f0f-1111-4222-8333-444444444444'));
      await waitFor('the new Relay served', () => agent.status()?.relays.gone?.running, 10_000);
      await new Promise((r) => setTimeout(r, 1500));
      await revoked(g, 'Relay re-created');
    });

    test("unpublish removes the record, the agent closes the volume's socket and removes its folder", async (t: TestContext) => {
      const agent = await startAgent(t, { root: l.root, configDir: l.configDir, socketDir: l.socketDir });
      await nodeFile(relay('sched', { namespaces: ['team-a'] }));
      await waitFor('relay served', () => agent.status()?.relays.sched?.running, 10_000);
      const target = await publish('pod-u', 'sched', 'team-a');
      const k = await openConnection(target, 'sched');
      const key = volumeKey('csi-pod-u-sched');
      assert.ok(existsSync(volumeRecordPath(l.socketDir, key)));
      await call(c.node, 'NodeUnpublishVolume', { volume_id: 'csi-pod-u-sched', target_path: target });
      assert.equal(existsSync(volumeRecordPath(l.socketDir, key)), false);
      await endsWithin(k, 5000, "the unpublished volume's connection");
      await waitFor("the volume's folder removed", () => !existsSync(volumeSocketDir(l.socketDir, key)), 5000);
    });

    test('hostile records in the state folder are reported and skipped; the agent keeps serving the good volumes', async (t: TestContext) => {
      const lines: string[] = [];
      const log = createLogger({ level: 'warn' });
      const capture = Object.assign(Object.create(log), {
        error: (o: unknown, m?: string) => {
          lines.push(`${m} ${JSON.stringify(o)}`);
        },
        child: () => capture,
      });
      const agent = await startAgent(
        t,
        { root: l.root, configDir: l.configDir, socketDir: l.socketDir },
        { log: capture },
      );
      await nodeFile(relay('sched', { namespaces: ['team-a'] }));
      await waitFor('relay served', () => agent.status()?.relays.sched?.running, 10_000);
      const dir = volumeRecordsDir(l.socketDir);
      const key = (id: string) => volumeKey(id);
      const record = (o: Record<string, unknown>) =>
        JSON.stringify({
          version: 1,
          volumeId: 'x',
          relay: 'sched',
          namespace: 'team-a',
          podUid: 'p',
          targetPath: '/t',
          ...o,
        });
      const hostile: [string, string][] = [
        [`${key('a')}.json`, 'not json {'],
        [`${key('b')}.json`, record({ volumeId: 'b', relay: '../../etc' })],
        [`${key('c')}.json`, record({ volumeId: 'c', namespace: 'Not_A_Namespace' })],
        [`${key('d')}.json`, record({ volumeId: 'someone-else' })], // names another volume's folder
        [`${key('e')}.json`, record({ volumeId: 'e', relayUid: '../x' })],
        [`${key('f')}.json`, 'x'.repeat(20_000)],
        ['not-a-key.json', record({})],
        [`${key('g')}.json`, JSON.stringify([1, 2])],
      ];
      for (const [f, text] of hostile) writeFileSync(path.join(dir, f), text);
      const good = await publish('pod-good', 'sched', 'team-a');
      const k = await openConnection(good, 'sched');
      await waitFor(
        'every bad record reported',
        () => hostile.every(([f]) => lines.some((x) => x.includes(f))),
        10_000,
      );
      for (const [f] of hostile)
        assert.equal(
          existsSync(volumeSocketDir(l.socketDir, f.replace('.json', ''))),
          false,
          `${f}: no folder served for it`,
        );
      await stillOpen(k, 300, 'the good volume');
      assert.equal(await oneShot(ns, good), 'sched');
      assert.ok(agent.isStarted());
      for (const [f] of hostile) await rm(path.join(dir, f));
    });
  },
);
