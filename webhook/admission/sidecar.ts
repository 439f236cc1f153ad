// The container and the volume injected for one relay. The socat command line comes from
// relay/socat.ts (sidecarArgv), the only place where socat addresses are spelled.
import {
  POD_SOCKET_DIR, relayDir, sidecarArgv, sidecarName, volumeName, type ResolvedRelay,
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

export function sidecarVolume(r: ResolvedRelay, o: InjectOptions): { name: string; hostPath: { path: string; type: string } } {
  return { name: volumeName(r.name), hostPath: { path: relayDir(o.nodeSocketDir, r.name), type: 'DirectoryOrCreate' } };
}
