// Validation of the Node calls, before anything touches the filesystem (the order and the wording
// follow spiffe-csi): each problem is an InvalidArgument naming the field. Pure: request in, checked
// values out.
import path from 'node:path';
import { CSI_RELAY_ATTRIBUTE, isNamespaceName, isRelayName, shown } from '../../relay/index.js';
import type { NodeGetVolumeStatsRequest__Output } from './generated/csi/v1/NodeGetVolumeStatsRequest.js';
import type { NodePublishVolumeRequest__Output } from './generated/csi/v1/NodePublishVolumeRequest.js';
import type { NodeUnpublishVolumeRequest__Output } from './generated/csi/v1/NodeUnpublishVolumeRequest.js';
import { CsiError, invalid, status } from './errors.js';

/** Volume attributes the kubelet adds (podInfoOnMount, ephemeral); the plugin's own is `relay`. */
const CTX_EPHEMERAL = 'csi.storage.k8s.io/ephemeral';
const CTX_POD_NAMESPACE = 'csi.storage.k8s.io/pod.namespace';
const CTX_POD_NAME = 'csi.storage.k8s.io/pod.name';
const CTX_POD_UID = 'csi.storage.k8s.io/pod.uid';
const KUBELET_CTX_PREFIX = 'csi.storage.k8s.io/';
const CTX_RELAY = CSI_RELAY_ATTRIBUTE;

/** Single-node modes: an inline volume is one pod's, and the kubelet sends SINGLE_NODE_WRITER for it. */
const ACCEPTED_ACCESS_MODES = new Set([
  'SINGLE_NODE_WRITER',
  'SINGLE_NODE_READER_ONLY',
  'SINGLE_NODE_SINGLE_WRITER',
  'SINGLE_NODE_MULTI_WRITER',
]);
const MAX_ID = 256;
const MAX_PATH = 4096;

export interface PublishParams {
  volumeId: string;
  targetPath: string;
  relay: string;
  namespace: string;
  /** The pod's uid (checked against target_path). */
  podUid: string;
  pod?: string;
}

export interface UnpublishParams {
  volumeId: string;
  targetPath: string;
}

/** The folder under which the kubelet puts every pod's volumes: `<kubelet-dir>/pods`. */
export function podsDir(kubeletDir: string): string {
  return path.posix.join(kubeletDir, 'pods');
}

function volumeId(v: string | undefined): string {
  if (!v) throw invalid('volume_id', 'required');
  if (v.length > MAX_ID) throw invalid('volume_id', `longer than ${MAX_ID} characters`);
  return v;
}

/**
 * A target path the plugin may mount on or unmount: absolute, already normal (no `.`, `..`, `//` or
 * trailing `/`), strictly under the kubelet's pods folder. The kubelet is trusted, but a path outside
 * that folder would let whoever reaches the socket mount over (or unmount) anything on the node.
 */
export function checkTargetPath(field: string, v: string | undefined, pods: string): string {
  if (!v) throw invalid(field, 'required');
  if (v.length > MAX_PATH) throw invalid(field, `longer than ${MAX_PATH} characters`);
  if (v.includes('\0')) throw invalid(field, 'contains a NUL character');
  if (!path.posix.isAbsolute(v)) throw invalid(field, `"${shown(v, 200)}" is not an absolute path`);
  if (path.posix.normalize(v) !== v || v.endsWith('/'))
    throw invalid(field, `"${shown(v, 200)}" is not a normal path (no ".", "..", "//" or trailing "/")`);
  if (!v.startsWith(`${pods}/`))
    throw invalid(field, `"${shown(v, 200)}" is not under the kubelet's pods folder ${pods}`);
  return v;
}

function accessModeName(mode: string | number | undefined): string {
  return mode === undefined ? 'none' : String(mode);
}

/** The volume capability the plugin serves: a plain mount without file system or flags, one node. */
function checkCapability(cap: NodePublishVolumeRequest__Output['volume_capability']): void {
  if (!cap) throw invalid('volume_capability', 'required');
  if (cap.block || cap.access_type === 'block')
    throw invalid('volume_capability', 'block access is not supported: the volume is a folder (a plain mount)');
  if (!cap.mount) throw invalid('volume_capability', 'must be a mount (access type "mount")');
  if (cap.mount.fs_type)
    throw invalid(
      'volume_capability.mount.fs_type',
      `must be empty (the relay folder is bind-mounted), got "${shown(cap.mount.fs_type)}"`,
    );
  if (cap.mount.mount_flags.length > 0)
    throw invalid(
      'volume_capability.mount.mount_flags',
      'must be empty (the relay folder is always bind-mounted read-only)',
    );
  // A number outside the enum arrives as that number, not a name (the type knows only the names).
  const mode: string | number | undefined = cap.access_mode?.mode;
  if (typeof mode !== 'string' || !ACCEPTED_ACCESS_MODES.has(mode)) {
    throw invalid(
      'volume_capability.access_mode',
      `must be a single-node mode (the kubelet sends SINGLE_NODE_WRITER for an inline volume), got ${accessModeName(mode)}`,
    );
  }
}

