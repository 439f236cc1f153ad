// One reader for the node's relay files: the agent (which socat it runs, and to which target) and the
// CSI plugin (whether a pod's namespace may mount the relay's folder) must act on the same file when
// several files define one relay name — an admin's file beside the controller's, files named after
// the relay or not, several relays in one file, an invalid definition first. Each case puts real files
// into a folder, runs a real agent with real socat on it and asks it over the relay's socket which
// file's target it serves (every file points at its own HTTP service), and calls the CSI driver's
// NodePublishVolume (its default reader, a mount table in memory) for the namespace of each file: only
// the namespace of the file the agent serves may mount. The expected file is written in the table,
// from the rule (name order, first valid definition wins), not computed by the code under test.
import assert from 'node:assert/strict';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { test, type TestContext } from 'node:test';
import { status as grpc } from '@grpc/grpc-js';
import { stringify } from 'yaml';
import { silentLogger } from '../../../lib/log.js';
import { Driver } from '../../../node-agent/csi/driver.js';
import { CsiError } from '../../../node-agent/csi/errors.js';
import { mountContaining, type Mounter, type MountPoint } from '../../../node-agent/csi/mount.js';
import { readNodeRelay } from '../../../node-agent/csi/relays.js';
import { relayFileContent } from '../../../node-contract/index.js';
import type { Relay } from '../../../relay/index.js';
import {
  getViaSocket,
  httpService,
  readStatusFile,
  socatUnavailable,
  startAgent,
  tempDirs,
  waitFor,
  waitRunning,
} from '../../harness/agent.js';
import { required } from '../../harness/required.js';

const skip = required(socatUnavailable());
const RELAY = 'sched';

/** A mount table in memory: the driver's decisions without root. */
class MemoryMounter implements Mounter {
  table: MountPoint[] = [];
  async mountAt(t: string): Promise<MountPoint | undefined> {
    return this.table.find((m) => m.mountPoint === t);
  }
  async containing(dir: string): Promise<MountPoint | undefined> {
    return mountContaining(
      [
        { mountPoint: '/', root: '/', readOnly: false, fsType: 'ext4', source: '/dev/vda', shared: true },
        ...this.table,
      ],
      dir,
    );
  }
  async bind(source: string, t: string): Promise<void> {
    this.table.push({ mountPoint: t, root: source, readOnly: false, fsType: 'tmpfs', source: 'tmpfs', shared: false });
  }
  async remountReadOnly(t: string): Promise<void> {
    const m = await this.mountAt(t);
    if (m) m.readOnly = true;
  }
  async unmount(t: string): Promise<void> {
    this.table = this.table.filter((m) => m.mountPoint !== t);
  }
}

/** A file of the folder: who wrote it, which relays it defines (the first may be made invalid). */
interface NodeFile {
  file: string;
  by: 'controller' | 'admin';
  relays: string[];
  invalid?: boolean;
}
interface Case {
  name: string;
  files: NodeFile[];
  /** The file whose definition of RELAY the node serves; undefined: none. */
  expect: string | undefined;
}

const CASES: Case[] = [
  {
    name: "the controller's sched.json and an admin's sched.yaml: sched.json (first by name)",
    files: [
      { file: 'sched.json', by: 'controller', relays: [RELAY] },
      { file: 'sched.yaml', by: 'admin', relays: [RELAY] },
    ],
    expect: 'sched.json',
  },
  {
    name: "an admin's a-sched.yaml beside the controller's sched.json: a-sched.yaml (first by name, whatever its name says)",
    files: [
      { file: 'sched.json', by: 'controller', relays: [RELAY] },
      { file: 'a-sched.yaml', by: 'admin', relays: [RELAY] },
    ],
    expect: 'a-sched.yaml',
  },
  {
    name: "an admin's relays.yaml with two relays beside the controller's sched.json: relays.yaml",
    files: [
      { file: 'sched.json', by: 'controller', relays: [RELAY] },
      { file: 'relays.yaml', by: 'admin', relays: ['etcd', RELAY] },
    ],
    expect: 'relays.yaml',
  },
  {
    name: "an admin's zz.yaml after the controller's sched.json: sched.json",
    files: [
      { file: 'zz.yaml', by: 'admin', relays: [RELAY] },
      { file: 'sched.json', by: 'controller', relays: [RELAY] },
    ],
    expect: 'sched.json',
  },
  {
    name: 'an invalid sched.json and a valid sched.yml: sched.yml (an invalid definition hides nothing)',
    files: [
      { file: 'sched.json', by: 'admin', relays: [RELAY], invalid: true },
      { file: 'sched.yml', by: 'admin', relays: [RELAY] },
    ],
    expect: 'sched.yml',
  },
  {
    name: 'sched.yaml and sched.yml: sched.yaml',
    files: [
      { file: 'sched.yml', by: 'admin', relays: [RELAY] },
      { file: 'sched.yaml', by: 'admin', relays: [RELAY] },
    ],
    expect: 'sched.yaml',
  },
  {
    name: 'sched.json holds another relay, x.yaml holds sched: x.yaml',
    files: [
      { file: 'sched.json', by: 'admin', relays: ['other'] },
      { file: 'x.yaml', by: 'admin', relays: [RELAY] },
    ],
    expect: 'x.yaml',
  },
  {
    name: 'only sched.json holding another relay: sched is served by neither',
    files: [{ file: 'sched.json', by: 'admin', relays: ['other'] }],
    expect: undefined,
  },
];

