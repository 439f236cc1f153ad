// Which injected sidecars of a consumer pod differ from what the webhook would inject now: pure, on
// the admission code's own builders (sidecarContainer, sidecarVolume) and diff (sidecarDiff), so the
// `sidecars` command and the webhook cannot disagree on what "the injected sidecar" is.
import { isDeepStrictEqual } from 'node:util';
import { NAME_PREFIX, sidecarName, volumeName, type ResolvedRelay } from '../relay/index.js';
import {
  containersOf,
  sidecarContainer,
  sidecarDiff,
  sidecarVolume,
  wantedRelays,
  type InjectOptions,
  type RawPod,
} from '../webhook/admission/index.js';
import { serviceAccountTokenVolumes } from '../webhook/admission/api-server-additions.js';

export interface Drift {
  namespace: string;
  pod: string;
  relay: string;
  /** The sidecar container's name (socat-<relay>), also when it is missing. */
  container: string;
  /**
   * What differs, sorted: container fields (image, command, …), `placement`, `volume`, or `missing`,
   * `relay not found`.
   */
  differs: string[];
  /** The pod's sidecar image ('' when there is no sidecar) and the one injected now ('' when the relay is gone). */
  image: string;
  expectedImage: string;
}

/**
 * A relay the pod consumes: resolved when the cluster holds it and it is valid, otherwise why not
 * (the webhook would refuse the pod now).
 */
export type RelayLookup = (name: string) => ResolvedRelay | string;

/** The drifts of one pod: one entry per consumed relay whose sidecar or volume is not the injected one. */
export function podDrift(pod: RawPod, lookUp: RelayLookup, o: InjectOptions): Drift[] {
  const spec = (pod as { spec?: Parameters<typeof containersOf>[0] }).spec ?? {};
  const namespace = String(pod.metadata?.namespace ?? '');
  const name = String(pod.metadata?.name ?? '');
  const located = containersOf(spec).filter((l) => l.list !== 'ephemeralContainers');
  const injected = located
    .filter((l) => typeof l.c.name === 'string' && l.c.name.startsWith(NAME_PREFIX))
    .map((l) => String(l.c.name).slice(NAME_PREFIX.length));
  const relays = [...new Set([...wantedRelays(pod), ...injected])];
  const tokenVolumes = serviceAccountTokenVolumes(spec.volumes);
  const sidecarList = o.mode === 'native' ? 'initContainers' : 'containers';
  const out: Drift[] = [];
  for (const relay of relays) {
    const container = sidecarName(relay);
    const at = located.find((l) => l.c.name === container);
    const image = typeof at?.c.image === 'string' ? at.c.image : '';
    const r = lookUp(relay);
    if (typeof r === 'string') {
      out.push({ namespace, pod: name, relay, container, differs: [r], image, expectedImage: '' });
      continue;
    }
    const want = sidecarContainer(r, o);
    const expectedImage = String(want.image);
    if (!at) {
      out.push({ namespace, pod: name, relay, container, differs: ['missing'], image, expectedImage });
      continue;
    }
    const differs = sidecarDiff(at.c, want, tokenVolumes);
    if (at.list !== sidecarList) differs.push('placement');
    const volume = (spec.volumes ?? []).find((v) => v?.name === volumeName(relay));
    if (!isDeepStrictEqual(volume, sidecarVolume(r, o))) differs.push('volume');
    if (differs.length > 0)
      out.push({ namespace, pod: name, relay, container, differs: differs.sort(), image, expectedImage });
  }
  return out;
}
