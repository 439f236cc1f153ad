// The plugin's pure parts, without root: reading mountinfo, the node file of one relay (node-contract's
// look-up, which the plugin shares with the agent: test/host/csi/one-reader.test.ts), the command line.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseCsiArgs, run as runCsi } from '../../../../cli/csi.js';
import { findMount, parseMountInfo } from '../../../../node-agent/csi/mount.js';
import { interpretConfig, lookupRelay, type ConfigFile, type FileError } from '../../../../node-contract/index.js';
import { checkTargetPath } from '../../../../node-agent/csi/validate.js';

test('mountinfo: escaped mount points, the per-mount ro flag, optional fields, the topmost of stacked mounts', () => {
  const text = [
    '22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw',
    '40 22 0:21 /socat-relay/sched /var/lib/kubelet/pods/a\\040b/mount ro,nosuid,nodev,noexec,relatime shared:5 master:2 - tmpfs tmpfs rw,size=100k',
    '41 40 0:21 /socat-relay/etcd /var/lib/kubelet/pods/a\\040b/mount rw,relatime - tmpfs tmpfs rw',
    'garbage line',
    '',
  ].join('\n');
  const mounts = parseMountInfo(text);
  assert.equal(mounts.length, 3);
  assert.deepEqual(mounts[1], {
    root: '/socat-relay/sched',
    mountPoint: '/var/lib/kubelet/pods/a b/mount',
    readOnly: true,
    fsType: 'tmpfs',
    source: 'tmpfs',
    shared: true,
  });
  assert.deepEqual(
    mounts.map((m) => m.shared),
    [true, true, false],
  );
  assert.equal(findMount(mounts, '/var/lib/kubelet/pods/a b/mount')?.root, '/socat-relay/etcd');
  assert.equal(findMount(mounts, '/var/lib/kubelet/pods/a\\040b/mount'), undefined);
  assert.equal(mounts[0]!.readOnly, false);
});

test('node file: the relay with the namespaces resolved by the controller; without the annotation: undefined; invalid definitions say why', () => {
  const relay = (name: string, annotations?: unknown, host = '127.0.0.1') =>
    JSON.stringify({
      apiVersion: 'socat.io/v1alpha1',
      kind: 'Relay',
      metadata: { name, ...(annotations ? { annotations } : {}) },
      spec: { target: { host, port: 2381 }, consumers: { namespaceSelector: { matchLabels: { a: 'b' } } } },
    });
  const lookup = (files: ConfigFile[], readErrors: FileError[] = []) =>
    lookupRelay(interpretConfig(files), 'etcd', readErrors);
  const ok = lookup([{ name: 'etcd.json', text: relay('etcd', { 'socat.io/consumer-namespaces': 'b, a,' }) }]);
  assert.equal(ok.state, 'ok');
  assert.deepEqual(ok.state === 'ok' && ok.resolvedNames, ['b', 'a']);
  const bare = lookup([{ name: 'etcd.json', text: relay('etcd') }]);
  assert.equal(bare.state === 'ok' && bare.resolvedNames, undefined);
  // Not a string: as if absent (only consumers.namespaces counts), never a list of names.
  const odd = lookup([{ name: 'etcd.json', text: relay('etcd', { 'socat.io/consumer-namespaces': ['a'] }) }]);
  assert.equal(odd.state === 'ok' && odd.resolvedNames, undefined);
  // The annotation of the document that defines the relay, not of another one in the same file.
  const two = lookup([
    {
      name: 'all.yaml',
      text: `${relay('sched', { 'socat.io/consumer-namespaces': 'x' })}\n---\n${relay('etcd', { 'socat.io/consumer-namespaces': 'y' })}`,
    },
  ]);
  assert.deepEqual(two.state === 'ok' && [two.file, two.resolvedNames], ['all.yaml', ['y']]);
  const invalid = lookup([{ name: 'etcd.yaml', text: relay('etcd', undefined, '10.0.0.1') }]);
  assert.deepEqual(invalid.state === 'invalid' && invalid.file, 'etcd.yaml');
  assert.match(invalid.state === 'invalid' ? invalid.error : '', /spec\.target\.host/);
  assert.deepEqual(
    lookup([{ name: 'etcd.yaml', text: relay('sched') }]),
    { state: 'missing' },
    'a file named etcd that holds another relay',
  );
  assert.deepEqual(
    lookup([{ name: 'etcd.yaml', text: '{' }]),
    { state: 'missing' },
    'a file that does not parse names no relay',
  );
  const unreadable = lookup([], [{ file: 'etcd.json', error: 'a relay file is not a regular file' }]);
  assert.deepEqual(
    unreadable,
    { state: 'invalid', file: 'etcd.json', error: 'a relay file is not a regular file' },
    'a file named after the relay that cannot be read',
  );
});

