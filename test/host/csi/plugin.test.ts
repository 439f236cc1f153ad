// The CSI node plugin driven over its real Unix sockets by a gRPC client built from the same .proto
// files, making real bind mounts as root inside a private mount namespace (nothing reaches the host's
// mount table; the namespace, and every mount in it, is destroyed at the end).
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { status } from '@grpc/grpc-js';
import type { NodeClient } from '../../../node-agent/csi/generated/csi/v1/Node.js';
import type { NodePublishVolumeRequest } from '../../../node-agent/csi/generated/csi/v1/NodePublishVolumeRequest.js';
import type { NodeUnpublishVolumeRequest } from '../../../node-agent/csi/generated/csi/v1/NodeUnpublishVolumeRequest.js';
import { parseMountInfo } from '../../../node-agent/csi/mount.js';
import { volumeKey, volumeRecordPath, volumeSocketDir } from '../../../node-contract/index.js';
import { waitFor } from '../../harness/wait.js';
import {
  call,
  callError,
  clientsFor,
  makeLayout,
  MountNamespace,
  skipUnlessCsi,
  startPlugin,
  targetFor,
  writeRelay,
  type Layout,
  type Plugin,
} from './plugin.js';

const EPHEMERAL = 'csi.storage.k8s.io/ephemeral';
const POD_NS = 'csi.storage.k8s.io/pod.namespace';

const volumeIdOf = (target: string): string => `csi-${Buffer.from(target).toString('hex').slice(-40)}`;

function publishRequest(target: string, relay: string, namespace: string): NodePublishVolumeRequest {
  return {
    volume_id: volumeIdOf(target),
    target_path: target,
    volume_capability: { mount: {}, access_mode: { mode: 'SINGLE_NODE_WRITER' } },
    readonly: true,
    volume_context: {
      relay,
      [EPHEMERAL]: 'true',
      [POD_NS]: namespace,
      'csi.storage.k8s.io/pod.name': 'consumer',
      // The kubelet's target path is <pods>/<pod uid>/volumes/…: the uid attribute must match it.
      'csi.storage.k8s.io/pod.uid': target.split('/pods/')[1]?.split('/')[0] ?? '',
      'csi.storage.k8s.io/serviceAccount.name': 'default',
    },
  };
}