/** The namespace only file `file` lets consume RELAY (its DNS-label form). */
const namespaceOf = (file: string): string => `ns-${file.replace(/[^a-z0-9]/g, '-')}`;

function relayDoc(name: string, file: string, port: number, invalid: boolean): Relay {
  return {
    apiVersion: 'socat.io/v1alpha1',
    kind: 'Relay',
    metadata: { name },
    spec: {
      target: { host: invalid ? '10.0.0.1' : '127.0.0.1', port },
      consumers: { namespaces: [namespaceOf(file)] },
    },
  };
}

async function writeFiles(t: TestContext, configDir: string, files: NodeFile[]): Promise<void> {
  for (const f of files) {
    const svc = await httpService(t, f.file);
    const docs = f.relays.map((r, i) => relayDoc(r, f.file, svc.port, i === 0 && f.invalid === true));
    const text = f.by === 'controller' ? relayFileContent(docs[0]!) : docs.map((d) => stringify(d)).join('---\n');
    await writeFile(path.join(configDir, f.file), text);
  }
}

async function publishVerdict(d: Driver, kubeletDir: string, namespace: string): Promise<'mounted' | number> {
  const uid = `uid-${namespace}`;
  try {
    await d.nodePublishVolume({
      volume_id: `csi-${namespace}`,
      target_path: path.join(kubeletDir, 'pods', uid, 'volumes', 'kubernetes.io~csi', 'socat-sched', 'mount'),
      readonly: true,
      volume_capability: { mount: { mount_flags: [] }, access_mode: { mode: 'SINGLE_NODE_WRITER' } },
      publish_context: {},
      secrets: {},
      volume_context: {
        relay: RELAY,
        'csi.storage.k8s.io/ephemeral': 'true',
        'csi.storage.k8s.io/pod.namespace': namespace,
        'csi.storage.k8s.io/pod.uid': uid,
      },
    });
    return 'mounted';
  } catch (e) {
    if (!(e instanceof CsiError)) throw e;
    return e.code;
  }
}

for (const c of CASES) {
  test(`one reader: ${c.name}`, { skip }, async (t) => {
    const dirs = await tempDirs(t, 'one-reader');
    await writeFiles(t, dirs.configDir, c.files);
    const kubeletDir = path.join(dirs.root, 'kubelet');
    await mkdir(path.join(kubeletDir, 'pods'), { recursive: true });
    t.after(() => rm(kubeletDir, { recursive: true, force: true }));

    // The agent: which file it reports, and which file's service its socat reaches.
    await startAgent(t, dirs);
    const others = new Set(c.files.flatMap((f) => f.relays).filter((r) => r !== RELAY));
    for (const r of others) await waitRunning(dirs.socketDir, r);
    if (c.expect) {
      await waitRunning(dirs.socketDir, RELAY);
      assert.equal(readStatusFile(dirs.socketDir).relays[RELAY]?.file, c.expect, "the file in the agent's status");
      assert.equal(
        await getViaSocket(path.join(dirs.socketDir, RELAY, 'socket'), '/which'),
        `${c.expect} GET /which`,
        "the service the agent's socat reaches",
      );
    } else {
      await waitFor("the agent's first status", () => readStatusFile(dirs.socketDir).agent.pid === process.pid);
      assert.equal(readStatusFile(dirs.socketDir).relays[RELAY], undefined, 'the agent serves no sched');
    }

    // The CSI plugin, through the reader its driver uses by default.
    const read = await readNodeRelay(dirs.configDir, RELAY);
    assert.equal(
      read.state === 'ok' ? read.file : undefined,
      c.expect,
      `the file the CSI plugin reads: ${JSON.stringify(read)}`,
    );
    await mkdir(path.join(dirs.socketDir, RELAY), { recursive: true });
    const d = new Driver({
      driverName: 'csi.socat.io',
      nodeId: 'n',
      version: 't',
      configDir: dirs.configDir,
      socketDir: dirs.socketDir,
      kubeletDir,
      mounter: new MemoryMounter(),
      log: silentLogger,
    });
    for (const f of c.files) {
      const verdict = await publishVerdict(d, kubeletDir, namespaceOf(f.file));
      const want = c.expect === undefined ? grpc.NOT_FOUND : f.file === c.expect ? 'mounted' : grpc.PERMISSION_DENIED;
      assert.equal(verdict, want, `NodePublishVolume for the namespace of ${f.file} (${namespaceOf(f.file)})`);
    }
  });
}
