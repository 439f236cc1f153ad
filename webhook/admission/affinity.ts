// Node affinity so that a consumer only schedules where its relays run: each relay's nodeSelector
// becomes `In` requirements AND-ed into EVERY required nodeSelectorTerm (terms are OR-ed, so adding
// to only one would let the pod escape through another), or one new term when there is none.
import type { ResolvedRelay } from '../../relay/index.js';
import type { Denial } from './consume.js';
import type { RawNodeSelectorRequirement, RawPodSpec } from './pod-shape.js';

/**
 * The most node requirements injection adds to one pod (its required terms × its relays' node labels):
 * an honest pod has a few terms, while a hostile one with 30 000 terms and relays with 60 node labels
 * would make the webhook build (and the API server receive) hundreds of megabytes.
 */
const MAX_ADDED_NODE_REQUIREMENTS = 10_000;

const TERMS_FIELD = 'spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms';

/** A denial when ANDing the relays' node labels into every required term would add too many requirements. */
export function affinityGrowthDenial(spec: RawPodSpec, relays: readonly ResolvedRelay[]): Denial | undefined {
  const labels = relays.reduce((n, r) => n + Object.keys(r.nodeSelector).length, 0);
  const terms = spec.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution?.nodeSelectorTerms;
  const count = Array.isArray(terms) ? Math.max(1, terms.length) : 1;
  if (labels === 0 || count * labels <= MAX_ADDED_NODE_REQUIREMENTS) return undefined;
  return {
    reason: 'bad-object',
    message: `${TERMS_FIELD}: ${count} terms × ${labels} node labels of the relays would add up to ${count * labels} node requirements (at most ${MAX_ADDED_NODE_REQUIREMENTS}); use fewer terms`,
  };
}

/** A requirement as a string, equal for equal requirements (key, operator, values and nothing else). */
function canonical(e: unknown): string {
  if (typeof e !== 'object' || e === null || Array.isArray(e)) return '';
  const o = e as Record<string, unknown>;
  const fields = Object.keys(o).length;
  return JSON.stringify([o.key, o.operator, o.values, fields]);
}

export function nodeRequirements(nodeSelector: Record<string, string>): RawNodeSelectorRequirement[] {
  return Object.keys(nodeSelector)
    .sort()
    .map((key) => ({ key, operator: 'In', values: [nodeSelector[key]!] }));
}

/** Mutates spec in place; requirements already present are not repeated (idempotent). Linear in the terms' size. */
export function andNodeRequirements(spec: RawPodSpec, reqs: RawNodeSelectorRequirement[]): void {
  if (reqs.length === 0) return;
  spec.affinity ??= {};
  spec.affinity.nodeAffinity ??= {};
  const na = spec.affinity.nodeAffinity;
  na.requiredDuringSchedulingIgnoredDuringExecution ??= {};
  const required = na.requiredDuringSchedulingIgnoredDuringExecution;
  if (!required.nodeSelectorTerms || required.nodeSelectorTerms.length === 0) required.nodeSelectorTerms = [{}];
  const wanted = reqs.map((r) => ({ r, key: canonical(r) }));
  for (const term of required.nodeSelectorTerms) {
    term.matchExpressions ??= [];
    const have = new Set(term.matchExpressions.map(canonical));
    for (const { r, key } of wanted) {
      if (!have.has(key)) {
        term.matchExpressions.push(structuredClone(r));
        have.add(key);
      }
    }
  }
}