describe(
  'CSI node plugin: real sockets, real bind mounts in a private mount namespace',
  { skip: skipUnlessCsi() },
  () => {
    let l: Layout;
    let ns: MountNamespace;
    let plugin: Plugin;
    let c: ReturnType<typeof clientsFor>;
    let relayServer: net.Server;
    let pods = 0;
    const newTarget = (): string => targetFor(l, `pod-${++pods}`);
    const node = (): NodeClient => c.node;

    async function restart(kill: 'SIGTERM' | 'SIGKILL'): Promise<void> {
      c.close();
      if (kill === 'SIGKILL') {
        plugin.proc.child.kill('SIGKILL');
        await plugin.proc.exited;
      } else {
        const t0 = Date.now();
        await plugin.proc.stop(20_000);
        assert.deepEqual(await plugin.proc.exited, { code: 0, signal: null }, 'SIGTERM: a clean exit');
        assert.ok(Date.now() - t0 < 10_000, 'SIGTERM: exits without waiting for a SIGKILL');
        assert.equal(
          existsSync(plugin.registrationSocket) || existsSync(plugin.csiSocket),
          false,
          'SIGTERM: both sockets removed',
        );
      }
      plugin = await startPlugin(ns, l);
      c = clientsFor(plugin);
    }

    /** Sends a line through `<dir>/socket` from inside the namespace; returns the reply. */
    async function throughSocket(dir: string): Promise<string> {
      const r = await ns.exec('socat', ['-T5', '-', `UNIX-CONNECT:${dir}/socket`], { input: 'ping\n' });
      return r.stdout.trim() || `(code ${r.code}) ${r.stderr.trim()}`;
    }

    /**
     * What the agent does for a published volume (node-contract/volumes.ts): a listener at the volume's
     * own socket, here answering 'pong'. Returns its stop function.
     */
    async function serveVolume(target: string): Promise<() => Promise<void>> {
      const server = net.createServer((s) => s.on('data', () => s.end('pong\n')));
      await new Promise<void>((resolve) =>
        server.listen(path.join(volumeSocketDir(l.socketDir, volumeKey(volumeIdOf(target))), 'socket'), resolve),
      );
      return () => new Promise<void>((resolve) => server.close(() => resolve()));
    }

    before(async () => {
      l = makeLayout('csi-plugin');
      ns = await MountNamespace.create(path.join(l.logDir, 'namespace.log'));
      writeRelay(l, 'sched', { namespaces: ['monitoring'] });
      writeRelay(
        l,
        'etcd',
        { namespaceSelector: { matchLabels: { team: 'obs' } } },
        { 'socat.io/consumer-namespaces': 'observability,tracing' },
      );
      writeRelay(l, 'selector-only', { namespaceSelector: { matchLabels: { team: 'obs' } } });
      writeRelay(l, 'no-folder', { namespaces: ['monitoring'] });
      writeFileSync(
        path.join(l.configDir, 'broken.json'),
        JSON.stringify({
          apiVersion: 'socat.io/v1alpha1',
          kind: 'Relay',
          metadata: { name: 'broken' },
          spec: { target: { host: '169.254.169.254', port: 80 }, consumers: { namespaces: ['monitoring'] } },
        }),
      );
      for (const r of ['sched', 'etcd', 'selector-only', 'broken'])
        mkdirSync(path.join(l.socketDir, r), { mode: 0o750 });
      // The relay's socket: what a consumer reaches through the mount.
      relayServer = net.createServer((s) => s.on('data', () => s.end('pong\n')));
      await new Promise<void>((resolve) => relayServer.listen(path.join(l.socketDir, 'sched', 'socket'), resolve));
      plugin = await startPlugin(ns, l);
      c = clientsFor(plugin);
    });

    after(async () => {
      c?.close();
      await plugin?.proc.stop();
      await ns?.destroy();
      await new Promise<void>((resolve) => (relayServer ? relayServer.close(() => resolve()) : resolve()));
    });

    test('registration handshake: GetInfo announces a CSIPlugin at the CSI socket path, version 1.0.0; NotifyRegistrationStatus is answered', async () => {
      const info = await call(c.registration, 'GetInfo', {});
      assert.deepEqual(info, {
        type: 'CSIPlugin',
        name: 'csi.socat.io',
        endpoint: plugin.csiSocket,
        supported_versions: ['1.0.0'],
      });
      assert.deepEqual(await call(c.registration, 'NotifyRegistrationStatus', { plugin_registered: true }), {});
      assert.ok(plugin.proc.running());
      await waitFor(
        "the registration in the plugin's log",
        () => /registered with the kubelet/.test(plugin.proc.logTail(200)),
        { timeoutMs: 10_000 },
      );
    });

    test('identity and node info: name, ready, no controller, no staging, stats with a volume condition, the node id', async () => {
      const info = await call(c.identity, 'GetPluginInfo', {});
      assert.equal(info.name, 'csi.socat.io');
      assert.match(info.vendor_version ?? '', /^\d+\.\d+\.\d+/);
      assert.deepEqual(await call(c.identity, 'Probe', {}), { ready: { value: true } });
      assert.deepEqual(await call(c.identity, 'GetPluginCapabilities', {}), { capabilities: [] });
      assert.deepEqual(await call(node(), 'NodeGetCapabilities', {}), {
        capabilities: [
          { rpc: { type: 'GET_VOLUME_STATS' }, type: 'rpc' },
          { rpc: { type: 'VOLUME_CONDITION' }, type: 'rpc' },
        ],
      });
      assert.equal((await call(node(), 'NodeGetInfo', {})).node_id, 'test-node');
    });

    test('a kubelet folder that is not a shared mount (no Bidirectional propagation): publish is FailedPrecondition naming it, Probe not ready; shared again, it publishes', async () => {
      await ns.unshareFolder(l.kubeletDir);
      try {
        const target = newTarget();
        const err = await callError(node(), 'NodePublishVolume', publishRequest(target, 'sched', 'monitoring'));
        assert.equal(err.code, status.FAILED_PRECONDITION);
        assert.match(
          err.details,
          /lies on mount .*kubelet, which is not shared in this container: .*mountPropagation: Bidirectional/,
        );
        assert.equal(ns.mountAt(target), undefined);
        assert.deepEqual(await call(c.identity, 'Probe', {}), { ready: { value: false } });
        await waitFor(
          "the reason in the plugin's log",
          () => /which is not shared in this container/.test(plugin.proc.logTail(200)),
          { timeoutMs: 10_000 },
        );
      } finally {
        await ns.shareFolder(l.kubeletDir);
      }
      assert.deepEqual(await call(c.identity, 'Probe', {}), { ready: { value: true } });
      const target = newTarget();
      assert.deepEqual(await call(node(), 'NodePublishVolume', publishRequest(target, 'sched', 'monitoring')), {});
      assert.deepEqual(await call(node(), 'NodeUnpublishVolume', { volume_id: 'v', target_path: target }), {});
    });

    test("publish in an allowed namespace: the volume's own folder is bind-mounted read-only, recorded for the agent, and its socket answers through it; again: OK, still one mount", async () => {
      const target = newTarget();
      assert.deepEqual(await call(node(), 'NodePublishVolume', publishRequest(target, 'sched', 'monitoring')), {});
      const m = ns.mountAt(target);
      assert.ok(m, 'a mount at the target');
      assert.ok(m.readOnly, 'read-only');
      const key = volumeKey(volumeIdOf(target));
      assert.equal(path.basename(m.root), key);
      assert.deepEqual(JSON.parse(readFileSync(volumeRecordPath(l.socketDir, key), 'utf8')), {
        version: 1,
        volumeId: volumeIdOf(target),
        relay: 'sched',
        namespace: 'monitoring',
        podUid: target.split('/pods/')[1]!.split('/')[0],
        targetPath: target,
      });
      const stop = await serveVolume(target);
      assert.equal(await throughSocket(target), 'pong');
      await stop();
      const touch = await ns.exec('touch', [path.join(target, 'x')]);
      assert.notEqual(touch.code, 0);
      assert.match(touch.stderr, /Read-only file system/);
      // Nothing reached the host's mount table.
      assert.equal(
        parseMountInfo(readFileSync('/proc/self/mountinfo', 'utf8')).filter((x) => x.mountPoint.startsWith(l.root))
          .length,
        0,
      );

      assert.deepEqual(await call(node(), 'NodePublishVolume', publishRequest(target, 'sched', 'monitoring')), {});
      assert.equal(ns.mounts().filter((x) => x.mountPoint === target).length, 1, 'idempotent: no second mount');
      await call(node(), 'NodeUnpublishVolume', { volume_id: 'v', target_path: target });
    });

    test('concurrent publishes of one target (kubelet retries): one mount; concurrent unpublishes: none left', async () => {
      const target = newTarget();
      const results = await Promise.allSettled(
        Array.from({ length: 6 }, () =>
          call(node(), 'NodePublishVolume', publishRequest(target, 'sched', 'monitoring')),
        ),
      );
      assert.deepEqual(
        results.map((r) => r.status),
        Array(6).fill('fulfilled'),
      );
      assert.equal(ns.mounts().filter((x) => x.mountPoint === target).length, 1);
      const gone = await Promise.allSettled(
        Array.from({ length: 6 }, () => call(node(), 'NodeUnpublishVolume', { volume_id: 'v', target_path: target })),
      );
      assert.deepEqual(
        gone.map((r) => r.status),
        Array(6).fill('fulfilled'),
      );
      assert.equal(ns.mountAt(target), undefined);
      assert.equal(existsSync(target), false);
    });

    test('publish of another relay over a published target: AlreadyExists, the mount unchanged', async () => {
      const target = newTarget();
      await call(node(), 'NodePublishVolume', publishRequest(target, 'sched', 'monitoring'));
      const e = await callError(node(), 'NodePublishVolume', publishRequest(target, 'etcd', 'observability'));
      assert.equal(e.code, status.ALREADY_EXISTS);
      assert.match(e.details, /already a mount of something else.*relay "etcd"/);
      assert.equal(path.basename(ns.mountAt(target)!.root), volumeKey(volumeIdOf(target)));
      assert.equal(
        JSON.parse(readFileSync(volumeRecordPath(l.socketDir, volumeKey(volumeIdOf(target))), 'utf8')).relay,
        'sched',
        'the record is not rewritten',
      );
      await call(node(), 'NodeUnpublishVolume', { volume_id: 'v', target_path: target });
    });

    test('publish in a namespace the relay does not allow: PermissionDenied naming relay and namespace; nothing created', async () => {
      const target = newTarget();
      const e = await callError(node(), 'NodePublishVolume', publishRequest(target, 'sched', 'default'));
      assert.equal(e.code, status.PERMISSION_DENIED);
      assert.match(e.details, /relay "sched" does not allow namespace "default"/);
      assert.equal(ns.mountAt(target), undefined);
      assert.equal(existsSync(target), false);
    });

    test('namespaceSelector on the node: the namespaces the controller resolved (annotation) are allowed, others refused; without the annotation nobody', async () => {
      for (const namespace of ['observability', 'tracing']) {
        const target = newTarget();
        await call(node(), 'NodePublishVolume', publishRequest(target, 'etcd', namespace));
        assert.ok(ns.mountAt(target), `mounted for ${namespace}`);
        await call(node(), 'NodeUnpublishVolume', { volume_id: 'v', target_path: target });
      }
      const refused = await callError(node(), 'NodePublishVolume', publishRequest(newTarget(), 'etcd', 'monitoring'));
      assert.equal(refused.code, status.PERMISSION_DENIED);
      assert.match(
        refused.details,
        /relay "etcd" does not allow namespace "monitoring" \(allowed: namespaceSelector\)/,
      );
      const selectorOnly = await callError(
        node(),
        'NodePublishVolume',
        publishRequest(newTarget(), 'selector-only', 'observability'),
      );
      assert.equal(selectorOnly.code, status.PERMISSION_DENIED);
      assert.match(selectorOnly.details, /relay "selector-only" does not allow namespace "observability"/);
    });

    test('a relay this node does not serve: NotFound naming relay and namespace; an invalid node file: FailedPrecondition; no folder yet: Unavailable', async () => {
      const missing = await callError(node(), 'NodePublishVolume', publishRequest(newTarget(), 'nope', 'monitoring'));
      assert.equal(missing.code, status.NOT_FOUND);
      assert.match(missing.details, /relay "nope" is not served on node test-node .*namespace "monitoring"/);
      const broken = await callError(node(), 'NodePublishVolume', publishRequest(newTarget(), 'broken', 'monitoring'));
      assert.equal(broken.code, status.FAILED_PRECONDITION);
      assert.match(broken.details, /relay "broken": its node file broken.json is invalid: spec.target.host/);
      const noFolder = await callError(
        node(),
        'NodePublishVolume',
        publishRequest(newTarget(), 'no-folder', 'monitoring'),
      );
      assert.equal(noFolder.code, status.UNAVAILABLE);
      assert.match(noFolder.details, /relay "no-folder": its folder .* does not exist yet/);
      assert.equal(ns.mountsUnder(l.kubeletDir).length, 0);
    });

    test('every validation error is an InvalidArgument naming the field, before anything is touched', async () => {
      const target = newTarget();
      const base = publishRequest(target, 'sched', 'monitoring');
      const ctx = base.volume_context;
      const withCtx = (over: Record<string, string | undefined>): NodePublishVolumeRequest => {
        const v: Record<string, string> = { ...ctx };
        for (const [k, x] of Object.entries(over))
          if (x === undefined) delete v[k];
          else v[k] = x;
        return { ...base, volume_context: v };
      };
      const cases: [string, NodePublishVolumeRequest, RegExp][] = [
        ['no volume_id', { ...base, volume_id: '' }, /^volume_id: required/],
        ['no target_path', { ...base, target_path: '' }, /^target_path: required/],
        [
          'a relative target_path',
          { ...base, target_path: 'pods/x/mount' },
          /^target_path: .* is not an absolute path/,
        ],
        [
          'a target_path with ..',
          { ...base, target_path: `${l.kubeletDir}/pods/../../etc/mount` },
          /^target_path: .* is not a normal path/,
        ],
        [
          'a target_path with //',
          { ...base, target_path: `${l.kubeletDir}/pods//x/mount` },
          /^target_path: .* is not a normal path/,
        ],
        [
          'a target_path outside the pods folder',
          { ...base, target_path: path.join(l.root, 'elsewhere') },
          /^target_path: .* is not under the kubelet's pods folder/,
        ],
        [
          'the pods folder itself',
          { ...base, target_path: path.join(l.kubeletDir, 'pods') },
          /^target_path: .* is not under the kubelet's pods folder/,
        ],
        ['no volume_capability', { ...base, volume_capability: undefined }, /^volume_capability: required/],
        [
          'block access',
          { ...base, volume_capability: { block: {}, access_mode: { mode: 'SINGLE_NODE_WRITER' } } },
          /^volume_capability: block access is not supported/,
        ],
        [
          'an fs_type',
          { ...base, volume_capability: { mount: { fs_type: 'ext4' }, access_mode: { mode: 'SINGLE_NODE_WRITER' } } },
          /^volume_capability\.mount\.fs_type: must be empty/,
        ],
        [
          'mount flags',
          {
            ...base,
            volume_capability: { mount: { mount_flags: ['rw'] }, access_mode: { mode: 'SINGLE_NODE_WRITER' } },
          },
          /^volume_capability\.mount\.mount_flags: must be empty/,
        ],
        [
          'a multi-node access mode',
          { ...base, volume_capability: { mount: {}, access_mode: { mode: 'MULTI_NODE_MULTI_WRITER' } } },
          /^volume_capability\.access_mode: must be a single-node mode .*got MULTI_NODE_MULTI_WRITER/,
        ],
        [
          // Sent as a number the enum does not name: decoded as the number, refused by its type.
          'an access mode outside the enum',
          { ...base, volume_capability: { mount: {}, access_mode: { mode: 99 as never } } },
          /^volume_capability\.access_mode: must be a single-node mode .*got 99$/,
        ],
        [
          'no access mode',
          { ...base, volume_capability: { mount: {} } },
          /^volume_capability\.access_mode: must be a single-node mode/,
        ],
        ['readonly false', { ...base, readonly: false }, /^readonly: must be set to 'true'/],
        [
          'not ephemeral',
          withCtx({ [EPHEMERAL]: undefined }),
          /^volume_context\["csi\.storage\.k8s\.io\/ephemeral"\]: only ephemeral inline volumes/,
        ],
        [
          'ephemeral "false"',
          withCtx({ [EPHEMERAL]: 'false' }),
          /^volume_context\["csi\.storage\.k8s\.io\/ephemeral"\]/,
        ],
        ['an unknown attribute', withCtx({ relays: 'sched' }), /^volume_context\["relays"\]: unknown volume attribute/],
        ['no relay', withCtx({ relay: undefined }), /^volume_context\["relay"\]: required/],
        [
          'a relay name that is a path',
          withCtx({ relay: '../etc' }),
          /^volume_context\["relay"\]: "\.\.\/etc" is not a valid relay name/,
        ],
        [
          'an upper-case relay name',
          withCtx({ relay: 'Sched' }),
          /^volume_context\["relay"\]: "Sched" is not a valid relay name/,
        ],
        [
          'no pod namespace (podInfoOnMount off)',
          withCtx({ [POD_NS]: undefined }),
          /^volume_context\["csi\.storage\.k8s\.io\/pod\.namespace"\]: required.*podInfoOnMount/,
        ],
        [
          'an invalid pod namespace',
          withCtx({ [POD_NS]: 'Not_A_Namespace' }),
          /^volume_context\["csi\.storage\.k8s\.io\/pod\.namespace"\]: .* is not a valid namespace name/,
        ],
        [
          'a pod namespace longer than 63 characters',
          withCtx({ [POD_NS]: 'n'.repeat(64) }),
          /^volume_context\["csi\.storage\.k8s\.io\/pod\.namespace"\]: .* is not a valid namespace name/,
        ],
        [
          'no pod uid',
          withCtx({ 'csi.storage.k8s.io/pod.uid': undefined }),
          /^volume_context\["csi\.storage\.k8s\.io\/pod\.uid"\]: required/,
        ],
        // Pod attributes forged in volumeAttributes (a CSIDriver without podInfoOnMount) name another pod.
        [
          "a pod uid that is not the target's pod",
          withCtx({ 'csi.storage.k8s.io/pod.uid': 'forged' }),
          /^volume_context\["csi\.storage\.k8s\.io\/pod\.uid"\]: "forged" is not the pod of target_path/,
        ],
      ];
      for (const [name, req, want] of cases) {
        const e = await callError(node(), 'NodePublishVolume', req);
        assert.equal(e.code, status.INVALID_ARGUMENT, `${name}: code ${status[e.code]} (${e.details})`);
        assert.match(e.details, want, name);
      }
      const unpublish: [string, NodeUnpublishVolumeRequest, RegExp][] = [
        ['unpublish without volume_id', { target_path: target }, /^volume_id: required/],
        [
          'unpublish outside the pods folder',
          { volume_id: 'v', target_path: '/etc' },
          /^target_path: .* is not under the kubelet's pods folder/,
        ],
      ];
      for (const [name, req, want] of unpublish) {
        const e = await callError(node(), 'NodeUnpublishVolume', req);
        assert.equal(e.code, status.INVALID_ARGUMENT, name);
        assert.match(e.details, want, name);
      }
      const noPath = await callError(node(), 'NodeGetVolumeStats', { volume_id: 'v' });
      assert.equal(noPath.code, status.INVALID_ARGUMENT);
      assert.match(noPath.details, /^volume_path: required/);
      // Stats is a look-up: where the plugin never puts a volume, there is none (NotFound).
      const stats = await callError(node(), 'NodeGetVolumeStats', { volume_id: 'v', volume_path: '/proc' });
      assert.equal(stats.code, status.NOT_FOUND);
      assert.match(stats.details, /^volume_path: .* is not under the kubelet's pods folder/);
      assert.equal(existsSync(target), false, 'nothing created');
      assert.equal(ns.mountsUnder(l.kubeletDir).length, 0);
    });

    test('a target reached through a symlink is refused', async () => {
      const podDir = path.join(l.kubeletDir, 'pods', 'pod-symlink', 'volumes', 'kubernetes.io~csi');
      mkdirSync(podDir, { recursive: true });
      const outside = path.join(l.root, 'outside');
      mkdirSync(outside, { recursive: true });
      symlinkSync(outside, path.join(podDir, 'vol'));
      const e = await callError(
        node(),
        'NodePublishVolume',
        publishRequest(path.join(podDir, 'vol', 'mount'), 'sched', 'monitoring'),
      );
      assert.equal(e.code, status.INVALID_ARGUMENT);
      assert.match(e.details, /resolves to .* through a symlink/);
      assert.equal(ns.mountsUnder(l.root).length, 0);
      // Refused before the target is created: creating it would have made folders at the link's far end
      // (mkdir follows the link), anywhere on the node, even where the link points at nothing yet.
      assert.equal(existsSync(path.join(outside, 'mount')), false, 'a folder was created outside the pods folder');
      symlinkSync(path.join(outside, 'not', 'yet'), path.join(podDir, 'dangling'));
      const d = await callError(
        node(),
        'NodePublishVolume',
        publishRequest(path.join(podDir, 'dangling', 'mount'), 'sched', 'monitoring'),
      );
      assert.equal(d.code, status.INVALID_ARGUMENT);
      assert.match(d.details, /through a symlink/);
      assert.equal(
        existsSync(path.join(outside, 'not')),
        false,
        'folders were created at the far end of a dangling link',
      );
    });

    test('volume stats: healthy with usage; abnormal without the socket; abnormal when no longer mounted; NotFound for a missing path', async () => {
      const target = newTarget();
      await call(node(), 'NodePublishVolume', publishRequest(target, 'sched', 'monitoring'));
      const stop = await serveVolume(target);
      const ok = await call(node(), 'NodeGetVolumeStats', { volume_id: 'v', volume_path: target });
      assert.deepEqual(ok.volume_condition, {
        abnormal: false,
        message: 'relay folder mounted read-only, socket present',
      });
      assert.deepEqual(
        ok.usage.map((u) => u.unit),
        ['BYTES', 'INODES'],
      );

      // The agent closes the volume's socket (relay stopped, right revoked): visible through the mount.
      await stop();
      const noSocket = await call(node(), 'NodeGetVolumeStats', { volume_id: 'v', volume_path: target });
      assert.equal(noSocket.volume_condition?.abnormal, true);
      assert.match(noSocket.volume_condition.message ?? '', /socket is not in/);

      // Unmounted behind the plugin's back.
      assert.equal((await ns.exec('umount', [target])).code, 0);
      const gone = await call(node(), 'NodeGetVolumeStats', { volume_id: 'v', volume_path: target });
      assert.equal(gone.volume_condition?.abnormal, true);
      assert.match(gone.volume_condition.message ?? '', /is not a mount point/);

      const missing = await callError(node(), 'NodeGetVolumeStats', { volume_id: 'v', volume_path: newTarget() });
      assert.equal(missing.code, status.NOT_FOUND);
      await call(node(), 'NodeUnpublishVolume', { volume_id: 'v', target_path: target });
    });

    test('unpublish: unmounts and removes the target; again: OK; a target never published: OK', async () => {
      const target = newTarget();
      await call(node(), 'NodePublishVolume', publishRequest(target, 'sched', 'monitoring'));
      assert.ok(ns.mountAt(target));
      assert.deepEqual(await call(node(), 'NodeUnpublishVolume', { volume_id: 'v', target_path: target }), {});
      assert.equal(ns.mountAt(target), undefined);
      assert.equal(existsSync(target), false);
      assert.ok(existsSync(path.join(l.socketDir, 'sched', 'socket')), 'the relay folder is untouched');
      assert.equal(
        existsSync(volumeRecordPath(l.socketDir, volumeKey(volumeIdOf(target)))),
        false,
        "the volume's record is removed (the agent closes its socket)",
      );
      assert.deepEqual(await call(node(), 'NodeUnpublishVolume', { volume_id: 'v', target_path: target }), {});
      assert.deepEqual(await call(node(), 'NodeUnpublishVolume', { volume_id: 'v', target_path: newTarget() }), {});
      // Stacked mounts at one target (a publish raced elsewhere) all go.
      const stacked = newTarget();
      await call(node(), 'NodePublishVolume', publishRequest(stacked, 'sched', 'monitoring'));
      assert.equal((await ns.exec('mount', ['--bind', path.join(l.socketDir, 'etcd'), stacked])).code, 0);
      await call(node(), 'NodeUnpublishVolume', { volume_id: 'v', target_path: stacked });
      assert.equal(ns.mountAt(stacked), undefined);
      assert.equal(ns.mountsUnder(l.root).length, 0, 'no mount left');
    });

    test('a plugin restart (SIGTERM, then SIGKILL) leaves the mount in place and the restarted plugin serves it', async () => {
      const target = newTarget();
      await call(node(), 'NodePublishVolume', publishRequest(target, 'sched', 'monitoring'));
      const stop = await serveVolume(target);
      for (const how of ['SIGTERM', 'SIGKILL'] as const) {
        await restart(how);
        const m = ns.mountAt(target);
        assert.ok(m && m.readOnly, `still mounted read-only after ${how}`);
        assert.equal(await throughSocket(target), 'pong', `still served after ${how}`);
        const st = await call(node(), 'NodeGetVolumeStats', { volume_id: 'v', volume_path: target });
        assert.deepEqual(st.volume_condition, {
          abnormal: false,
          message: 'relay folder mounted read-only, socket present',
        });
        await call(node(), 'NodePublishVolume', publishRequest(target, 'sched', 'monitoring'));
        assert.equal(ns.mounts().filter((x) => x.mountPoint === target).length, 1);
      }
      await stop();
      await call(node(), 'NodeUnpublishVolume', { volume_id: 'v', target_path: target });
      assert.equal(ns.mountsUnder(l.root).length, 0);
    });

    test('malformed calls get a gRPC error and the plugin keeps serving', async () => {
      // readonly (field 6, a varint) cut in the middle: the request cannot be decoded.
      const garbage = await new Promise<{ code: number; details: string }>((resolve) => {
        node().makeUnaryRequest(
          '/csi.v1.Node/NodePublishVolume',
          (b: Buffer) => b,
          (b: Buffer) => b,
          Buffer.from([0x30, 0xff]),
          { deadline: Date.now() + 10_000 },
          (e) => resolve({ code: e ? e.code : -1, details: e?.details ?? '' }),
        );
      });
      assert.equal(garbage.code, status.INTERNAL, garbage.details);
      assert.match(garbage.details, /deserializing/);
      const unknown = await new Promise<{ code: number }>((resolve) => {
        node().makeUnaryRequest(
          '/csi.v1.Node/NodeStageVolume',
          (b: Buffer) => b,
          (b: Buffer) => b,
          Buffer.alloc(0),
          { deadline: Date.now() + 10_000 },
          (e) => resolve({ code: e ? e.code : -1 }),
        );
      });
      assert.equal(unknown.code, status.UNIMPLEMENTED);
      const nul = await callError(node(), 'NodePublishVolume', {
        ...publishRequest(newTarget(), 'sched', 'monitoring'),
        target_path: `${l.kubeletDir}/pods/a\0b/mount`,
      });
      assert.equal(nul.code, status.INVALID_ARGUMENT);
      const huge = await callError(node(), 'NodeUnpublishVolume', {
        volume_id: 'x'.repeat(100_000),
        target_path: newTarget(),
      });
      assert.equal(huge.code, status.INVALID_ARGUMENT);
      assert.ok(plugin.proc.running());
      assert.deepEqual(await call(c.identity, 'Probe', {}), { ready: { value: true } });
    });

    test('a refused registration makes the plugin exit non-zero (to be restarted); its mounts stay', async () => {
      const target = newTarget();
      await call(node(), 'NodePublishVolume', publishRequest(target, 'sched', 'monitoring'));
      await call(c.registration, 'NotifyRegistrationStatus', {
        plugin_registered: false,
        error: 'test: driver name taken',
      });
      const exit = await plugin.proc.exited;
      assert.equal(exit.code, 1);
      assert.match(plugin.proc.logTail(200), /the kubelet refused the registration/);
      assert.ok(ns.mountAt(target), 'the mount stays');
      assert.equal(existsSync(plugin.registrationSocket), false, 'the registration socket is removed');
      // This last mount goes with the namespace, in after().
    });
  },
);
