// The controllers' RBAC grants nothing beyond what they use. The ClusterRoles are parsed from manifests/;
// ALLOW below lists every (apiGroup, resource, verb) the serving controller's code calls, ALLOW_NODE
// what a reconcile-only one calls, each with its justification and the source that proves the call.
// Granted ⊆ allowed (no over-grant), allowed ⊆ granted (the controller works), no wildcard or
// sensitive resource, and the manifest explains every verb in a comment.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { parseAllDocuments } from 'yaml';
import { REPO_ROOT } from '../harness/binaries.js';

interface Use {
  group: string;
  resource: string;
  verb: string;
  why: string;
  /** A file and a pattern in it that shows the call. */
  evidence: [string, RegExp];
}

const key = (g: string, r: string, v: string) => `${g || 'core'}/${r}:${v}`;

const ALLOW: Use[] = [
  {
    group: 'socat.io',
    resource: 'relays',
    verb: 'list',
    why: 'informer initial list (relay catalog for admission and the reconcile)',
    evidence: ['webhook/catalog/informer.ts', /RELAYS_PATH|listClusterCustomObject/],
  },
  {
    group: 'socat.io',
    resource: 'relays',
    verb: 'watch',
    why: 'informer watch of Relays',
    evidence: ['webhook/catalog/resilient-informer.ts', /makeInformer/],
  },
  {
    group: 'socat.io',
    resource: 'relays',
    verb: 'get',
    why: 'the pod webhook: live lookup of a Relay the informer has not delivered yet',
    evidence: ['webhook/catalog/live.ts', /getClusterCustomObject/],
  },
  {
    group: 'socat.io',
    resource: 'relays/status',
    verb: 'patch',
    why: "the elected controller: server-side apply of each Relay's summary, removal of the old status.nodes",
    evidence: ['webhook/cluster/index.ts', /patchClusterCustomObjectStatus/],
  },
  {
    group: 'socat.io',
    resource: 'relaynodes',
    verb: 'get',
    why: "read this node's RelayNode at start and at each resync",
    evidence: ['webhook/reconcile/kube.ts', /getClusterCustomObject/],
  },
  {
    group: 'socat.io',
    resource: 'relaynodes',
    verb: 'patch',
    why: "server-side apply of this node's RelayNode",
    evidence: ['webhook/reconcile/kube.ts', /patchClusterCustomObject\(/],
  },
  {
    group: 'socat.io',
    resource: 'relaynodes',
    verb: 'create',
    why: 'the first apply creates it',
    evidence: ['webhook/reconcile/kube.ts', /PatchStrategy\.ServerSideApply/],
  },
  {
    group: 'socat.io',
    resource: 'relaynodes',
    verb: 'list',
    why: 'the elected controller: RelayNode informer',
    evidence: ['webhook/cluster/index.ts', /listClusterCustomObject/],
  },
  {
    group: 'socat.io',
    resource: 'relaynodes',
    verb: 'watch',
    why: 'the elected controller: RelayNode informer watch',
    evidence: ['webhook/cluster/index.ts', /new ResilientInformer<RelayNodeObject>/],
  },
  {
    group: '',
    resource: 'namespaces',
    verb: 'list',
    why: 'namespace informer: labels for consumers.namespaceSelector',
    evidence: ['webhook/catalog/informer.ts', /listNamespace/],
  },
  {
    group: '',
    resource: 'namespaces',
    verb: 'watch',
    why: 'namespace informer watch',
    evidence: ['webhook/catalog/informer.ts', /NAMESPACES_PATH/],
  },
  {
    group: '',
    resource: 'nodes',
    verb: 'list',
    why: 'own node (fieldSelector metadata.name): labels for spec.nodeSelector',
    evidence: ['webhook/reconcile/kube.ts', /listNode\(/],
  },
  {
    group: '',
    resource: 'nodes',
    verb: 'watch',
    why: "own node label changes; the elected controller: every Node's Ready condition",
    evidence: ['webhook/cluster/index.ts', /new ResilientInformer<V1Node>/],
  },
  {
    group: 'authentication.k8s.io',
    resource: 'tokenreviews',
    verb: 'create',
    why: "who scrapes /metrics: the bearer token's user",
    evidence: ['webhook/metrics-auth.ts', /createTokenReview/],
  },
  {
    group: 'authorization.k8s.io',
    resource: 'subjectaccessreviews',
    verb: 'create',
    why: 'may that user get /metrics (RBAC)',
    evidence: ['webhook/metrics-auth.ts', /createSubjectAccessReview/],
  },
  {
    group: '',
    resource: 'events',
    verb: 'create',
    why: 'Events on Relays (ready / failing on a node)',
    evidence: ['webhook/reconcile/kube.ts', /createNamespacedEvent/],
  },
];

// The namespaced Role: the controllers' Leases in their own namespace, nothing cluster-wide.
const LEASE_ROLE = 'socat-relay-controller-leases';
const ALLOW_NAMESPACED: Use[] = [
  {
    group: 'coordination.k8s.io',
    resource: 'leases',
    verb: 'get',
    why: 'read its own Lease before renewing it',
    evidence: ['webhook/reconcile/lease-kube.ts', /readNamespacedLease/],
  },
  {
    group: 'coordination.k8s.io',
    resource: 'leases',
    verb: 'create',
    why: 'create its own Lease once',
    evidence: ['webhook/reconcile/lease-kube.ts', /createNamespacedLease/],
  },
  {
    group: 'coordination.k8s.io',
    resource: 'leases',
    verb: 'update',
    why: 'renew it (spec.renewTime)',
    evidence: ['webhook/reconcile/lease-kube.ts', /replaceNamespacedLease/],
  },
  {
    group: 'coordination.k8s.io',
    resource: 'leases',
    verb: 'list',
    why: "the elected controller's Lease informer: every controller's Lease, to find expired ones",
    evidence: ['webhook/cluster/leases.ts', /listNamespacedLease/],
  },
  {
    group: 'coordination.k8s.io',
    resource: 'leases',
    verb: 'watch',
    why: 'Lease informer watch',
    evidence: ['webhook/cluster/leases.ts', /new ResilientInformer<V1Lease>/],
  },
];

// The reconcile-only controllers (ServiceAccount socat-relay-node): one node's needs.
const NODE_ROLE = 'socat-relay-node';
const NODE_LEASE_ROLE = 'socat-relay-node-leases';
/** manifests/self-managed-certs: the serving controllers' Role and ClusterRole for their own certificates. */
const CERTS_ROLE = 'socat-relay-controller-certs';
const NOT_FOR_NODES = new Set([
  'socat.io/relays:get',
  'socat.io/relays/status:patch',
  'socat.io/relaynodes:list',
  'socat.io/relaynodes:watch',
]);
const ALLOW_NODE = ALLOW.filter((u) => !NOT_FOR_NODES.has(key(u.group, u.resource, u.verb)));
const ALLOW_NODE_NAMESPACED = ALLOW_NAMESPACED.filter((u) => !['list', 'watch'].includes(u.verb));

const SENSITIVE = new Set([
  'secrets',
  'pods',
  'pods/exec',
  'serviceaccounts/token',
  'clusterroles',
  'clusterrolebindings',
  'roles',
  'rolebindings',
  'mutatingwebhookconfigurations',
  'validatingwebhookconfigurations',
  'nodes/proxy',
  'configmaps',
]);

function manifestFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = path.join(dir, n);
    return statSync(p).isDirectory() ? manifestFiles(p) : /\.ya?ml$/.test(n) ? [p] : [];
  });
}

