// The container and the volume injected for one relay. The socat command line comes from
// relay/socat.ts (sidecarArgv), the only place where socat addresses are spelled.
import {
  CSI_DRIVER,
  CSI_RELAY_ATTRIBUTE,
  POD_SOCKET_DIR,
  relayDir,
  sidecarArgv,
  sidecarName,
  volumeName,
  type ResolvedRelay,
} from '../../relay/index.js';
import { rememberJson } from './json.js';
import type { InjectOptions } from './options.js';
import type { RawContainer } from './pod-shape.js';

/**
 * The container and the volume injected for a relay under given options, built once and shared by
 * every request: deep-frozen, so neither a pod nor a caller can change them, and with their JSON text
 * remembered for the patch (json.ts). Keyed on the resolved relay object, which validated.ts memoises
 * per catalog object (the catalog replaces an object on every change and never edits it), and checked
 * against the options' fields it was built from, so options edited in place are not served stale
 * (their resources by identity).
 */
interface Built {
  sidecarImage: string;
  mode: string;
  volumeSource: string;
  nodeSocketDir: string;
  uid: number;
  gid: number;
  resources: unknown;
  container: RawContainer;
  volume: SidecarVolume;
}

const built = new WeakMap<ResolvedRelay, Built>();

function deepFreeze<T>(v: T): T {
  if (typeof v === 'object' && v !== null && !Object.isFrozen(v)) {
    for (const child of Object.values(v)) deepFreeze(child);
    Object.freeze(v);
  }
  return v;
}

function fresh(b: Built, o: InjectOptions): boolean {
  return (
    b.sidecarImage === o.sidecarImage &&
    b.mode === o.mode &&
    b.volumeSource === o.volumeSource &&
    b.nodeSocketDir === o.nodeSocketDir &&
    b.uid === o.uid &&
    b.gid === o.gid &&
    b.resources === o.resources
  );
}

function builtFor(r: ResolvedRelay, o: InjectOptions): Built {
  const b = built.get(r);
  if (b && fresh(b, o)) return b;
  const next: Built = {
    sidecarImage: o.sidecarImage,
    mode: o.mode,
    volumeSource: o.volumeSource,
    nodeSocketDir: o.nodeSocketDir,
    uid: o.uid,
    gid: o.gid,
    resources: o.resources,
    container: rememberJson(deepFreeze(buildContainer(r, o))),
    volume: rememberJson(deepFreeze(buildVolume(r, o))),
  };
  built.set(r, next);
  return next;
}

/** The sidecar container injected for `r` (shared and frozen: copy it before editing). */
export function sidecarContainer(r: ResolvedRelay, o: InjectOptions): RawContainer {
  return builtFor(r, o).container;
}

function buildContainer(r: ResolvedRelay, o: InjectOptions): RawContainer {
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
export { CSI_DRIVER };

export type SidecarVolume =
  | { name: string; hostPath: { path: string; type: string } }
  | { name: string; csi: { driver: string; readOnly: true; volumeAttributes: { relay: string } } };

/**
 * The relay's folder as a volume, named socat-<relay> in both sources so the sidecar's mount is the
 * same: a hostPath of the node's folder of this Relay (`<socketDir>/<relay>/<uid>`), or a read-only CSI
 * ephemeral inline volume that the node plugin fills after checking the pod's namespace against the
 * relay's consumers.
 */
export function sidecarVolume(r: ResolvedRelay, o: InjectOptions): SidecarVolume {
  return builtFor(r, o).volume;
}

function buildVolume(r: ResolvedRelay, o: InjectOptions): SidecarVolume {
  if (o.volumeSource === 'csi') {
    return {
      name: volumeName(r.name),
      csi: { driver: CSI_DRIVER, readOnly: true, volumeAttributes: { [CSI_RELAY_ATTRIBUTE]: r.name } },
    };
  }
  // The folder of this Relay object (its uid): a Relay re-created under the same name is served in
  // another folder, so this pod never reaches it (docs/security.md, "A revoked consumer").
  return {
    name: volumeName(r.name),
    hostPath: { path: relayDir(o.nodeSocketDir, r.name, r.uid), type: 'DirectoryOrCreate' },
  };
}
