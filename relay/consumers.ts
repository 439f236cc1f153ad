// The one consumer check: may a pod in this namespace consume this relay? The webhook asks it with
// the namespace's labels (from its informer); the CSI node plugin asks it with the names the
// controller resolved a namespaceSelector to and wrote into the node file (annotation
// CONSUMER_NAMESPACES_ANNOTATION), because a node cannot evaluate a selector on its own.
import { matchesLabelSelector } from './selector.js';
import type { ResolvedRelay } from './types.js';

/** Node-file annotation: the namespaces a Relay's namespaceSelector resolved to (comma-separated, sorted). */
export const CONSUMER_NAMESPACES_ANNOTATION = 'socat.io/consumer-namespaces';

/**
 * What is known about the consuming namespace: its labels (the webhook), or the names the controller
 * resolved the selector to (the node), or neither (a hand-written node file: only `namespaces` counts).
 */
export type NamespaceFacts =
  { labels: Record<string, string> | undefined } | { resolvedNames: readonly string[] | undefined };

export type ConsumerVerdict =
  { allowed: true } | { allowed: false; reason: 'namespace-unknown' | 'namespace-not-allowed'; message: string };

export function consumerVerdict(r: ResolvedRelay, namespace: string, facts: NamespaceFacts): ConsumerVerdict {
  if (r.consumers.namespaces.includes(namespace)) return { allowed: true };
  const sel = r.consumers.namespaceSelector;
  if (sel) {
    if ('labels' in facts) {
      if (facts.labels === undefined) {
        return {
          allowed: false,
          reason: 'namespace-unknown',
          message: `relay "${r.name}": the labels of namespace "${namespace}" are unknown, so its namespaceSelector cannot be checked`,
        };
      }
      if (matchesLabelSelector(sel, facts.labels)) return { allowed: true };
    } else if (facts.resolvedNames?.includes(namespace)) {
      return { allowed: true };
    }
  }
  const allowed = [
    ...(r.consumers.namespaces.length > 0 ? [`namespaces ${r.consumers.namespaces.join(', ')}`] : []),
    ...(sel ? ['namespaceSelector'] : []),
  ].join(' or ');
  return {
    allowed: false,
    reason: 'namespace-not-allowed',
    message: `relay "${r.name}" does not allow namespace "${namespace}" (allowed: ${allowed || 'none'})`,
  };
}

/** The annotation's value → names (empty entries dropped); undefined when absent. */
export function parseConsumerNamespaces(value: string | undefined): string[] | undefined {
  if (value === undefined) return undefined;
  return value
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

/** Names → the annotation's value: sorted, deduplicated, comma-separated. */
export function formatConsumerNamespaces(names: Iterable<string>): string {
  return [...new Set(names)].sort().join(',');
}
