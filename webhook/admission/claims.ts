// What a labeled pod says about itself, checked against what the webhook would inject NOW. The marker
// annotation is never trusted: a container or volume named socat-<relay> is kept only when it is
// exactly the injected one (see sidecarDiff for what may differ), names with the socat- prefix are
// reserved, a hostPath at, under or above the socket folder is refused unless it is an injected
// volume, csi.socat.io volumes come from the webhook only, and no container mounts an injected volume
// writable. Pure: each problem is a Denial naming the field.
import { isDeepStrictEqual } from 'node:util';
import { NAME_PREFIX, type ResolvedRelay } from '../../relay/index.js';
import type { Denial } from './consume.js';
import { serviceAccountTokenVolumes, withoutServiceAccountMount } from './api-server-additions.js';
import { describeHostPath, relationToRoot } from './host-path.js';
import { sameImageButRegistry } from './image.js';
import type { InjectOptions } from './options.js';
import { isObject, type RawContainer, type RawPodSpec } from './pod-shape.js';
import { CSI_DRIVER, sidecarContainer, sidecarVolume } from './sidecar.js';

export type ContainerList = 'initContainers' | 'containers' | 'ephemeralContainers';
const CONTAINER_LISTS: readonly ContainerList[] = ['initContainers', 'containers', 'ephemeralContainers'];

/**
 * Fields another webhook may set on our sidecar after us (defaults, a registry mirror, proxy or
 * resource injectors) without giving it any power: the command, security context, mounts, ports,
 * probes and every other field stay pinned. `image` may differ only in its registry host.
 */
const MAY_DIFFER = new Set([
  'imagePullPolicy',
  'terminationMessagePath',
  'terminationMessagePolicy',
  'env',
  'envFrom',
  'resizePolicy',
]);

/**
 * The fields in which `actual` differs from the injected `expected` in a way that matters.
 * `tokenVolumes` are the pod's ServiceAccount token volumes: the API server's read-only mount of one
 * of them at its well-known path is not ours to judge (api-server-additions.ts).
 */
export function sidecarDiff(
  actual: RawContainer,
  expected: RawContainer,
  tokenVolumes: ReadonlySet<string> = new Set(),
): string[] {
  const out: string[] = [];
  for (const k of new Set([...Object.keys(actual), ...Object.keys(expected)])) {
    if (MAY_DIFFER.has(k)) continue;
    if (k === 'volumeMounts') {
      if (!isDeepStrictEqual(withoutServiceAccountMount(actual.volumeMounts, tokenVolumes), expected.volumeMounts))
        out.push(k);
    } else if (k === 'image') {
      if (!sameImageButRegistry(actual.image, String(expected.image))) out.push('image');
    } else if (k === 'resources') {
      // requests and limits are sizing, not power; anything else (claims: devices) is pinned.
      const strip = (r: unknown) =>
        isObject(r)
          ? Object.fromEntries(Object.entries(r).filter(([rk]) => rk !== 'requests' && rk !== 'limits'))
          : (r ?? {});
      if (!isDeepStrictEqual(strip(actual.resources), strip(expected.resources))) out.push('resources');
    } else if (!isDeepStrictEqual(actual[k], expected[k])) {
      out.push(k);
    }
  }
  return out.sort();
}

interface Located {
  list: ContainerList;
  index: number;
  c: RawContainer;
}

export function containersOf(spec: RawPodSpec): Located[] {
  const out: Located[] = [];
  for (const list of CONTAINER_LISTS) {
    const cs = spec[list];
    if (!Array.isArray(cs)) continue;
    cs.forEach((c, index) => out.push({ list, index, c: isObject(c) ? c : {} }));
  }
  return out;
}

const at = (l: Located) => `spec.${l.list}[${l.index}] "${l.c.name ?? ''}"`;
const reservedSuffix = (name: unknown): string | undefined =>
  typeof name === 'string' && name.startsWith(NAME_PREFIX) ? name.slice(NAME_PREFIX.length) : undefined;

export interface ClaimCheck {
  denials: Denial[];
  /** Names of the pod's containers that are exactly an injected sidecar (kept as they are). */
  sidecars: Set<string>;
  /** Names of the pod's volumes that are exactly an injected volume. */
  volumes: Set<string>;
}

/** Duplicate names: the first of a name is the one the API server would keep; a second one is refused. */
function duplicates(spec: RawPodSpec): Denial[] {
  const denials: Denial[] = [];
  const seen = new Map<string, string>();
  for (const l of containersOf(spec)) {
    const name = String(l.c.name ?? '');
    const first = seen.get(name);
    if (first)
      denials.push({
        reason: 'duplicate-name',
        message: `spec.${l.list}[${l.index}]: duplicate container name "${name}" (also ${first})`,
      });
    else seen.set(name, `spec.${l.list}[${l.index}]`);
  }
  const vols = new Map<string, number>();
  (spec.volumes ?? []).forEach((v, i) => {
    const name = String(isObject(v) ? (v.name ?? '') : '');
    const first = vols.get(name);
    if (first !== undefined)
      denials.push({
        reason: 'duplicate-name',
        message: `spec.volumes[${i}]: duplicate volume name "${name}" (also spec.volumes[${first}])`,
      });
    else vols.set(name, i);
  });
  return denials;
}

