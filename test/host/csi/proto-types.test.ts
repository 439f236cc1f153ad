// The CSI plugin's gRPC types are generated from its .proto files (node-agent/csi/generated/, npm run gen:proto)
// with the options the plugin loads them with. Fails when the committed folder is stale (a .proto or the loader's
// options changed and the folder was not regenerated, or a generated file was edited by hand), and shows that the
// check sees each kind of staleness. No root needed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { TestContext } from 'node:test';
import { differences, generate, generatorFlags, HEADER, OUT_DIR } from '../../../scripts/gen-proto-types.js';
import type { NodeHandlers } from '../../../node-agent/csi/generated/csi/v1/Node.js';
import type { NodePublishVolumeRequest } from '../../../node-agent/csi/generated/csi/v1/NodePublishVolumeRequest.js';
import type { VolumeCapability } from '../../../node-agent/csi/generated/csi/v1/VolumeCapability.js';
import { LOADER_OPTIONS, loadServices } from '../../../node-agent/csi/proto.js';

function tempDir(t: TestContext, prefix: string): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), `${prefix}-`));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** What the generator writes now, in a temp folder. */
function fresh(t: TestContext): string {
  const dir = tempDir(t, 'proto-fresh');
  generate(dir);
  return dir;
}

test('node-agent/csi/generated/ is what proto-loader-gen-types writes from the .proto files (else: npm run gen:proto)', (t) => {
  assert.deepEqual(differences(fresh(t), OUT_DIR), []);
});

test('a stale generated folder is reported file by file: a changed line, a missing file, a file no .proto makes', (t) => {
  const want = fresh(t);
  const copy = tempDir(t, 'proto-stale');
  cpSync(OUT_DIR, copy, { recursive: true });
  assert.deepEqual(differences(want, copy), [], 'the copy starts identical');

  const edited = path.join(copy, 'csi/v1/NodePublishVolumeRequest.ts');
  const text = readFileSync(edited, 'utf8');
  assert.ok(text.includes("'volume_id'?: (string);"));
  writeFileSync(edited, text.replace("'volume_id'?: (string);", "'volume_idd'?: (string);"));
  assert.deepEqual(differences(want, copy), [
    `csi/v1/NodePublishVolumeRequest.ts: line ${text.split('\n').indexOf("  'volume_id'?: (string);") + 1} is "  'volume_idd'?: (string);", expected "  'volume_id'?: (string);"`,
  ]);

  writeFileSync(edited, text);
  rmSync(path.join(copy, 'csi/v1/Topology.ts'));
  writeFileSync(path.join(copy, 'csi/v1/Old.ts'), HEADER);
  assert.deepEqual(differences(want, copy), [
    'csi/v1/Topology.ts: missing',
    'csi/v1/Old.ts: not generated from the .proto files',
  ]);
});

test("every generated file starts with the header saying it is generated and how; the imports carry NodeNext's .js", () => {
  const files = readdirSync(OUT_DIR, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.ts'));
  assert.ok(files.length > 30, `${files.length} files`);
  for (const f of files) assert.ok(readFileSync(path.join(OUT_DIR, f), 'utf8').startsWith(HEADER), f);
  assert.match(readFileSync(path.join(OUT_DIR, 'csi.ts'), 'utf8'), /from '\.\/csi\/v1\/Node\.js';/);
});

test("the generator's flags are the loader's options; an option the generator cannot express is refused", () => {
  assert.deepEqual(generatorFlags(LOADER_OPTIONS), [
    '--keepCase',
    '--enums=String',
    '--longs=String',
    '--arrays',
    '--objects',
    '--oneofs',
  ]);
  assert.throws(
    () => generatorFlags({ ...LOADER_OPTIONS, enums: Number }),
    /LOADER_OPTIONS\.enums = Number: proto-loader-gen-types has no flag for it/,
  );
  assert.throws(
    () => generatorFlags({ ...LOADER_OPTIONS, includeDirs: ['/x'] }),
    /LOADER_OPTIONS\.includeDirs = \/x: proto-loader-gen-types has no flag for it/,
  );
});

test('what the server decodes has the shape of the __Output type: maps and lists always there, absent scalars and messages not', () => {
  const { Node } = loadServices();
  const decode = Node.service.NodePublishVolume.requestDeserialize;
  assert.deepEqual(decode(Buffer.alloc(0)), { publish_context: {}, secrets: {}, volume_context: {} });
  const request: NodePublishVolumeRequest = {
    volume_id: 'v',
    volume_capability: { mount: {}, access_mode: { mode: 'SINGLE_NODE_WRITER' } },
  };
  const decoded = decode(Node.service.NodePublishVolume.requestSerialize(request));
  assert.deepEqual(decoded.volume_capability, {
    mount: { mount_flags: [] },
    access_mode: { mode: 'SINGLE_NODE_WRITER' },
    access_type: 'mount',
  });
  // A number outside the enum arrives as the number (node-agent/csi/validate.ts refuses it by its type).
  const unknownMode: VolumeCapability = { mount: {}, access_mode: { mode: 99 as never } };
  const odd = decode(Node.service.NodePublishVolume.requestSerialize({ volume_capability: unknownMode }));
  assert.equal(odd.volume_capability?.access_mode?.mode, 99);
});

// Compile-time checks: tsc (scripts/test.sh runs it before the suites) fails when one of these stops being an
// error, that is when the types stop catching a wrong field name, a wrong enum value or a wrong answer.
// @ts-expect-error -- volume_idd is not a field of NodePublishVolumeRequest.
const _wrongField: NodePublishVolumeRequest = { volume_idd: 'v' };
// @ts-expect-error -- MULTI_WRITER is not a VolumeCapability.AccessMode.Mode.
const _wrongEnum: VolumeCapability = { access_mode: { mode: 'MULTI_WRITER' } };
const _wrongAnswer: Pick<NodeHandlers, 'NodeGetInfo'> = {
  NodeGetInfo: (_call, callback) => {
    // @ts-expect-error -- nodeId is not a field of NodeGetInfoResponse (node_id is).
    callback(null, { nodeId: 'n' });
  },
};
