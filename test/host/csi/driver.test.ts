// The driver's failure paths that real mounts cannot be made to take, through its Mounter seam (no
// root needed): a remount that fails must not leave a writable mount behind, an unmount that never
// takes ends in an error instead of a loop, and a failing mount command becomes an Internal error
// naming the paths.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { status } from '@grpc/grpc-js';
import { silentLogger } from '../../../lib/log.js';
import { Driver } from '../../../node-agent/csi/driver.js';
import { CsiError } from '../../../node-agent/csi/errors.js';
import type { NodePublishVolumeRequest__Output } from '../../../node-agent/csi/generated/csi/v1/NodePublishVolumeRequest.js';
import { mountContaining, parseMountInfo, type Mounter, type MountPoint } from '../../../node-agent/csi/mount.js';
import { volumeKey } from '../../../node-contract/index.js';

const root = mkdtempSync(path.join(os.tmpdir(), 'csi-driver-'));
after(() => rmSync(root, { recursive: true, force: true }));
mkdirSync(path.join(root, 'run', 'sched'), { recursive: true });
const target = path.join(root, 'kubelet', 'pods', 'uid', 'volumes', 'kubernetes.io~csi', 'v', 'mount');

/** A mount table in memory; each call may be made to fail. */
class FakeMounter implements Mounter {
  table: MountPoint[] = [];
  calls: string[] = [];
  failBind = false;
  failRemount = false;
  stuck = false;
  /** The mount the kubelet folder lies on: shared, as with mountPropagation: Bidirectional. */
  kubeletMount: MountPoint = {
    mountPoint: '/',
    root: '/',
    readOnly: false,
    fsType: 'ext4',
    source: '/dev/vda',
    shared: true,
  };
  async mountAt(t: string): Promise<MountPoint | undefined> {
    return [...this.table].reverse().find((m) => m.mountPoint === t);
  }
  async containing(dir: string): Promise<MountPoint | undefined> {
    return mountContaining([this.kubeletMount, ...this.table], dir);
  }
  async bind(source: string, t: string): Promise<void> {
    this.calls.push(`bind ${path.basename(source)}`);
    if (this.failBind) throw new Error('mount: permission denied');
    this.table.push({ mountPoint: t, root: source, readOnly: false, fsType: 'tmpfs', source: 'tmpfs', shared: false });
  }
  async remountReadOnly(t: string): Promise<void> {
    this.calls.push('remount ro');
    if (this.failRemount) throw new Error('mount: cannot remount read-only');
    const m = await this.mountAt(t);
    if (m) m.readOnly = true;
  }
  async unmount(t: string): Promise<void> {
    this.calls.push('umount');
    if (this.stuck) return;
    const i = this.table.map((m) => m.mountPoint).lastIndexOf(t);
    if (i >= 0) this.table.splice(i, 1);
  }
}

function driver(m: Mounter): Driver {
  return new Driver({
    driverName: 'csi.socat.io',
    nodeId: 'n',
    version: 't',
    configDir: path.join(root, 'relays.d'),
    socketDir: path.join(root, 'run'),
    kubeletDir: path.join(root, 'kubelet'),
    mounter: m,
    log: silentLogger,
    readRelay: async () => ({
      state: 'ok',
      file: 'sched.json',
      resolvedNames: undefined,
      relay: { name: 'sched', consumers: { namespaces: ['monitoring'] } } as never,
    }),
  });
}

/** A publish as the server hands it to the driver: decoded, so its repeated and map fields are there, if empty. */
const publish: NodePublishVolumeRequest__Output = {
  volume_id: 'csi-1',
  target_path: target,
  readonly: true,
  volume_capability: { mount: { mount_flags: [] }, access_mode: { mode: 'SINGLE_NODE_WRITER' } },
  publish_context: {},
  secrets: {},
  volume_context: {
    relay: 'sched',
    'csi.storage.k8s.io/ephemeral': 'true',
    'csi.storage.k8s.io/pod.namespace': 'monitoring',
    'csi.storage.k8s.io/pod.uid': 'uid',
  },
};

async function code(p: Promise<unknown>): Promise<{ code: number; message: string }> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof CsiError, String(e));
    return { code: e.code, message: e.message };
  }
  throw new Error('expected a CsiError');
}