interface Rule {
  apiGroups?: string[];
  resources?: string[];
  verbs?: string[];
  nonResourceURLs?: string[];
}
interface Role {
  kind: string;
  metadata: { name: string; namespace?: string };
  rules?: Rule[];
  file: string;
}

function roles(): Role[] {
  const out: Role[] = [];
  for (const f of manifestFiles(path.join(REPO_ROOT, 'manifests'))) {
    for (const d of parseAllDocuments(readFileSync(f, 'utf8'))) {
      const v = d.toJS() as Role | null;
      if (v && (v.kind === 'ClusterRole' || v.kind === 'Role')) out.push({ ...v, file: path.relative(REPO_ROOT, f) });
    }
  }
  return out;
}

function granted(role: Role): Set<string> {
  const s = new Set<string>();
  for (const r of role.rules ?? [])
    for (const g of r.apiGroups ?? [])
      for (const res of r.resources ?? []) for (const v of r.verbs ?? []) s.add(key(g, res, v));
  return s;
}

test('every API call the code makes is backed by evidence in the source (the allow-list is not stale)', () => {
  for (const u of ALLOW) {
    const text = readFileSync(path.join(REPO_ROOT, u.evidence[0]), 'utf8');
    assert.match(
      text,
      u.evidence[1],
      `${key(u.group, u.resource, u.verb)}: ${u.evidence[0]} no longer shows ${u.evidence[1]}`,
    );
  }
});

