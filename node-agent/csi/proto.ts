// Loads the two .proto files of the plugin (CSI Identity + Node, and the kubelet's plugin
// registration) into gRPC service definitions. Their TypeScript types (messages, handlers, clients) are
// generated from the same files with the same options (generated/, npm run gen:proto). The plugin and
// its tests load the very same files.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadPackageDefinition } from '@grpc/grpc-js';
import { loadSync, type Options } from '@grpc/proto-loader';
import type { ProtoGrpcType as CsiProto } from './generated/csi.js';
import type { ProtoGrpcType as RegistrationProto } from './generated/registration.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));

/**
 * The folder holding the .proto files: beside this module (the source tree, or dist/ when the build
 * copied them), else the source tree seen from dist/node-agent/csi/.
 */
function protoDir(): string {
  const candidates = [HERE, path.resolve(HERE, '..', '..', '..', 'node-agent', 'csi')];
  const found = candidates.find((d) => existsSync(path.join(d, 'csi.proto')));
  if (!found) throw new Error(`csi.proto not found in ${candidates.join(' or ')}`);
  return found;
}

/**
 * Decoding options: field names as in the .proto (volume_id), enums as their names, int64 as strings,
 * absent repeated and map fields as [] and {} (absent scalars and messages stay undefined: a missing
 * field and an empty one are told apart by the validation, not by the decoder). scripts/gen-proto-types.ts
 * turns them into the generator's flags, so the `…__Output` types say the same: `volume_context` always
 * there, `volume_id` maybe not.
 */
export const LOADER_OPTIONS: Options = {
  keepCase: true,
  enums: String,
  longs: String,
  arrays: true,
  objects: true,
  oneofs: true,
  defaults: false,
};

type CsiV1 = CsiProto['csi']['v1'];

/** Client constructors, typed by the generated services; `.service` is the server definition. */
export interface CsiServices {
  Identity: CsiV1['Identity'];
  Node: CsiV1['Node'];
  Registration: RegistrationProto['pluginregistration']['Registration'];
}

let cached: CsiServices | undefined;

/** The Identity, Node and Registration services (client constructors; `.service` is the server definition). */
export function loadServices(): CsiServices {
  if (cached) return cached;
  const dir = protoDir();
  // The generated ProtoGrpcType is what loadPackageDefinition makes of the same file with the same options:
  // the one place the types meet the loader's untyped result.
  const csi = loadPackageDefinition(loadSync(path.join(dir, 'csi.proto'), LOADER_OPTIONS)) as unknown as CsiProto;
  const reg = loadPackageDefinition(
    loadSync(path.join(dir, 'registration.proto'), LOADER_OPTIONS),
  ) as unknown as RegistrationProto;
  cached = {
    Identity: csi.csi.v1.Identity,
    Node: csi.csi.v1.Node,
    Registration: reg.pluginregistration.Registration,
  };
  return cached;
}