test('target paths: only normal absolute paths strictly under the pods folder', () => {
  const pods = '/var/lib/kubelet/pods';
  assert.equal(
    checkTargetPath('target_path', `${pods}/u/volumes/kubernetes.io~csi/v/mount`, pods),
    `${pods}/u/volumes/kubernetes.io~csi/v/mount`,
  );
  for (const bad of [
    '',
    'relative',
    `${pods}`,
    `${pods}/`,
    `${pods}/../x`,
    `${pods}/./x`,
    `${pods}/a/`,
    `${pods}x/y`,
    '/etc/passwd',
    `${pods}/a\0b`,
  ]) {
    assert.throws(() => checkTargetPath('target_path', bad, pods), /^CsiError: target_path: /, JSON.stringify(bad));
  }
});

test('csi command line: defaults, NODE_NAME, and refused values', () => {
  assert.deepEqual(
    parseCsiArgs([], {}, () => 'host-1'),
    {
      configDir: '/etc/socat-relay/relays.d',
      socketDir: '/run/socat-relay',
      kubeletDir: '/var/lib/kubelet',
      nodeId: 'host-1',
      driverName: 'csi.socat.io',
      register: true,
      healthListen: { host: '127.0.0.1', port: 9466 },
      logLevel: 'info',
    },
  );
  const a = parseCsiArgs(
    ['--kubelet-dir', '/k', '--no-register', '--driver-name', 'relay.example.com'],
    { NODE_NAME: 'node-7' },
    () => 'host-1',
  );
  assert.ok(a !== 'help');
  assert.equal(a.nodeId, 'node-7');
  assert.equal(a.kubeletDir, '/k');
  assert.equal(a.register, false);
  assert.equal(a.driverName, 'relay.example.com');
  assert.throws(() => parseCsiArgs(['--kubelet-dir', 'rel'], {}), /--kubelet-dir: must be an absolute path, got "rel"/);
  assert.throws(
    () => parseCsiArgs(['--driver-name', 'Bad_Name'], {}),
    /--driver-name: must be a DNS name of at most 63 characters \(lower case\), got "Bad_Name"/,
  );
  assert.throws(() => parseCsiArgs(['--node-id', 'n'.repeat(254)], {}), /--node-id: must be at most 253 characters/);
  assert.throws(() => parseCsiArgs([], { NODE_NAME: 'n'.repeat(254) }), /NODE_NAME: must be at most 253 characters/);
  assert.throws(() => parseCsiArgs(['--bogus'], {}), /bogus/);
  assert.equal(parseCsiArgs(['--help'], {}), 'help');
});

test("csi --health-listen: HOST:PORT or [V6]:PORT, '' and off disable it, bad values name the flag", () => {
  const health = (v: string) => {
    const a = parseCsiArgs(['--health-listen', v], {}, () => 'h');
    assert.ok(a !== 'help');
    return a.healthListen;
  };
  assert.deepEqual(health('127.0.0.1:19466'), { host: '127.0.0.1', port: 19466 });
  assert.deepEqual(health('[::1]:9466'), { host: '::1', port: 9466 });
  assert.deepEqual(health('127.0.0.1:0'), { host: '127.0.0.1', port: 0 });
  assert.equal(health(''), undefined);
  assert.equal(health('off'), undefined);
  for (const bad of ['9466', '127.0.0.1', '127.0.0.1:', '127.0.0.1:65536', '127.0.0.1:x', ':9466', 'a:b:9466', 'on']) {
    assert.throws(
      () => parseCsiArgs(['--health-listen', bad], {}),
      (e: Error) =>
        e.message.includes(
          `--health-listen: expected HOST:PORT, e.g. 127.0.0.1:9466 ('' or 'off' disables), got ${JSON.stringify(bad)}`,
        ),
      bad,
    );
  }
  assert.throws(() => parseCsiArgs(['--health-listen'], {}), /--health-listen/);
});

test('socat-relay csi with a bad --health-listen exits 2, naming the flag, before serving anything', async () => {
  let stderr = '';
  const io = {
    stdin: process.stdin,
    stdout: { write: () => true },
    stderr: {
      write: (s: string) => {
        stderr += s;
        return true;
      },
    },
    env: {},
  };
  assert.equal(await runCsi(['--health-listen', 'localhost'], io), 2);
  assert.match(stderr, /^csi: invalid csi settings:\n {2}--health-listen: expected HOST:PORT.*, got "localhost"\n/);
  assert.match(stderr, /usage: socat-relay csi/);
});
