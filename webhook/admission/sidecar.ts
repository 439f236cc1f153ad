// The container and the volume injected for one relay. The socat command line comes from
// relay/socat.ts (sidecarArgv), the only place where socat addresses are spelled.
import {
  CSI_DRIVER, CSI_RELAY_ATTRIBUTE, POD_SOCKET_DIR, relayDir, sidecarArgv, sidecarName, volumeName, type ResolvedRelay,
} from '../../relay/index.js';
import type { InjectOptions } from './options.js';
import type { RawContainer } from './pod-shape.js';

export function sidecarContainer(r: ResolvedRelay, o: InjectOptions): RawContainer {
  const resources = r.resources ?? o.resources;
  const c: RawContainer = {
    name: sidecarName(r.name),
    image: o.sidecarImage,
    command: ['socat', ...sidecarArgv(r)],
    ports: [{ containerPort: r.listenPort, protocol: r.protocol }],
    resources: structuredClone(resources),
    securityContext: {
      runAsUser: o.uid,
      runAsGroup: o.gid,
      runAsNonRoot: true,
      readOnlyRootFilesystem: true,
      allowPrivilegeEscalation: false,
      capabilities: { drop: ['ALL'] },
      seccompProfile: { type: 'RuntimeDefault' },
    },
    volumeMounts: [{ name: volumeName(r.name), mountPath: relayDir(POD_SOCKET_DIR, r.name), readOnly: true }],
  };
  if (o.mode === 'native') c.restartPolicy = 'Always';
  return c;
}

// The CSI driver and its volume attribute are shared with the node plugin (relay/constants.ts).
export { CSI_DRIVER, CSI_RELAY_ATTRIBUTE };

export type SidecarVolume =
  | { name: string; hostPath: { path: string; type: string } }
  | { name: string; csi: { driver: string; readOnly: true; volumeAttributes: { relay: string } } };

/**
 * The relay's folder as a volume, named socat-<relay> in both sources so the sidecar's mount is the
 * same: a hostPath of the node's folder, or a read-only CSI ephemeral inline volume that the node
 * plugin fills after checking the pod's namespace against the relay's consumers.
 */
export function sidecarVolume(r: ResolvedRelay, o: InjectOptions): SidecarVolume {
  if (o.volumeSource === 'csi') {
    return { name: volumeName(r.name), csi: { driver: CSI_DRIVER, readOnly: true, volumeAttributes: { [CSI_RELAY_ATTRIBUTE]: r.name } as { relay: string } } };
  }
  return { name: volumeName(r.name), hostPath: { path: relayDir(o.nodeSocketDir, r.name), type: 'DirectoryOrCreate' } };
}