export function validatePublish(req: NodePublishVolumeRequest__Output, pods: string): PublishParams {
  const id = volumeId(req.volume_id);
  const targetPath = checkTargetPath('target_path', req.target_path, pods);
  checkCapability(req.volume_capability);
  if (req.readonly !== true)
    throw invalid('readonly', "must be set to 'true' (readOnly: true on the pod's csi volume)");
  const ctx = req.volume_context;
  if (ctx[CTX_EPHEMERAL] !== 'true') {
    throw invalid(
      `volume_context["${CTX_EPHEMERAL}"]`,
      'only ephemeral inline volumes (a csi volume in the pod spec) are supported, not PersistentVolumes',
    );
  }
  for (const k of Object.keys(ctx)) {
    if (k !== CTX_RELAY && !k.startsWith(KUBELET_CTX_PREFIX))
      throw invalid(`volume_context["${shown(k)}"]`, `unknown volume attribute (the only one is "${CTX_RELAY}")`);
  }
  const relay = ctx[CTX_RELAY];
  if (!relay)
    throw invalid(
      `volume_context["${CTX_RELAY}"]`,
      "required: the relay's name (volumeAttributes.relay on the pod's csi volume)",
    );
  if (!isRelayName(relay))
    throw invalid(`volume_context["${CTX_RELAY}"]`, `"${shown(relay)}" is not a valid relay name`);
  const namespace = ctx[CTX_POD_NAMESPACE];
  if (!namespace)
    throw invalid(
      `volume_context["${CTX_POD_NAMESPACE}"]`,
      "required: the pod's namespace, which the kubelet passes when the CSIDriver sets podInfoOnMount: true",
    );
  if (!isNamespaceName(namespace))
    throw invalid(`volume_context["${CTX_POD_NAMESPACE}"]`, `"${shown(namespace)}" is not a valid namespace name`);
  // The kubelet writes the pod attributes over any of the same name in the pod's volumeAttributes, but
  // only with podInfoOnMount. Tie them to the target path, which only the kubelet chooses
  // (<pods>/<pod uid>/volumes/…): a pod cannot know its own uid before it exists, so it cannot forge
  // a namespace that passes this even where a CSIDriver lacks podInfoOnMount.
  const uid = ctx[CTX_POD_UID];
  const targetUid = targetPath.slice(pods.length + 1).split('/')[0];
  if (!uid)
    throw invalid(
      `volume_context["${CTX_POD_UID}"]`,
      "required: the pod's uid, which the kubelet passes when the CSIDriver sets podInfoOnMount: true",
    );
  if (uid !== targetUid) {
    throw invalid(
      `volume_context["${CTX_POD_UID}"]`,
      `"${shown(uid)}" is not the pod of target_path (${pods}/${shown(targetUid ?? '')}/…): the pod attributes must come from the kubelet`,
    );
  }
  const pod = ctx[CTX_POD_NAME];
  return { volumeId: id, targetPath, relay, namespace, podUid: uid, ...(pod ? { pod } : {}) };
}

export function validateUnpublish(req: NodeUnpublishVolumeRequest__Output, pods: string): UnpublishParams {
  return { volumeId: volumeId(req.volume_id), targetPath: checkTargetPath('target_path', req.target_path, pods) };
}

/**
 * Stats is a look-up: a missing field is an InvalidArgument, but a path where this plugin never puts a
 * volume (not under the pods folder) is NotFound, as the CSI spec and csi-sanity expect.
 */
export function validateStats(req: NodeGetVolumeStatsRequest__Output, pods: string): UnpublishParams {
  const id = volumeId(req.volume_id);
  if (!req.volume_path) throw invalid('volume_path', 'required');
  try {
    return { volumeId: id, targetPath: checkTargetPath('volume_path', req.volume_path, pods) };
  } catch (e) {
    if (e instanceof CsiError) throw new CsiError(status.NOT_FOUND, `${e.message}: no volume of this plugin is there`);
    throw e;
  }
}
