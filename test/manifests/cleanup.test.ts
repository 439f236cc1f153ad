// The uninstall's last step: `socat-relay cleanup` removes exactly socat-relay's host folders (under a
// temp "host root" here, the node's / in the DaemonSet), and manifests/uninstall/ runs it that way.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { hostFolders, run } from '../../cli/cleanup.js';
import { DEFAULT_CONFIG_DIR, DEFAULT_SOCKET_DIR } from '../../relay/index.js';
import { loadManifests } from '../harness/manifest-load.js';

function io(env: Record<string, string> = {}) {
  const out = { stdout: '', stderr: '' };
  return {
    out,
    io: {
      stdin: process.stdin,
      stdout: { write: (s: string) => (out.stdout += s) },
      stderr: { write: (s: string) => (out.stderr += s) },
      env,
    },
  };
}

test('removes /etc/socat-relay and /run/socat-relay under the host root, and nothing beside them', async (t) => {
  const root = mkdtempSync(path.join(os.tmpdir(), 'socat-relay-host-'));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  assert.deepEqual(hostFolders(), ['/etc/socat-relay', '/run/socat-relay', '/var/lib/kubelet/plugins/csi.socat.io']);
  assert.equal(hostFolders('/data/kubelet')[2], '/data/kubelet/plugins/csi.socat.io');
  mkdirSync(path.join(root, 'var/lib/kubelet/plugins/csi.socat.io'), { recursive: true });
  mkdirSync(path.join(root, 'var/lib/kubelet/plugins/other.csi.example'), { recursive: true });
  mkdirSync(path.join(root, DEFAULT_CONFIG_DIR), { recursive: true });
  writeFileSync(path.join(root, DEFAULT_CONFIG_DIR, 'kube-scheduler.json'), '{}');
  mkdirSync(path.join(root, DEFAULT_SOCKET_DIR, '.agent'), { recursive: true });
  writeFileSync(path.join(root, DEFAULT_SOCKET_DIR, '.agent', 'status.json'), '{}');
  writeFileSync(path.join(root, 'etc', 'hostname'), 'node-1\n');
  mkdirSync(path.join(root, 'run', 'containerd'));
  const { out, io: cio } = io({ NODE_NAME: 'node-1' });
  assert.equal(await run(['--host-root', root], cio), 0, out.stderr);
  assert.equal(
    out.stdout,
    'removed /etc/socat-relay, /run/socat-relay, /var/lib/kubelet/plugins/csi.socat.io on node-1\n',
  );
  assert.deepEqual(
    [
      readdirSync(path.join(root, 'etc')),
      readdirSync(path.join(root, 'run')),
      readdirSync(path.join(root, 'var/lib/kubelet/plugins')),
    ],
    [['hostname'], ['containerd'], ['other.csi.example']],
  );
  const again = io();
  assert.equal(await run(['--host-root', root], again.io), 0);
  assert.equal(again.out.stdout, 'nothing to remove\n');
  let waited = false;
  assert.equal(
    await run(['--host-root', root, '--wait'], io().io, async () => {
      waited = true;
    }),
    0,
  );
  assert.ok(waited, '--wait stays up until the signal');
  assert.equal(await run(['--host-root', 'relative'], io().io), 2);
  assert.ok(!existsSync(path.join(root, DEFAULT_SOCKET_DIR)));
});

test("the cleanup DaemonSet runs that command on every node with the host's /etc and /run as its root", () => {
  const ds = loadManifests().find((l) => l.file === path.join('manifests', 'uninstall', 'node-cleanup.yaml'))!.object;
  const pod = ds.spec.template.spec;
  const c = pod.containers[0];
  assert.deepEqual(c.args, ['cleanup', '--host-root=/host', '--wait']);
  const mounts = Object.fromEntries(
    c.volumeMounts.map((m: any) => [m.mountPath, pod.volumes.find((v: any) => v.name === m.name).hostPath.path]),
  );
  assert.deepEqual(
    mounts,
    Object.fromEntries(hostFolders().map((f) => [path.join('/host', path.dirname(f)), path.dirname(f)])),
  );
  assert.deepEqual(pod.tolerations, [{ operator: 'Exists' }]);
  assert.deepEqual(c.securityContext.capabilities, { drop: ['ALL'] });
});
