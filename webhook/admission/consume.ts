// Which relays a pod asks for, and whether it may have them: pure checks over the catalog, the
// namespace's labels and the pod's own ports. Each problem is a Denial with a reason code (metrics)
// and the exact message the user sees.
import {
  CONSUME_ANNOTATION,
  CONSUME_LABEL,
  consumerVerdict,
  formatProblems,
  type ResolvedRelay,
} from '../../relay/index.js';
import { validatedRelay } from './validated.js';
import type { RelayCatalog } from '../catalog/catalog.js';
import type { RawContainer, RawPod } from './pod-shape.js';

type DenialReason =
  | 'no-relay-named'
  | 'relay-not-found'
  | 'relay-invalid'
  | 'namespace-not-allowed'
  | 'namespace-unknown'
  | 'port-clash'
  | 'bad-object'
  | 'not-injected'
  | 'reserved-name'
  | 'host-path'
  | 'writable-mount'
  | 'duplicate-name'
  | 'pod-security';

export interface Denial {
  reason: DenialReason;
  message: string;
}

/**
 * Label value + annotation list: comma-separated, trimmed, deduplicated, in order of appearance. The
 * annotation reaches us before the API server checks its size, so it may hold 250 000 names: the
 * deduplication is a set, never a search per name.
 */
export function wantedRelays(pod: RawPod): string[] {
  const raw = [
    pod.metadata?.labels?.[CONSUME_LABEL] ?? '',
    ...(pod.metadata?.annotations?.[CONSUME_ANNOTATION] ?? '').split(','),
  ];
  const out = new Set<string>();
  for (const part of raw) {
    const name = part.trim();
    if (name !== '') out.add(name);
  }
  return [...out];
}

/** Resolves each wanted relay from the catalog; denials for missing or invalid ones. */
export function lookUpRelays(names: string[], catalog: RelayCatalog): { relays: ResolvedRelay[]; denials: Denial[] } {
  const relays: ResolvedRelay[] = [];
  const denials: Denial[] = [];
  for (const name of names) {
    const relay = catalog.get(name);
    if (!relay) {
      denials.push({ reason: 'relay-not-found', message: `relay "${name}" not found (asked for by ${CONSUME_LABEL})` });
      continue;
    }
    const v = validatedRelay(relay);
    if (!v.resolved) {
      denials.push({
        reason: 'relay-invalid',
        message: `relay "${name}" is invalid: ${formatProblems(v.problems, ', ')}`,
      });
      continue;
    }
    relays.push(v.resolved);
  }
  return { relays, denials };
}

/** May a pod in `namespace` (with these labels, undefined when unknown) consume the relay? */
export function checkNamespace(
  r: ResolvedRelay,
  namespace: string,
  labels: Record<string, string> | undefined,
): Denial | null {
  const v = consumerVerdict(r, namespace, { labels });
  return v.allowed ? null : { reason: v.reason, message: v.message };
}

const protocolOf = (p: { protocol?: string }): string => p.protocol ?? 'TCP';

/** Listen ports of the relays against the pod's own container ports and against each other. */
export function checkPorts(relays: ResolvedRelay[], containers: RawContainer[]): Denial[] {
  const denials: Denial[] = [];
  for (const r of relays) {
    for (const c of containers) {
      for (const p of c.ports ?? []) {
        if (p.containerPort === r.listenPort && protocolOf(p) === r.protocol) {
          denials.push({
            reason: 'port-clash',
            message: `relay "${r.name}" listens on port ${r.listenPort}/${r.protocol}, which container "${c.name ?? '?'}" also uses`,
          });
        }
      }
    }
  }
  for (let i = 0; i < relays.length; i++) {
    for (let j = i + 1; j < relays.length; j++) {
      const a = relays[i]!;
      const b = relays[j]!;
      if (a.listenPort === b.listenPort && a.protocol === b.protocol) {
        denials.push({
          reason: 'port-clash',
          message: `relays "${a.name}" and "${b.name}" both listen on port ${a.listenPort}/${a.protocol}`,
        });
      }
    }
  }
  return denials;
}
