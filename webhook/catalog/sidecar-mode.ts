// Native sidecars (initContainers with restartPolicy Always) need API servers >= 1.29 (beta, on by
// default). `auto` reads /version once at start; the decision itself is pure.
import { VersionApi, type KubeConfig } from '@kubernetes/client-node';
import type { SidecarMode } from '../admission/options.js';
import type { SidecarModeSetting } from '../config.js';

const NATIVE_SIDECAR_MINOR = 29;

/** Parses v1.29.3, v1.30.0-gke.1, 1.31: undefined when it is not a Kubernetes 1.x version. */
function parseGitVersion(gitVersion: string): { major: number; minor: number } | undefined {
  const m = /^v?(\d+)\.(\d+)(?:\.\d+)?(?:[-+].*)?$/.exec(gitVersion.trim());
  return m ? { major: Number(m[1]), minor: Number(m[2]) } : undefined;
}

/** The setting wins unless it is auto; auto → native from 1.29 on, regular before or when unknown. */
export function chooseSidecarMode(
  setting: SidecarModeSetting,
  gitVersion: string | undefined,
): { mode: SidecarMode; why: string } {
  if (setting !== 'auto') return { mode: setting, why: `set to ${setting}` };
  const v = gitVersion === undefined ? undefined : parseGitVersion(gitVersion);
  if (!v)
    return {
      mode: 'regular',
      why: `API server version ${JSON.stringify(gitVersion ?? null)} unknown: regular containers are the safe choice`,
    };
  if (v.major > 1 || (v.major === 1 && v.minor >= NATIVE_SIDECAR_MINOR))
    return { mode: 'native', why: `API server ${gitVersion} >= 1.${NATIVE_SIDECAR_MINOR}` };
  return { mode: 'regular', why: `API server ${gitVersion} < 1.${NATIVE_SIDECAR_MINOR}` };
}

/** The API server's gitVersion (edge). */
export async function serverGitVersion(kc: KubeConfig): Promise<string> {
  return (await kc.makeApiClient(VersionApi).getCode()).gitVersion;
}