test('a remount that fails undoes the bind mount: Internal, and no mount is left', async () => {
  const m = new FakeMounter();
  m.failRemount = true;
  const r = await code(driver(m).nodePublishVolume(publish));
  assert.equal(r.code, status.INTERNAL);
  assert.match(r.message, /cannot make .* read-only/);
  // The volume's own folder (node-contract/volumes.ts), not the relay's: the agent serves it while the right holds.
  assert.deepEqual(m.calls, [`bind ${volumeKey('csi-1')}`, 'remount ro', 'umount']);
  assert.equal(m.table.length, 0);
});

test('a bind that fails: Internal naming source and target', async () => {
  const m = new FakeMounter();
  m.failBind = true;
  const r = await code(driver(m).nodePublishVolume(publish));
  assert.equal(r.code, status.INTERNAL);
  assert.match(
    r.message,
    new RegExp(
      `cannot bind-mount .*run/\\.volumes/sockets/${volumeKey('csi-1')} at .*/mount: mount: permission denied`,
    ),
  );
});

test('a target that is already a mount of another folder: AlreadyExists, nothing mounted over it', async () => {
  const m = new FakeMounter();
  const d = driver(m);
  mkdirSync(target, { recursive: true });
  // The target folder is not the relay's folder (another inode): a foreign mount.
  m.table.push({ mountPoint: target, root: '/', readOnly: false, fsType: 'tmpfs', source: 'tmpfs', shared: false });
  const r = await code(d.nodePublishVolume(publish));
  assert.equal(r.code, status.ALREADY_EXISTS);
  assert.deepEqual(m.calls, [], 'nothing mounted over a foreign mount');
  rmSync(target, { recursive: true });
});

test('an unmount that never takes ends in Internal after a bounded number of tries', async () => {
  const m = new FakeMounter();
  m.stuck = true;
  m.table.push({ mountPoint: target, root: '/x', readOnly: true, fsType: 'tmpfs', source: 'tmpfs', shared: false });
  const r = await code(driver(m).nodeUnpublishVolume({ volume_id: 'csi-1', target_path: target }));
  assert.equal(r.code, status.INTERNAL);
  assert.match(r.message, /still a mount point after 8 unmounts/);
  assert.equal(m.calls.length, 8);
});

test('a kubelet folder on a mount that is not shared (no Bidirectional propagation): publish is refused naming why, Probe answers not ready', async () => {
  const m = new FakeMounter();
  m.kubeletMount = { ...m.kubeletMount, shared: false };
  const d = driver(m);
  const r = await code(d.nodePublishVolume(publish));
  assert.equal(r.code, status.FAILED_PRECONDITION);
  assert.match(
    r.message,
    /kubelet's pods folder .*\/kubelet\/pods lies on mount \/, which is not shared in this container: .*mountPropagation: Bidirectional/,
  );
  assert.deepEqual(m.calls, [], 'nothing mounted');
  assert.deepEqual(await d.probe(), { ready: { value: false } });
  m.kubeletMount = { ...m.kubeletMount, shared: true };
  assert.deepEqual(await d.probe(), { ready: { value: true } });
});

test('mountinfo: the shared peer group is read from the optional fields; the containing mount is the deepest at or above a folder', () => {
  const text = [
    '22 1 254:0 / / rw,relatime shared:1 - ext4 /dev/vda rw',
    '30 22 0:25 / /run rw,nosuid - tmpfs tmpfs rw',
    '31 22 0:26 / /var/lib/kubelet rw shared:5 master:1 - tmpfs tmpfs rw',
    '32 31 0:26 /pods/x /var/lib/kubelet/pods/x rw - tmpfs tmpfs rw',
  ].join('\n');
  const mounts = parseMountInfo(text);
  assert.deepEqual(
    mounts.map((x) => x.shared),
    [true, false, true, false],
  );
  assert.equal(mountContaining(mounts, '/var/lib/kubelet/pods')!.mountPoint, '/var/lib/kubelet');
  assert.equal(mountContaining(mounts, '/var/lib/kubeletx')!.mountPoint, '/');
  assert.equal(mountContaining(mounts, '/run/socat-relay')!.shared, false);
  assert.equal(mountContaining(mounts, '/var/lib/kubelet/pods/x/y')!.mountPoint, '/var/lib/kubelet/pods/x');
});
