// The kubernetes-csi sanity suite (csi-sanity, built by scripts/build-testbin.sh) against the real
// plugin, on the parts that apply to an ephemeral-only, read-only node plugin:
//   run:  Identity Service (all), Node Service: NodeGetCapabilities, NodeGetInfo, NodePublishVolume and
//         NodeUnpublishVolume argument checks, NodeGetVolumeStats argument and not-found checks; the
//         NodeStage/NodeUnstage/NodeExpand specs skip themselves (no such capability).
//   skip: Controller Service, GroupController, SnapshotService, ModifyVolume, ExpandVolume (no
//         controller service); the Node specs "should remove target path", "should fail when volume does
//         not exist on the specified path", "should work", "should be idempotent" — each provisions a
//         volume through the controller's CreateVolume and publishes it writable (readonly false),
//         which a plugin that serves only read-only inline volumes refuses by design. Publish,
//         unpublish, idempotence and stats of real volumes are covered by plugin.test.ts.
// csi-sanity's Node BeforeEach asks ControllerGetCapabilities even when the plugin has no controller
// service, so for the Node specs a stub controller (controller-stub.proto) answers on its own socket;
// the Identity specs run without it (csi-sanity would test the stub's Identity too). In CI a missing
// csi-sanity or root fails the suite instead of skipping it.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { accessSync, constants, mkdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import {
  loadPackageDefinition,
  Server,
  ServerCredentials,
  type GrpcObject,
  type ServiceClientConstructor,
} from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import { DEFAULT_TESTBIN } from '../../harness/binaries.js';
import { csiUnavailable, makeLayout, MountNamespace, startPlugin, type Layout, type Plugin } from './plugin.js';
import { required } from '../../harness/required.js';

const CSI_SANITY = path.join(DEFAULT_TESTBIN, 'csi-sanity');
const HERE = path.dirname(fileURLToPath(import.meta.url));

function sanityUnavailable(): string | null {
  const why = csiUnavailable();
  if (why) return why;
  try {
    accessSync(CSI_SANITY, constants.X_OK);
  } catch {
    return `csi-sanity not found at ${CSI_SANITY}: run 'bash scripts/build-testbin.sh csi-sanity' (needs Go), or set TESTBIN_DIR`;
  }
  return null;
}

const SKIP = [
  'Controller Service',
  'GroupController',
  'SnapshotService',
  'ModifyVolume',
  'ExpandVolume',
  'should remove target path',
  'should fail when volume does not exist on the specified path',
  'should work',
  'should be idempotent',
];

const skip = required(sanityUnavailable());

describe(
  'csi-sanity against the plugin (Identity + the Node checks that apply to ephemeral read-only volumes)',
  { skip },
  () => {
    let l: Layout;
    let ns: MountNamespace;
    let plugin: Plugin;
    let stub: Server;
    let stubSocket: string;

    before(async () => {
      l = makeLayout('csi-sanity');
      ns = await MountNamespace.create(path.join(l.logDir, 'namespace.log'));
      plugin = await startPlugin(ns, l, ['--no-register']);
      const pkg = loadPackageDefinition(loadSync(path.join(HERE, 'controller-stub.proto')));
      const Controller = ((pkg.csi as GrpcObject).v1 as GrpcObject).Controller as ServiceClientConstructor;
      stub = new Server();
      stub.addService(Controller.service, {
        ControllerGetCapabilities: (_call: unknown, cb: (e: null, r: object) => void) =>
          cb(null, { capabilities: [{ rpc: { type: 0 } }] }),
      });
      stubSocket = path.join(l.root, 'controller-stub.sock');
      await new Promise<void>((resolve, reject) =>
        stub.bindAsync(`unix:${stubSocket}`, ServerCredentials.createInsecure(), (e) => (e ? reject(e) : resolve())),
      );
    });

    after(async () => {
      stub?.forceShutdown();
      await plugin?.proc.stop();
      await ns?.destroy();
    });

    async function sanity(args: string[]): Promise<{ text: string; passed: number }> {
      const out = await new Promise<{ code: number; text: string }>((resolve) => {
        execFile(
          CSI_SANITY,
          [...args, `--ginkgo.skip=${SKIP.join('|')}`, '--ginkgo.v', '--ginkgo.no-color', '--ginkgo.timeout=5m'],
          { timeout: 6 * 60_000, maxBuffer: 16 * 1024 * 1024 },
          (err, stdout, stderr) => {
            resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, text: `${stdout}\n${stderr}` });
          },
        );
      });
      const summary =
        /Ran (\d+) of (\d+) Specs.*\n(SUCCESS|FAIL)! -- (\d+) Passed \| (\d+) Failed \| (\d+) Pending \| (\d+) Skipped/.exec(
          out.text,
        );
      assert.ok(summary, `no csi-sanity summary in its output:\n${out.text.slice(-4000)}`);
      assert.equal(out.code, 0, `csi-sanity failed:\n${out.text.slice(-8000)}`);
      return { text: out.text, passed: Number(summary[4]) };
    }

    // csi-sanity creates <mountdir> and <stagingdir> itself (not their parent); the plugin only accepts
    // targets under <kubelet-dir>/pods/.
    const dirs = (): string[] => {
      const parent = path.join(l.kubeletDir, 'pods', 'csi-sanity');
      mkdirSync(parent, { recursive: true });
      return [`--csi.mountdir=${path.join(parent, 'mount')}`, `--csi.stagingdir=${path.join(parent, 'staging')}`];
    };

    test('Identity Service: every spec passes', async () => {
      // Without a controller endpoint: with one, csi-sanity would run the Identity specs against the stub too.
      const r = await sanity([
        `--csi.endpoint=unix://${plugin.csiSocket}`,
        ...dirs(),
        '--ginkgo.focus=Identity Service',
      ]);
      for (const spec of [
        'GetPluginCapabilities should return appropriate capabilities',
        'Probe should return appropriate information',
        'GetPluginInfo should return appropriate information',
      ]) {
        assert.ok(r.text.includes(`Identity Service ${spec}`), `ran: ${spec}`);
      }
      assert.equal(r.passed, 3);
    });

    test('Node Service: the specs that apply pass, and they really ran', async () => {
      const r = await sanity([
        `--csi.endpoint=unix://${plugin.csiSocket}`,
        `--csi.controllerendpoint=unix://${stubSocket}`,
        ...dirs(),
        '--ginkgo.focus=Node Service',
      ]);
      for (const spec of [
        'NodeGetCapabilities should return appropriate capabilities',
        'NodeGetInfo should return appropriate values',
        'NodePublishVolume should fail when no volume id is provided',
        'NodePublishVolume should fail when no target path is provided',
        'NodePublishVolume should fail when no volume capability is provided',
        'NodeUnpublishVolume should fail when no volume id is provided',
        'NodeUnpublishVolume should fail when no target path is provided',
        'NodeGetVolumeStats should fail when no volume id is provided',
        'NodeGetVolumeStats should fail when no volume path is provided',
        'NodeGetVolumeStats should fail when volume is not found',
      ]) {
        assert.ok(r.text.includes(`Node Service ${spec}`), `ran: ${spec}`);
      }
      assert.equal(r.passed, 10);
      assert.equal(ns.mountsUnder(l.root).length, 0, 'csi-sanity left no mount');
    });
  },
);
