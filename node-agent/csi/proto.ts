// Loads the two .proto files of the plugin (CSI Identity + Node, and the kubelet's plugin
// registration) into gRPC service definitions, with the TypeScript shapes of the messages we use.
// The plugin and its tests load the very same files.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadPackageDefinition, type GrpcObject, type ServiceClientConstructor } from '@grpc/grpc-js';
import { loadSync, type Options } from '@grpc/proto-loader';

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
 * absent repeated and map fields as [] and {} (absent scalars stay undefined: a missing field and an
 * empty one are told apart by the validation, not by the decoder).
 */
const LOADER_OPTIONS: Options = {
  keepCase: true,
  enums: String,
  longs: String,
  arrays: true,
  objects: true,
  oneofs: true,
  defaults: false,
};

export interface CsiServices {
  Identity: ServiceClientConstructor;
  Node: ServiceClientConstructor;
  Registration: ServiceClientConstructor;
}

let cached: CsiServices | undefined;

/** The Identity, Node and Registration services (client constructors; `.service` is the server definition). */
export function loadServices(): CsiServices {
  if (cached) return cached;
  const dir = protoDir();
  const csi = loadPackageDefinition(loadSync(path.join(dir, 'csi.proto'), LOADER_OPTIONS));
  const reg = loadPackageDefinition(loadSync(path.join(dir, 'registration.proto'), LOADER_OPTIONS));
  const v1 = (csi.csi as GrpcObject).v1 as GrpcObject;
  const pr = reg.pluginregistration as GrpcObject;
  cached = {
    Identity: v1.Identity as ServiceClientConstructor,
    Node: v1.Node as ServiceClientConstructor,
    Registration: pr.Registration as ServiceClientConstructor,
  };
  return cached;
}

// --- message shapes (as decoded with LOADER_OPTIONS; every field may be missing in a hostile call) ---

type AccessModeName =
  | 'UNKNOWN'
  | 'SINGLE_NODE_WRITER'
  | 'SINGLE_NODE_READER_ONLY'
  | 'MULTI_NODE_READER_ONLY'
  | 'MULTI_NODE_SINGLE_WRITER'
  | 'MULTI_NODE_MULTI_WRITER'
  | 'SINGLE_NODE_SINGLE_WRITER'
  | 'SINGLE_NODE_MULTI_WRITER';

interface VolumeCapability {
  block?: Record<string, never>;
  mount?: { fs_type?: string; mount_flags?: string[]; volume_mount_group?: string };
  access_mode?: { mode?: AccessModeName | number };
  access_type?: 'block' | 'mount';
}

export interface NodePublishVolumeRequest {
  volume_id?: string;
  publish_context?: Record<string, string>;
  staging_target_path?: string;
  target_path?: string;
  volume_capability?: VolumeCapability;
  readonly?: boolean;
  secrets?: Record<string, string>;
  volume_context?: Record<string, string>;
}

export interface NodeUnpublishVolumeRequest {
  volume_id?: string;
  target_path?: string;
}

export interface NodeGetVolumeStatsRequest {
  volume_id?: string;
  volume_path?: string;
  staging_target_path?: string;
}

export interface VolumeUsage {
  available: string;
  total: string;
  used: string;
  unit: 'BYTES' | 'INODES';
}

export interface NodeGetVolumeStatsResponse {
  usage: VolumeUsage[];
  volume_condition: { abnormal: boolean; message: string };
}

export interface NodeServiceCapability {
  rpc: { type: 'GET_VOLUME_STATS' | 'VOLUME_CONDITION' };
}

export interface PluginInfo {
  type: string;
  name: string;
  endpoint: string;
  supported_versions: string[];
}

export interface RegistrationStatus {
  plugin_registered?: boolean;
  error?: string;
}
