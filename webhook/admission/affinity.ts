// Node affinity so that a consumer only schedules where its relays run: each relay's nodeSelector
// becomes `In` requirements AND-ed into EVERY required nodeSelectorTerm (terms are OR-ed, so adding
// to only one would let the pod escape through another), or one new term when there is none.
import type { RawNodeSelectorRequirement, RawPodSpec } from './pod-shape.js';
import { isDeepStrictEqual } from 'node:util';

export function nodeRequirements(nodeSelector: Record<string, string>): RawNodeSelectorRequirement[] {
  return Object.keys(nodeSelector).sort().map((key) => ({ key, operator: 'In', values: [nodeSelector[key]!] }));
}

/** Mutates spec in place; requirements already present are not repeated (idempotent). */
export function andNodeRequirements(spec: RawPodSpec, reqs: RawNodeSelectorRequirement[]): void {
  if (reqs.length === 0) return;
  spec.affinity ??= {};
  spec.affinity.nodeAffinity ??= {};
  const na = spec.affinity.nodeAffinity;
  na.requiredDuringSchedulingIgnoredDuringExecution ??= {};
  const required = na.requiredDuringSchedulingIgnoredDuringExecution;
  if (!required.nodeSelectorTerms || required.nodeSelectorTerms.length === 0) required.nodeSelectorTerms = [{}];
  for (const term of required.nodeSelectorTerms) {
    term.matchExpressions ??= [];
    for (const r of reqs) {
      if (!term.matchExpressions.some((e) => isDeepStrictEqual(e, r))) term.matchExpressions.push(structuredClone(r));
    }
  }
}