/** Writable mounts of injected (socat-*) volumes by any container but an exact sidecar. */
export function writableMounts(
  spec: RawPodSpec,
  sidecars: ReadonlySet<string>,
  lists: readonly ContainerList[] = CONTAINER_LISTS,
): Denial[] {
  const denials: Denial[] = [];
  for (const l of containersOf(spec)) {
    if (!lists.includes(l.list) || (l.list !== 'ephemeralContainers' && sidecars.has(String(l.c.name)))) continue;
    const mounts = Array.isArray(l.c.volumeMounts) ? l.c.volumeMounts : [];
    for (const m of mounts) {
      if (!isObject(m) || reservedSuffix(m.name) === undefined || m.readOnly === true) continue;
      denials.push({
        reason: 'writable-mount',
        message: `${at(l)} mounts the injected volume "${String(m.name)}" writable: set readOnly: true`,
      });
    }
  }
  return denials;
}

/**
 * The pod's own containers and volumes against what would be injected now for `relays` (the relays
 * the pod asked for and may consume). `wanted` are all the names it asked for: a socat-<name> of a
 * relay that failed its own checks is left to that relay's denial.
 */
export function checkClaims(
  spec: RawPodSpec,
  wanted: readonly string[],
  relays: readonly ResolvedRelay[],
  o: InjectOptions,
): ClaimCheck {
  const x: Claims = {
    asked: new Set(wanted),
    byName: new Map(relays.map((r) => [r.name, r])),
    o,
    denials: duplicates(spec),
    sidecars: new Set<string>(),
    volumes: new Set<string>(),
  };
  checkContainers(spec, x);
  (spec.volumes ?? []).forEach((v, i) => checkVolume(v, i, x));
  for (const d of writableMounts(spec, x.sidecars, ['initContainers', 'containers'])) x.denials.push(d);
  return { denials: x.denials, sidecars: x.sidecars, volumes: x.volumes };
}

/** What checkClaims works from (the relays asked for, those it may inject) and what it finds. */
interface Claims {
  asked: ReadonlySet<string>;
  byName: ReadonlyMap<string, ResolvedRelay>;
  o: InjectOptions;
  denials: Denial[];
  sidecars: Set<string>;
  volumes: Set<string>;
}

/** The pod's socat-* containers: an exact sidecar in the right list is claimed, anything else denied. */
function checkContainers(spec: RawPodSpec, x: Claims): void {
  const { asked, byName, o, denials } = x;
  const sidecarList: ContainerList = o.mode === 'native' ? 'initContainers' : 'containers';
  const tokenVolumes = serviceAccountTokenVolumes(spec.volumes);
  for (const l of containersOf(spec)) {
    const relay = reservedSuffix(l.c.name);
    if (relay === undefined || l.list === 'ephemeralContainers') continue; // ephemeral: ephemeralDenials
    const r = byName.get(relay);
    if (!r) {
      if (!asked.has(relay))
        denials.push({
          reason: 'reserved-name',
          message: `${at(l)}: the prefix ${NAME_PREFIX} is reserved for injected sidecars, and this pod does not consume relay "${relay}"`,
        });
      continue;
    }
    const diff = sidecarDiff(l.c, sidecarContainer(r, o), tokenVolumes);
    if (l.list !== sidecarList) diff.unshift(`placement (injected into spec.${sidecarList})`);
    if (diff.length > 0) {
      denials.push({
        reason: 'not-injected',
        message: `${at(l)} is not the sidecar socat-relay injects for relay "${relay}" (differs: ${diff.join(', ')})`,
      });
    } else {
      x.sidecars.add(String(l.c.name));
    }
  }
}

/**
 * One of the pod's volumes: an exact injected one is claimed; a socat-* name, the socket folder or the
 * CSI driver otherwise denied.
 */
function checkVolume(v: NonNullable<RawPodSpec['volumes']>[number], i: number, x: Claims): void {
  const { asked, byName, o, denials } = x;
  if (!isObject(v)) return;
  const where = `spec.volumes[${i}] "${String(v.name ?? '')}"`;
  const relay = reservedSuffix(v.name);
  const r = relay === undefined ? undefined : byName.get(relay);
  if (r) {
    const expected = sidecarVolume(r, o);
    if (isDeepStrictEqual(v, expected)) {
      x.volumes.add(String(v.name));
      return;
    }
    denials.push({
      reason: 'not-injected',
      message: `${where} is not the volume socat-relay injects for relay "${relay}" (${describeVolume(expected)})`,
    });
    return;
  }
  if (relay !== undefined && !asked.has(relay)) {
    denials.push({
      reason: 'reserved-name',
      message: `${where}: the prefix ${NAME_PREFIX} is reserved for injected volumes, and this pod does not consume relay "${relay}"`,
    });
    return;
  }
  if (relay !== undefined) return; // a wanted relay that failed its own checks
  const hp = isObject(v.hostPath) ? v.hostPath.path : undefined;
  if (typeof hp === 'string') {
    const rel = relationToRoot(hp, o.nodeSocketDir);
    if (rel !== 'apart') {
      denials.push({
        reason: 'host-path',
        message: `${where}: hostPath ${describeHostPath(hp)} is ${rel === 'at' ? 'the' : `${rel} the`} socket folder ${o.nodeSocketDir}; only the volumes socat-relay injects may mount it`,
      });
    }
  }
  if (isObject(v.csi) && v.csi.driver === CSI_DRIVER) {
    denials.push({
      reason: 'not-injected',
      message: `${where}: ${CSI_DRIVER} volumes in a labeled pod are injected by socat-relay only`,
    });
  }
}

function describeVolume(v: ReturnType<typeof sidecarVolume>): string {
  if ('hostPath' in v) return `hostPath ${v.hostPath.path}, type ${v.hostPath.type}`;
  return `csi driver ${v.csi.driver}, readOnly, volumeAttributes relay=${v.csi.volumeAttributes.relay}`;
}
