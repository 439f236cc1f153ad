// What the injector needs besides the pod and the relays: settings from webhook/config.ts (or the
// inject command's flags), never read from the environment here.
import {
  DEFAULT_SIDECAR_UID,
  DEFAULT_SOCKET_DIR,
  DEFAULT_SOCKET_GID,
  type ResourceRequirements,
} from '../../relay/index.js';
import { DEFAULT_SIDECAR_IMAGE } from '../../lib/image.js';

export type SidecarMode = 'native' | 'regular';
/** How the relay's folder reaches the pod: a hostPath, or a CSI ephemeral inline volume (csi.socat.io). */
export type VolumeSource = 'hostPath' | 'csi';
export const VOLUME_SOURCES: readonly VolumeSource[] = ['hostPath', 'csi'];

export interface InjectOptions {
  sidecarImage: string;
  /** native: an initContainer with restartPolicy Always (API server ≥ 1.29); regular: a container. */
  mode: SidecarMode;
  /** hostPath (default; needs a namespace whose Pod Security level allows it) or csi (restricted-level). */
  volumeSource: VolumeSource;
  /** The node's socket root: the hostPath of each relay's folder; pods' own hostPaths near it are refused. */
  nodeSocketDir: string;
  uid: number;
  /** The sidecar's group: the group that owns the relay sockets (mode 0660). */
  gid: number;
  /** Used when the relay has no spec.sidecar.resources (which then replaces them as a whole). */
  resources: ResourceRequirements;
}

/** `<repository>-sidecar:<tag>` of the default image (lib/image.ts derives it). */
export { DEFAULT_SIDECAR_IMAGE };

const DEFAULT_SIDECAR_RESOURCES: ResourceRequirements = {
  requests: { cpu: '5m', memory: '8Mi' },
  limits: { memory: '32Mi' },
};

export function defaultInjectOptions(overrides: Partial<InjectOptions> = {}): InjectOptions {
  return {
    sidecarImage: DEFAULT_SIDECAR_IMAGE,
    mode: 'native',
    volumeSource: 'hostPath',
    nodeSocketDir: DEFAULT_SOCKET_DIR,
    uid: DEFAULT_SIDECAR_UID,
    gid: DEFAULT_SOCKET_GID,
    resources: DEFAULT_SIDECAR_RESOURCES,
    ...overrides,
  };
}
