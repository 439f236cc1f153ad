// `kubectl explain relay.spec…` documents every field: a walk of the Relay CRD's schema finds a
// description on every property, list item and map value schema, and the real API server publishes
// them in its OpenAPI (what kubectl explain reads).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parseDocuments } from '../../relay/load.js';
import { installCrds, skipUnlessControlPlane, startControlPlane, waitFor } from '../harness/index.js';
import { MANIFESTS } from '../harness/manifest-load.js';

interface S {
  description?: string;
  properties?: Record<string, S>;
  items?: S;
  additionalProperties?: S | boolean;
  anyOf?: S[];
}
const crd = parseDocuments(readFileSync(path.join(MANIFESTS, 'crd', 'relays.socat.io.yaml'), 'utf8'))[0] as {
  spec: { versions: { schema: { openAPIV3Schema: S } }[] };
};
const schema = crd.spec.versions[0]!.schema.openAPIV3Schema;

/** [path, schema] of every property, list item and map value under `s`. */
function walk(s: S, at = ''): [string, S][] {
  const out: [string, S][] = [];
  for (const [k, v] of Object.entries(s.properties ?? {})) out.push([`${at}.${k}`, v], ...walk(v, `${at}.${k}`));
  if (s.items) out.push([`${at}[]`, s.items], ...walk(s.items, `${at}[]`));
  if (s.additionalProperties && typeof s.additionalProperties === 'object')
    out.push([`${at}.*`, s.additionalProperties], ...walk(s.additionalProperties, `${at}.*`));
  return out;
}

test('every property of the Relay schema has a description (kubectl explain is never empty)', () => {
  const all = walk(schema);
  assert.ok(all.length >= 50, `the walk found ${all.length} schemas`);
  // .metadata may hold nothing but its type (the API server refuses more); explain shows ObjectMeta's docs.
  const missing = all.filter(([p, s]) => p !== '.metadata' && !s.description?.trim()).map(([p]) => p);
  assert.deepEqual(missing, []);
  assert.ok(schema.description);
});

test('the walk sees nested fields (it can fail)', () => {
  const paths = walk(schema).map(([p]) => p);
  for (const p of [
    '.spec.consumers.namespaceSelector.matchExpressions[].values[]',
    '.spec.sidecar.resources.limits.*',
    '.status.nodes[].state',
    '.status.conditions[].reason',
  ]) {
    assert.ok(paths.includes(p), p);
  }
});

test(
  'the API server publishes the descriptions (what kubectl explain reads)',
  { skip: skipUnlessControlPlane() },
  async (t) => {
    const cp = await startControlPlane();
    t.after(() => cp.stop());
    await installCrds(cp.client);
    // The aggregated OpenAPI picks a new CRD up a moment after it is Established.
    const doc = await waitFor(
      'the Relay OpenAPI',
      () =>
        cp.client
          .request<{ components: { schemas: Record<string, S> } }>('GET', '/openapi/v3/apis/socat.io/v1alpha1')
          .catch(() => undefined),
      { timeoutMs: 60_000 },
    );
    const relay = Object.entries(doc.components.schemas).find(([k]) => k === 'io.socat.v1alpha1.Relay')?.[1];
    assert.ok(relay, Object.keys(doc.components.schemas).join());
    const target = relay.properties?.spec?.properties?.target?.properties?.port;
    assert.match(target?.description ?? '', /port of the service on the node's loopback/);
  },
);