test('the manifests hold exactly one controller ClusterRole, bound only to the controller ServiceAccount', () => {
  const all = roles();
  console.log(`[rbac] roles in manifests/: ${all.map((r) => `${r.kind}/${r.metadata.name} (${r.file})`).join(', ')}`);
  const cr = all.filter((r) => r.metadata.name === 'socat-relay-controller');
  assert.equal(cr.length, 1);
  const text = readFileSync(path.join(REPO_ROOT, cr[0]!.file), 'utf8');
  const bindings = parseAllDocuments(text)
    .map(
      (d) =>
        d.toJS() as {
          kind: string;
          subjects?: { kind: string; name: string; namespace?: string }[];
          roleRef?: { name: string };
        },
    )
    .filter((d) => d?.kind?.endsWith('Binding'));
  assert.ok(bindings.length >= 4);
  for (const b of bindings) {
    // Each account's roles bound to that account only: the reconcile-only account gets the node roles.
    const sa = b.roleRef!.name.startsWith(NODE_ROLE) ? NODE_ROLE : 'socat-relay-controller';
    assert.deepEqual(
      b.subjects,
      [{ kind: 'ServiceAccount', name: sa, namespace: 'socat-relay-system' }],
      `${b.kind}/${b.roleRef!.name}`,
    );
  }
});

test('the controller can do everything the code needs (allowed ⊆ granted)', () => {
  const g = granted(roles().find((r) => r.metadata.name === 'socat-relay-controller')!);
  const missing = ALLOW.map((u) => key(u.group, u.resource, u.verb)).filter((k) => !g.has(k));
  assert.deepEqual(missing, []);
});

test('no wildcard, no sensitive resource, no write to Relay specs, no escalate/bind/impersonate', () => {
  const role = roles().find((r) => r.metadata.name === 'socat-relay-controller')!;
  for (const r of role.rules ?? []) {
    assert.ok(
      !(r.apiGroups ?? []).includes('*') && !(r.resources ?? []).includes('*') && !(r.verbs ?? []).includes('*'),
      `wildcard in ${JSON.stringify(r)}`,
    );
    assert.equal(r.nonResourceURLs, undefined);
    for (const res of r.resources ?? []) assert.ok(!SENSITIVE.has(res), `sensitive resource ${res}`);
    for (const v of r.verbs ?? [])
      assert.ok(!['escalate', 'bind', 'impersonate', 'deletecollection'].includes(v), `verb ${v}`);
    if ((r.resources ?? []).includes('relays'))
      assert.deepEqual(
        (r.verbs ?? []).filter((v) => !['get', 'list', 'watch'].includes(v)),
        [],
        'write access to Relay specs',
      );
  }
});

test('every verb granted is explained by a comment above its rule in the manifest', () => {
  assertCommented(roles().find((r) => r.metadata.name === 'socat-relay-controller')!);
});

