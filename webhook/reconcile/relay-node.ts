// The pure core of what a node writes about itself: its RelayNode (socat.io/v1alpha1, cluster-scoped,
// named after the node), listing every relay that selects the node with its state there. The node's
// controller applies the whole object (server-side apply, field manager socat-relay/<node>): a relay
// that no longer selects the node simply drops out of the list. The ownerReference to the Node lets the
// garbage collector delete the RelayNode with its Node, so nobody watches Nodes to clean up.
import {
  API_VERSION,
  RELAYNODE_KIND,
  matchesNodeSelector,
  type Relay,
  type RelayNode,
  type RelayNodeEntry,
} from '../../relay/index.js';
import { nodeEntry, type AgentView } from './node-status.js';

/** A relay that cannot be resolved still has a raw nodeSelector: report Invalid only where it matches. */
function rawSelects(relay: Relay, labels: Record<string, string>): boolean {
  const sel = (relay.spec as { nodeSelector?: unknown } | undefined)?.nodeSelector;
  if (sel === undefined || sel === null) return true;
  if (typeof sel !== 'object' || Array.isArray(sel)) return false;
  return (
    Object.values(sel).every((v) => typeof v === 'string') && matchesNodeSelector(sel as Record<string, string>, labels)
  );
}

export interface EntriesInput {
  relays: readonly Relay[];
  nodeLabels: Record<string, string>;
  nodeName: string;
  agent: AgentView;
  /** ISO time for new transitions. */
  now: string;
  /** The entries as last written (by relay name): their lastTransitionTime is kept while the state is. */
  previous: ReadonlyMap<string, RelayNodeEntry>;
}

/** This node's entries, sorted by relay name: one per relay that selects the node. */
export function relayNodeEntries(i: EntriesInput): RelayNodeEntry[] {
  return i.relays
    .filter((r) => rawSelects(r, i.nodeLabels))
    .map((relay) => {
      const previous = i.previous.get(relay.metadata.name);
      return nodeEntry({ relay, nodeName: i.nodeName, agent: i.agent, now: i.now, ...(previous ? { previous } : {}) });
    })
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** The object this node applies: its entries, their counts (printer columns), owned by its Node. */
export function relayNodeBody(nodeName: string, nodeUid: string, relays: readonly RelayNodeEntry[]): RelayNode {
  const readyRelays = relays.filter((r) => r.ready).length;
  return {
    apiVersion: API_VERSION,
    kind: RELAYNODE_KIND,
    metadata: {
      name: nodeName,
      labels: { 'app.kubernetes.io/name': 'socat-relay', 'app.kubernetes.io/component': 'node-status' },
      ownerReferences: [{ apiVersion: 'v1', kind: 'Node', name: nodeName, uid: nodeUid }],
    },
    status: { relays: [...relays], relayCount: relays.length, readyRelays, ready: `${readyRelays}/${relays.length}` },
  };
}

/** The entries of a stored RelayNode, by relay name (what relayNodeEntries keeps times from). */
export function entriesByRelay(rn: RelayNode | undefined): Map<string, RelayNodeEntry> {
  return new Map((rn?.status?.relays ?? []).map((e) => [e.name, e]));
}
