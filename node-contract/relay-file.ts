// The relay file's content: the Relay object itself (apiVersion, kind, metadata.name, spec), so an admin
// can drop the very YAML or JSON they would `kubectl apply`. The controller's files add annotations
// outside `spec` (the Relay's schema is untouched):
// - MANAGED_BY_ANNOTATION marks a file the controller wrote, and so may rewrite or remove; any other
//   file of the folder is an admin's and is left alone;
// - CONSUMER_NAMESPACES_ANNOTATION lists the namespaces the Relay's namespaceSelector resolved to
//   (the node cannot evaluate a selector; relay/consumers.ts reads it back). Without it, only
//   `consumers.namespaces` counts on the node.
import {
  API_VERSION,
  CONSUMER_NAMESPACES_ANNOTATION,
  formatConsumerNamespaces,
  KIND,
  parseConsumerNamespaces,
  type Relay,
} from '../relay/index.js';

export const MANAGED_BY_ANNOTATION = 'socat.io/managed-by';
const MANAGED_BY_VALUE = 'socat-relay-controller';

/** JSON with object keys sorted at every level: equal objects give equal bytes. */
export function stableJson(value: unknown): string {
  const sort = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(sort);
    if (v !== null && typeof v === 'object') {
      return Object.fromEntries(
        Object.keys(v)
          .sort()
          .filter((k) => (v as Record<string, unknown>)[k] !== undefined)
          .map((k) => [k, sort((v as Record<string, unknown>)[k])]),
      );
    }
    return v;
  };
  return `${JSON.stringify(sort(value), null, 2)}\n`;
}

/**
 * The file the controller writes for a relay, reduced to what the node needs. `consumerNamespaces`:
 * the names its namespaceSelector resolved to (undefined: none written).
 */
export function relayFileContent(relay: Relay, consumerNamespaces?: Iterable<string>): string {
  const gen = relay.metadata.generation;
  const uid = relay.metadata.uid;
  return stableJson({
    apiVersion: API_VERSION,
    kind: KIND,
    metadata: {
      name: relay.metadata.name,
      // The uid names the relay's folder on the node: a Relay re-created under the same name is a new relay.
      ...(typeof uid === 'string' && uid !== '' ? { uid } : {}),
      ...(typeof gen === 'number' ? { generation: gen } : {}),
      annotations: {
        [MANAGED_BY_ANNOTATION]: MANAGED_BY_VALUE,
        ...(consumerNamespaces !== undefined
          ? { [CONSUMER_NAMESPACES_ANNOTATION]: formatConsumerNamespaces(consumerNamespaces) }
          : {}),
      },
    },
    spec: relay.spec,
  });
}

function annotationsOf(doc: unknown): Record<string, unknown> | undefined {
  const a = (doc as { metadata?: { annotations?: unknown } } | null)?.metadata?.annotations;
  return a !== null && typeof a === 'object' && !Array.isArray(a) ? (a as Record<string, unknown>) : undefined;
}

/** True when a file's text is a relay file written by the controller. */
export function isManagedContent(text: string): boolean {
  try {
    return annotationsOf(JSON.parse(text))?.[MANAGED_BY_ANNOTATION] === MANAGED_BY_VALUE;
  } catch {
    return false;
  }
}

/** The resolved consumer namespaces of a parsed relay file; undefined when it carries none (or not a string). */
export function consumerNamespacesOf(doc: unknown): string[] | undefined {
  const v = annotationsOf(doc)?.[CONSUMER_NAMESPACES_ANNOTATION];
  return typeof v === 'string' ? parseConsumerNamespaces(v) : undefined;
}