function assertCommented(role: Role): void {
  // The lines of this role's own document in the file.
  const docs = readFileSync(path.join(REPO_ROOT, role.file), 'utf8').split(/^---$/m);
  const own = docs.filter((d) => {
    const v = parseAllDocuments(d)[0]?.toJS() as Role | null;
    return v?.kind === role.kind && v.metadata?.name === role.metadata.name;
  });
  assert.equal(own.length, 1, `${role.kind}/${role.metadata.name}: one document in ${role.file}`);
  const lines = own[0]!.split('\n');
  const ruleStarts = lines.map((l, i) => (/^\s*- apiGroups:/.test(l) ? i : -1)).filter((i) => i >= 0);
  assert.equal(ruleStarts.length, (role.rules ?? []).length);
  ruleStarts.forEach((start, n) => {
    const comments: string[] = [];
    for (let i = start - 1; i >= 0 && /^\s*#/.test(lines[i]!); i--) comments.unshift(lines[i]!);
    const text = comments.join(' ').toLowerCase();
    for (const v of role.rules![n]!.verbs ?? [])
      assert.ok(
        new RegExp(`\\b${v}\\b`).test(text),
        `rule ${n + 1} (${(role.rules![n]!.resources ?? []).join(',')}): verb ${v} has no comment`,
      );
  });
}

test('the controller is granted nothing beyond what it uses (granted ⊆ allowed)', () => {
  const g = granted(roles().find((r) => r.metadata.name === 'socat-relay-controller')!);
  const allowed = new Set(ALLOW.map((u) => key(u.group, u.resource, u.verb)));
  const extra = [...g].filter((k) => !allowed.has(k)).sort();
  console.log(
    `[rbac] granted ${g.size} verb/resource pairs; used ${allowed.size}; granted but unused: ${extra.join(', ') || 'none'}`,
  );
  assert.deepEqual(extra, []);
});

test("the Lease Role: namespaced in the controller's namespace, exactly the lease verbs the code uses, explained, bound only to the controller", () => {
  for (const u of ALLOW_NAMESPACED)
    assert.match(
      readFileSync(path.join(REPO_ROOT, u.evidence[0]), 'utf8'),
      u.evidence[1],
      `${key(u.group, u.resource, u.verb)}: ${u.evidence[0]} no longer shows ${u.evidence[1]}`,
    );
  const all = roles().filter((r) => r.metadata.name === LEASE_ROLE);
  assert.equal(all.length, 1);
  const role = all[0]!;
  assert.deepEqual(
    [role.kind, role.metadata.namespace],
    ['Role', 'socat-relay-system'],
    "a Role in the controller's namespace, not a ClusterRole",
  );
  assert.deepEqual([...granted(role)].sort(), ALLOW_NAMESPACED.map((u) => key(u.group, u.resource, u.verb)).sort());
  assertCommented(role);
  const text = readFileSync(path.join(REPO_ROOT, role.file), 'utf8');
  const binding = parseAllDocuments(text)
    .map(
      (d) => d.toJS() as { kind: string; metadata: { namespace?: string }; roleRef?: { kind: string; name: string } },
    )
    .find((d) => d?.kind === 'RoleBinding' && d.roleRef?.name === LEASE_ROLE);
  assert.ok(binding, 'a RoleBinding for the Lease Role');
  assert.deepEqual([binding.metadata.namespace, binding.roleRef!.kind], ['socat-relay-system', 'Role']);
  const others = roles()
    .filter((r) => r.kind === 'Role' && ![LEASE_ROLE, NODE_LEASE_ROLE, CERTS_ROLE].includes(r.metadata.name))
    .map((r) => r.metadata.name);
  assert.deepEqual(others, [], 'no other namespaced Role');
});

test("the reconcile-only roles: exactly one node's needs — no Relay status, no list or watch of RelayNodes or Leases — explained", () => {
  const role = roles().find((r) => r.metadata.name === NODE_ROLE && r.kind === 'ClusterRole')!;
  assert.deepEqual([...granted(role)].sort(), ALLOW_NODE.map((u) => key(u.group, u.resource, u.verb)).sort());
  assertCommented(role);
  const leases = roles().find((r) => r.metadata.name === NODE_LEASE_ROLE)!;
  assert.deepEqual([leases.kind, leases.metadata.namespace], ['Role', 'socat-relay-system']);
  assert.deepEqual(
    [...granted(leases)].sort(),
    ALLOW_NODE_NAMESPACED.map((u) => key(u.group, u.resource, u.verb)).sort(),
  );
  assertCommented(leases);
});

test("the self-managed certificates' roles: get and update of the two Secrets and the two webhook configurations, by name only, explained", () => {
  const certs = roles().filter((r) => r.metadata.name === CERTS_ROLE);
  assert.deepEqual(certs.map((r) => [r.kind, r.metadata.namespace]).sort(), [
    ['ClusterRole', undefined],
    ['Role', 'socat-relay-system'],
  ]);
  const rules = (kind: string) => certs.find((r) => r.kind === kind)!.rules;
  assert.deepEqual(rules('Role'), [
    {
      apiGroups: [''],
      resources: ['secrets'],
      resourceNames: ['socat-relay-webhook-ca', 'socat-relay-webhook-serving'],
      verbs: ['get', 'update'],
    },
  ]);
  assert.deepEqual(rules('ClusterRole'), [
    {
      apiGroups: ['admissionregistration.k8s.io'],
      resources: ['mutatingwebhookconfigurations', 'validatingwebhookconfigurations'],
      resourceNames: ['socat-relay'],
      verbs: ['get', 'update'],
    },
  ]);
  for (const r of certs) assertCommented(r);
});
