// What the API server's own admission plugins add to our sidecar after the webhook has injected it,
// recognised exactly so that a reinvoked webhook (reinvocationPolicy IfNeeded) still knows its sidecar.
//
// The ServiceAccount plugin runs again after every webhook that changed a pod and mounts the pod's
// token volume into every container that has nothing at its path, ours included:
//   volume  kube-api-access-<5 random>: projected { serviceAccountToken path token, configMap
//           kube-root-ca.crt ca.crt, downwardAPI namespace }
//   mount   { name: kube-api-access-…, mountPath: /var/run/secrets/kubernetes.io/serviceaccount, readOnly: true }
// Only that mount, of that volume shape, is accepted: a writable mount, a subPath, another path or a
// volume of any other shape (a hostPath, a Secret, a token for another audience) still makes the
// container "not the sidecar socat-relay injects". LimitRanger's defaults (resources) and env
// injectors are accepted by sidecarDiff itself (claims.ts); a mount another webhook adds is not.
import { isDeepStrictEqual } from 'node:util';
import { isObject } from './pod-shape.js';

const SERVICE_ACCOUNT_MOUNT_PATH = '/var/run/secrets/kubernetes.io/serviceaccount';
const SERVICE_ACCOUNT_VOLUME_PREFIX = 'kube-api-access-';

/** The projection the ServiceAccount plugin writes, without the two numbers it may choose (see below). */
const TOKEN_SOURCES = [
  { serviceAccountToken: { path: 'token' } },
  { configMap: { name: 'kube-root-ca.crt', items: [{ key: 'ca.crt', path: 'ca.crt' }] } },
  { downwardAPI: { items: [{ path: 'namespace', fieldRef: { apiVersion: 'v1', fieldPath: 'metadata.namespace' } }] } },
];

/**
 * True for the ServiceAccount plugin's token volume. `defaultMode` (0644) and the token's
 * `expirationSeconds` (3607) are numbers the API server picks and an admin may tune; they carry no
 * power, so any number is accepted. An `audience`, other items, other sources or other keys are not.
 */
function isServiceAccountTokenVolume(v: unknown): boolean {
  if (!isObject(v) || typeof v.name !== 'string' || !v.name.startsWith(SERVICE_ACCOUNT_VOLUME_PREFIX)) return false;
  if (!onlyKeys(v, ['name', 'projected']) || !isObject(v.projected)) return false;
  const p = v.projected;
  if (!onlyKeys(p, ['sources', 'defaultMode']) || (p.defaultMode !== undefined && typeof p.defaultMode !== 'number'))
    return false;
  if (!Array.isArray(p.sources) || p.sources.length !== TOKEN_SOURCES.length) return false;
  const [token, ...rest] = p.sources as unknown[];
  if (!isObject(token) || !onlyKeys(token, ['serviceAccountToken']) || !isObject(token.serviceAccountToken))
    return false;
  const { expirationSeconds, ...tokenRest } = token.serviceAccountToken;
  if (expirationSeconds !== undefined && typeof expirationSeconds !== 'number') return false;
  return isDeepStrictEqual([{ serviceAccountToken: tokenRest }, ...rest], TOKEN_SOURCES);
}

/** The names of the pod's volumes that are the ServiceAccount plugin's token volume. */
export function serviceAccountTokenVolumes(volumes: readonly unknown[] | undefined): Set<string> {
  const out = new Set<string>();
  for (const v of volumes ?? []) if (isServiceAccountTokenVolume(v)) out.add(String((v as { name: string }).name));
  return out;
}

/** The plugin's read-only mount of one of `tokenVolumes` at its well-known path, and nothing else. */
function isServiceAccountTokenMount(m: unknown, tokenVolumes: ReadonlySet<string>): boolean {
  return (
    isObject(m) &&
    onlyKeys(m, ['name', 'mountPath', 'readOnly']) &&
    m.readOnly === true &&
    m.mountPath === SERVICE_ACCOUNT_MOUNT_PATH &&
    typeof m.name === 'string' &&
    tokenVolumes.has(m.name)
  );
}

/**
 * `mounts` without the one ServiceAccount token mount the API server may have added (a second one,
 * impossible from the plugin, is kept and so makes the container differ).
 */
export function withoutServiceAccountMount(mounts: unknown, tokenVolumes: ReadonlySet<string>): unknown {
  if (!Array.isArray(mounts) || tokenVolumes.size === 0) return mounts;
  const i = mounts.findIndex((m) => isServiceAccountTokenMount(m, tokenVolumes));
  return i < 0 ? mounts : (mounts as unknown[]).filter((_, j) => j !== i);
}

function onlyKeys(o: Record<string, unknown>, keys: readonly string[]): boolean {
  return Object.keys(o).every((k) => keys.includes(k));
}
