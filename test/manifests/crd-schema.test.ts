// The Relay CRD (manifests/crd/relays.socat.io.yaml) and relay/validate.ts must agree: a relay that
// validateRelay accepts is never refused by the API server's schema + CEL (or users could not apply
// what `socat-relay validate` passed), and what the schema refuses, validateRelay refuses too, on the
// same field. The few checks only the webhook makes are listed as such, so a change either way shows.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { parseDocuments } from '../../relay/load.js';
import {
  API_VERSION,
  GROUP,
  KIND,
  PLURAL,
  PROTOCOLS,
  RELAYNODE_KIND,
  RELAYNODE_PLURAL,
  UDP_MODES,
  VERSION,
  type NodeRelayState,
  type RelayNodeEntry,
  type RelayNodeStatus,
  type RelayStatus,
  type Condition,
} from '../../relay/types.js';
import { DEFAULT_REPLY_TIMEOUT_SECONDS, MAX_RELAY_NAME } from '../../relay/constants.js';
import { validateRelay } from '../../relay/validate.js';
import { checkTargetHost, checkListenAddress } from '../../relay/loopback.js';
import { validateAgainst, type Schema } from './openapi.js';
import { relaySummary } from '../../webhook/cluster/summary.js';
import { relayNodeBody } from '../../webhook/reconcile/relay-node.js';
import { MAX_MESSAGE } from '../../webhook/reconcile/node-status.js';

const CRD_FILE = new URL('../../manifests/crd/relays.socat.io.yaml', import.meta.url);

interface Crd {
  spec: {
    group: string;
    scope: string;
    names: { kind: string; plural: string };
    versions: {
      name: string;
      served: boolean;
      storage: boolean;
      subresources?: { status?: object };
      additionalPrinterColumns: { name: string; jsonPath: string }[];
      schema: { openAPIV3Schema: Schema };
    }[];
  };
}
const crd = parseDocuments(readFileSync(CRD_FILE, 'utf8'))[0] as Crd;
const version = crd.spec.versions[0]!;
const root = version.schema.openAPIV3Schema;
const spec = root.properties!.spec!;
const at = (s: Schema, ...path: string[]): Schema =>
  path.reduce((acc, k) => {
    const next =
      k === '[]'
        ? acc.items
        : (acc.properties?.[k] ??
          (typeof acc.additionalProperties === 'object' ? acc.additionalProperties : undefined));
    assert.ok(next, `schema has no ${path.join('.')}`);
    return next;
  }, s);

type Obj = Record<string, any>;
function relay(edit: (r: Obj) => void = () => {}): Obj {
  const r: Obj = {
    apiVersion: API_VERSION,
    kind: KIND,
    metadata: { name: 'kube-scheduler' },
    spec: { target: { host: '127.0.0.1', port: 10259 }, consumers: { namespaces: ['monitoring'] } },
  };
  edit(r);
  return r;
}

test('the CRD serves socat.io/v1alpha1 Relay, cluster-scoped, with a status subresource', () => {
  assert.equal(crd.spec.group, GROUP);
  assert.equal(crd.spec.scope, 'Cluster');
  assert.deepEqual({ kind: crd.spec.names.kind, plural: crd.spec.names.plural }, { kind: KIND, plural: PLURAL });
  assert.equal(crd.spec.versions.length, 1);
  assert.deepEqual([version.name, version.served, version.storage], [VERSION, true, true]);
  assert.deepEqual(version.subresources, { status: {} });
  assert.deepEqual(
    version.additionalPrinterColumns.map((c) => `${c.name}=${c.jsonPath}`),
    [
      'Protocol=.spec.protocol',
      'Target=.spec.target.host',
      'Port=.spec.target.port',
      'Listen=.status.listenPort',
      'Ready=.status.ready',
      'Age=.metadata.creationTimestamp',
    ],
  );
});

test('enums, defaults and ranges in the schema are the TypeScript constants', () => {
  assert.deepEqual(at(spec, 'protocol').enum, [...PROTOCOLS]);
  assert.equal(at(spec, 'protocol').default, 'TCP');
  assert.deepEqual(at(spec, 'udp', 'mode').enum, [...UDP_MODES]);
  assert.equal(at(spec, 'udp', 'mode').default, 'OneWay');
  for (const p of [
    ['target', 'port'],
    ['listen', 'port'],
  ]) {
    assert.deepEqual([at(spec, ...p).minimum, at(spec, ...p).maximum], [1, 65535], p.join('.'));
  }
  const timeout = at(spec, 'udp', 'replyTimeoutSeconds');
  assert.deepEqual([timeout.minimum, timeout.maximum], [1, 300]);
  assert.ok(DEFAULT_REPLY_TIMEOUT_SECONDS >= 1 && DEFAULT_REPLY_TIMEOUT_SECONDS <= 300);
  // validateRelay uses the same bounds (its MAX_REPLY_TIMEOUT is not exported: ask it).
  const udp = (t: number) =>
    validateRelay(
      relay((r) => {
        r.spec.protocol = 'UDP';
        r.spec.udp = { mode: 'RequestReply', replyTimeoutSeconds: t };
      }),
    );
  assert.deepEqual(
    [udp(1).problems, udp(300).problems.length, udp(301).problems.length, udp(0).problems.length],
    [[], 0, 1, 1],
  );
  assert.deepEqual(spec.required, ['target', 'consumers']);
  assert.deepEqual(at(spec, 'target').required, ['host', 'port']);
  const nameRule = root['x-kubernetes-validations']![0]!.rule;
  assert.match(nameRule, new RegExp(`size\\(self\\.metadata\\.name\\) <= ${MAX_RELAY_NAME}$`));
});

test('status schema: the deprecated nodes list stays a list-map keyed by node name with every RelayNodeStatus field (an upgrade reads the old objects); conditions keyed by type', () => {
  const status = root.properties!.status!;
  const nodes = at(status, 'nodes');
  assert.equal(nodes['x-kubernetes-list-type'], 'map');
  assert.deepEqual(nodes['x-kubernetes-list-map-keys'], ['name']);
  // Record<keyof …> makes the compiler fail here when a field is added to the type but not to this list.
  const nodeFields: Record<keyof RelayNodeStatus, true> = {
    name: true,
    ready: true,
    state: true,
    message: true,
    restarts: true,
    observedGeneration: true,
    lastTransitionTime: true,
  };
  assert.deepEqual(Object.keys(nodes.items!.properties!).sort(), Object.keys(nodeFields).sort());
  const states: Record<NodeRelayState, true> = {
    Running: true,
    Starting: true,
    Failing: true,
    Invalid: true,
    AgentMissing: true,
  };
  assert.deepEqual([...(at(nodes, '[]', 'state').enum ?? [])].sort(), Object.keys(states).sort());
  const conditions = at(status, 'conditions');
  assert.deepEqual([conditions['x-kubernetes-list-type'], conditions['x-kubernetes-list-map-keys']], ['map', ['type']]);
  const condFields: Record<keyof Condition, true> = {
    type: true,
    status: true,
    reason: true,
    message: true,
    lastTransitionTime: true,
    observedGeneration: true,
  };
  assert.deepEqual(Object.keys(conditions.items!.properties!).sort(), Object.keys(condFields).sort());
  assert.equal(at(status, 'readyNodes').type, 'integer');
  // A status as the reconcile writes it passes the schema.
  const withStatus = relay((r) => {
    r.status = {
      readyNodes: 1,
      nodes: [
        {
          name: 'cp-1',
          ready: true,
          state: 'Running',
          restarts: 0,
          observedGeneration: 2,
          lastTransitionTime: '2026-11-25T16:00:00Z',
        },
        { name: 'cp-2', ready: false, state: 'AgentMissing', message: 'no agent status file' },
      ],
      conditions: [
        {
          type: 'Ready',
          status: 'True',
          reason: 'Running',
          message: '1/2 nodes',
          lastTransitionTime: '2026-11-25T16:00:00Z',
        },
      ],
    };
  });
  assert.deepEqual(validateAgainst(root, withStatus).problems, []);
  const dup = structuredClone(withStatus);
  dup.status.nodes[1].name = 'cp-1';
  assert.match(
    validateAgainst(root, dup)
      .problems.map((p) => `${p.path}: ${p.message}`)
      .join('\n'),
    /\.status\.nodes\[1\]: duplicate entry/,
  );
});

test('the summary the elected controller writes passes the Relay schema; the RelayNode CRD holds every RelayNodeEntry field and what a node writes', () => {
  const status = root.properties!.status!;
  const summaryFields: Record<Exclude<keyof RelayStatus, 'nodes' | 'conditions'>, true> = {
    readyNodes: true,
    desiredNodes: true,
    ready: true,
    observedGeneration: true,
    listenPort: true,
  };
  for (const f of Object.keys(summaryFields)) assert.ok(at(status, f), `status.${f}`);
  const summary = relaySummary(
    relay(() => {}) as never,
    [{ node: 'cp-1', entry: { name: 'r', ready: true, state: 'Running' } }],
    '2026-11-25T16:00:00Z',
  );
  assert.deepEqual(
    validateAgainst(
      root,
      relay((r) => {
        r.status = summary;
      }),
    ).problems,
    [],
  );

  const rnCrd = parseDocuments(
    readFileSync(new URL('../../manifests/crd/relaynodes.socat.io.yaml', import.meta.url), 'utf8'),
  )[0] as Crd;
  const rnVersion = rnCrd.spec.versions[0]!;
  assert.deepEqual(
    [rnCrd.spec.group, rnCrd.spec.scope, rnCrd.spec.names.kind, rnCrd.spec.names.plural],
    [GROUP, 'Cluster', RELAYNODE_KIND, RELAYNODE_PLURAL],
  );
  assert.equal(rnVersion.subresources, undefined, 'the node applies the whole object: no status subresource');
  assert.deepEqual(
    rnVersion.additionalPrinterColumns.map((c) => `${c.name}=${c.jsonPath}`),
    ['Relays=.status.relayCount', 'Ready=.status.ready', 'Age=.metadata.creationTimestamp'],
  );
  const rnRoot = rnVersion.schema.openAPIV3Schema;
  const relays = at(rnRoot.properties!.status!, 'relays');
  assert.deepEqual([relays['x-kubernetes-list-type'], relays['x-kubernetes-list-map-keys']], ['map', ['name']]);
  const entryFields: Record<keyof RelayNodeEntry, true> = {
    name: true,
    uid: true,
    ready: true,
    state: true,
    message: true,
    restarts: true,
    observedGeneration: true,
    lastTransitionTime: true,
  };
  assert.deepEqual(Object.keys(relays.items!.properties!).sort(), Object.keys(entryFields).sort());
  const body = relayNodeBody('cp-1', 'uid-1', [
    {
      name: 'a',
      uid: 'u',
      ready: true,
      state: 'Running',
      restarts: 0,
      observedGeneration: 2,
      lastTransitionTime: '2026-11-25T16:00:00Z',
    },
    { name: 'b', ready: false, state: 'AgentMissing', message: 'x'.repeat(MAX_MESSAGE) },
  ]);
  assert.deepEqual(validateAgainst(rnRoot, body as unknown as Obj).problems, []);
  const long = structuredClone(body) as unknown as Obj;
  long.status.relays[1].message += 'x';
  assert.equal(validateAgainst(rnRoot, long).problems.length, 1, 'the bound nodeEntry keeps to (MAX_MESSAGE)');
});

const VALID: [string, (r: Obj) => void][] = [
  ['the minimal TCP relay', () => {}],
  [
    'target localhost',
    (r) => {
      r.spec.target.host = 'localhost';
    },
  ],
  [
    'target 127.255.255.254 (anywhere in 127.0.0.0/8)',
    (r) => {
      r.spec.target.host = '127.255.255.254';
    },
  ],
  [
    'target ::1',
    (r) => {
      r.spec.target.host = '::1';
    },
  ],
  [
    'ports 1 and 65535',
    (r) => {
      r.spec.target.port = 1;
      r.spec.listen = { port: 65535 };
    },
  ],
  [
    'listen on 0.0.0.0 (legal, warned)',
    (r) => {
      r.spec.listen = { address: '0.0.0.0', port: 9100 };
    },
  ],
  [
    'listen on :: and on 127.0.0.2',
    (r) => {
      r.spec.listen = { address: '::' };
    },
  ],
  [
    'listen on 127.0.0.2',
    (r) => {
      r.spec.listen = { address: '127.0.0.2' };
    },
  ],
  [
    'listen on ::1',
    (r) => {
      r.spec.listen = { address: '::1' };
    },
  ],
  [
    'protocol TCP spelled out',
    (r) => {
      r.spec.protocol = 'TCP';
    },
  ],
  [
    'UDP one-way (mode defaulted)',
    (r) => {
      r.spec.protocol = 'UDP';
      r.spec.target.port = 514;
      r.spec.listen = { port: 5140 };
    },
  ],
  [
    'UDP one-way explicit',
    (r) => {
      r.spec.protocol = 'UDP';
      r.spec.udp = { mode: 'OneWay' };
    },
  ],
  [
    'UDP request-reply with a 300 s timeout',
    (r) => {
      r.spec.protocol = 'UDP';
      r.spec.udp = { mode: 'RequestReply', replyTimeoutSeconds: 300 };
    },
  ],
  [
    'control-plane nodeSelector with an empty value',
    (r) => {
      r.spec.nodeSelector = { 'node-role.kubernetes.io/control-plane': '', 'kubernetes.io/os': 'linux' };
    },
  ],
  [
    'every namespace (namespaceSelector {})',
    (r) => {
      r.spec.consumers = { namespaceSelector: {} };
    },
  ],
  [
    'namespaces and a selector with every operator',
    (r) => {
      r.spec.consumers = {
        namespaces: ['monitoring', 'logging'],
        namespaceSelector: {
          matchLabels: { team: 'observability' },
          matchExpressions: [
            { key: 'kubernetes.io/metadata.name', operator: 'In', values: ['a', 'b'] },
            { key: 'tier', operator: 'NotIn', values: ['x'] },
            { key: 'example.com/monitored', operator: 'Exists' },
            { key: 'legacy', operator: 'DoesNotExist', values: [] },
          ],
        },
      };
    },
  ],
  [
    'sidecar resources as strings and integers',
    (r) => {
      r.spec.sidecar = {
        resources: {
          requests: { cpu: '10m', memory: '16Mi' },
          limits: { memory: 64, 'ephemeral-storage': '1Gi', cpu: '1e3' },
        },
      };
    },
  ],
  [
    'a 57-character name (the longest)',
    (r) => {
      r.metadata.name = `a${'b'.repeat(MAX_RELAY_NAME - 1)}`;
    },
  ],
  [
    'a name that starts with a digit',
    (r) => {
      r.metadata.name = '2381-etcd';
    },
  ],
];

for (const [name, edit] of VALID) {
  test(`accepted by both the CRD and validateRelay: ${name}`, () => {
    const r = relay(edit);
    const ts = validateRelay(r);
    assert.deepEqual(ts.problems, [], 'validateRelay');
    assert.deepEqual(validateAgainst(root, r).problems, [], 'CRD schema + CEL');
  });
}

test('the CRD defaults are the ones validateRelay resolves (protocol TCP, udp.mode OneWay)', () => {
  const tcp = validateAgainst(root, relay()).defaulted as Obj;
  assert.equal(tcp.spec.protocol, validateRelay(relay()).resolved!.protocol);
  const udpRelay = relay((r) => {
    r.spec.protocol = 'UDP';
    r.spec.udp = {};
  });
  const udp = validateAgainst(root, udpRelay).defaulted as Obj;
  assert.equal(udp.spec.udp.mode, validateRelay(udpRelay).resolved!.udpMode);
});

// [situation, edit, the field validateRelay names, what the CRD's message or path must contain]
const REFUSED: [string, (r: Obj) => void, string, RegExp][] = [
  [
    'target 169.254.169.254 (cloud metadata)',
    (r) => {
      r.spec.target.host = '169.254.169.254';
    },
    'spec.target.host',
    /spec\.target\.host must be a loopback address/,
  ],
  [
    'target a node address',
    (r) => {
      r.spec.target.host = '10.0.0.12';
    },
    'spec.target.host',
    /spec\.target\.host must be a loopback/,
  ],
  [
    'target 0.0.0.0',
    (r) => {
      r.spec.target.host = '0.0.0.0';
    },
    'spec.target.host',
    /spec\.target\.host must be a loopback/,
  ],
  [
    'target a host name',
    (r) => {
      r.spec.target.host = 'kubernetes.default.svc';
    },
    'spec.target.host',
    /spec\.target\.host must be a loopback/,
  ],
  [
    'target 127.1 (short form)',
    (r) => {
      r.spec.target.host = '127.1';
    },
    'spec.target.host',
    /spec\.target\.host must be a loopback/,
  ],
  [
    'target 2130706433 (decimal)',
    (r) => {
      r.spec.target.host = '2130706433';
    },
    'spec.target.host',
    /spec\.target\.host must be a loopback/,
  ],
  [
    'target 0177.0.0.1 (octal)',
    (r) => {
      r.spec.target.host = '0177.0.0.1';
    },
    'spec.target.host',
    /spec\.target\.host must be a loopback/,
  ],
  [
    'target 127.000.000.001 (leading zeros)',
    (r) => {
      r.spec.target.host = '127.000.000.001';
    },
    'spec.target.host',
    /spec\.target\.host must be a loopback/,
  ],
  [
    'target ::ffff:127.0.0.1 (IPv4-mapped)',
    (r) => {
      r.spec.target.host = '::ffff:127.0.0.1';
    },
    'spec.target.host',
    /spec\.target\.host must be a loopback/,
  ],
  [
    'target [::1] (brackets)',
    (r) => {
      r.spec.target.host = '[::1]';
    },
    'spec.target.host',
    /spec\.target\.host must be a loopback/,
  ],
  [
    'target :: (any)',
    (r) => {
      r.spec.target.host = '::';
    },
    'spec.target.host',
    /spec\.target\.host must be a loopback/,
  ],
  [
    'target empty',
    (r) => {
      r.spec.target.host = '';
    },
    'spec.target.host',
    /\.spec\.target\.host/,
  ],
  [
    'target port as a string',
    (r) => {
      r.spec.target.port = '10259';
    },
    'spec.target.port',
    /\.spec\.target\.port/,
  ],
  [
    'target port 0',
    (r) => {
      r.spec.target.port = 0;
    },
    'spec.target.port',
    /\.spec\.target\.port: port 0 is out of range 1-65535/,
  ],
  [
    'target port 65536',
    (r) => {
      r.spec.target.port = 65536;
    },
    'spec.target.port',
    /\.spec\.target\.port: port 65536 is out of range 1-65535/,
  ],
  [
    'listen port 70000',
    (r) => {
      r.spec.listen = { port: 70000 };
    },
    'spec.listen.port',
    /\.spec\.listen\.port: port 70000 is out of range 1-65535/,
  ],
  [
    'listen on a pod-network address',
    (r) => {
      r.spec.listen = { address: '10.244.1.7' };
    },
    'spec.listen.address',
    /spec\.listen\.address must be a loopback address/,
  ],
  [
    'listen on 127.999.0.1',
    (r) => {
      r.spec.listen = { address: '127.999.0.1' };
    },
    'spec.listen.address',
    /spec\.listen\.address must be/,
  ],
  [
    'protocol SCTP',
    (r) => {
      r.spec.protocol = 'SCTP';
    },
    'spec.protocol',
    /\.spec\.protocol: unknown protocol "SCTP"/,
  ],
  [
    'protocol in lower case',
    (r) => {
      r.spec.protocol = 'tcp';
    },
    'spec.protocol',
    /\.spec\.protocol: unknown protocol/,
  ],
  [
    'udp settings on a TCP relay',
    (r) => {
      r.spec.udp = { mode: 'OneWay' };
    },
    'spec.udp',
    /spec\.udp is only allowed with protocol UDP/,
  ],
  [
    'udp mode Broadcast',
    (r) => {
      r.spec.protocol = 'UDP';
      r.spec.udp = { mode: 'Broadcast' };
    },
    'spec.udp.mode',
    /\.spec\.udp\.mode: unknown mode/,
  ],
  [
    'a reply timeout on a one-way relay',
    (r) => {
      r.spec.protocol = 'UDP';
      r.spec.udp = { replyTimeoutSeconds: 5 };
    },
    'spec.udp.replyTimeoutSeconds',
    /replyTimeoutSeconds is only allowed with udp\.mode RequestReply/,
  ],
  [
    'a reply timeout of 301 s',
    (r) => {
      r.spec.protocol = 'UDP';
      r.spec.udp = { mode: 'RequestReply', replyTimeoutSeconds: 301 };
    },
    'spec.udp.replyTimeoutSeconds',
    /replyTimeoutSeconds 301 is out of range 1-300/,
  ],
  [
    'a reply timeout of 0 s',
    (r) => {
      r.spec.protocol = 'UDP';
      r.spec.udp = { mode: 'RequestReply', replyTimeoutSeconds: 0 };
    },
    'spec.udp.replyTimeoutSeconds',
    /replyTimeoutSeconds 0 is out of range 1-300/,
  ],
  [
    'no target',
    (r) => {
      delete r.spec.target;
    },
    'spec.target',
    /\.spec\.target: required/,
  ],
  [
    'no target port',
    (r) => {
      delete r.spec.target.port;
    },
    'spec.target.port',
    /\.spec\.target\.port: required/,
  ],
  [
    'no consumers',
    (r) => {
      delete r.spec.consumers;
    },
    'spec.consumers',
    /\.spec\.consumers: required/,
  ],
  [
    'consumers without namespaces or selector',
    (r) => {
      r.spec.consumers = {};
    },
    'spec.consumers',
    /spec\.consumers: set namespaces and\/or namespaceSelector/,
  ],
  [
    'a duplicate consumer namespace',
    (r) => {
      r.spec.consumers.namespaces = ['monitoring', 'monitoring'];
    },
    'spec.consumers.namespaces[1]',
    /namespaces\[1\]: duplicate entry/,
  ],
  [
    'a consumer namespace that is not a DNS label',
    (r) => {
      r.spec.consumers.namespaces = ['Monitoring'];
    },
    'spec.consumers.namespaces[0]',
    /namespaces\[0\]: "Monitoring" is not a valid namespace name/,
  ],
  [
    'an In selector without values',
    (r) => {
      r.spec.consumers = { namespaceSelector: { matchExpressions: [{ key: 'a', operator: 'In' }] } };
    },
    'spec.consumers.namespaceSelector.matchExpressions[0].values',
    /values must be non-empty for In and NotIn/,
  ],
  [
    'an Exists selector with values',
    (r) => {
      r.spec.consumers = { namespaceSelector: { matchExpressions: [{ key: 'a', operator: 'Exists', values: ['x'] }] } };
    },
    'spec.consumers.namespaceSelector.matchExpressions[0].values',
    /empty for Exists and DoesNotExist/,
  ],
  [
    'an unknown selector operator',
    (r) => {
      r.spec.consumers = { namespaceSelector: { matchExpressions: [{ key: 'a', operator: 'Gt', values: ['1'] }] } };
    },
    'spec.consumers.namespaceSelector.matchExpressions[0].operator',
    /operator: unknown operator/,
  ],
  [
    'a selector key that is not a label key',
    (r) => {
      r.spec.consumers = { namespaceSelector: { matchExpressions: [{ key: 'a/b/c', operator: 'Exists' }] } };
    },
    'spec.consumers.namespaceSelector.matchExpressions[0].key',
    /\.key: "a\/b\/c" is not a valid label key/,
  ],
  [
    'a matchLabels key that is not a label key',
    (r) => {
      r.spec.consumers = { namespaceSelector: { matchLabels: { '-team': 'x' } } };
    },
    'spec.consumers.namespaceSelector.matchLabels.-team',
    /matchLabels: every key must be a valid label key/,
  ],
  [
    'a nodeSelector key with a space',
    (r) => {
      r.spec.nodeSelector = { 'node role': 'x' };
    },
    'spec.nodeSelector.node role',
    /spec\.nodeSelector: every key must be a valid label key/,
  ],
  [
    'a nodeSelector value with a space',
    (r) => {
      r.spec.nodeSelector = { role: 'control plane' };
    },
    'spec.nodeSelector.role',
    /\.spec\.nodeSelector\.role: "control plane" is not a valid label value/,
  ],
  [
    'a nodeSelector value that is not a string',
    (r) => {
      r.spec.nodeSelector = { role: true };
    },
    'spec.nodeSelector.role',
    /\.spec\.nodeSelector\.role: must be a string/,
  ],
  [
    'a sidecar resource that is not cpu/memory/ephemeral-storage',
    (r) => {
      r.spec.sidecar = { resources: { requests: { 'nvidia.com/gpu': '1' } } };
    },
    'spec.sidecar.resources.requests.nvidia.com/gpu',
    /allowed resources are cpu, memory and ephemeral-storage/,
  ],
  [
    'a sidecar quantity that is not a quantity',
    (r) => {
      r.spec.sidecar = { resources: { limits: { memory: 'lots' } } };
    },
    'spec.sidecar.resources.limits.memory',
    /limits\.memory: "lots" is not a quantity/,
  ],
  [
    'an unknown spec field (a typo of listen)',
    (r) => {
      r.spec.lisen = { port: 1 };
    },
    'spec.lisen',
    /\.spec\.lisen: unknown field/,
  ],
  [
    'an unknown target field',
    (r) => {
      r.spec.target.address = '127.0.0.1';
    },
    'spec.target.address',
    /\.spec\.target\.address: unknown field/,
  ],
  [
    'a name with a dot',
    (r) => {
      r.metadata.name = 'node.metrics';
    },
    'metadata.name',
    /metadata\.name must become a socket folder and a container name/,
  ],
  [
    'an upper-case name',
    (r) => {
      r.metadata.name = 'Etcd';
    },
    'metadata.name',
    /metadata\.name must become/,
  ],
  [
    'a 58-character name (socat-<name> would exceed 63)',
    (r) => {
      r.metadata.name = 'a'.repeat(MAX_RELAY_NAME + 1);
    },
    'metadata.name',
    /metadata\.name must become/,
  ],
  [
    'a name ending with a dash',
    (r) => {
      r.metadata.name = 'etcd-';
    },
    'metadata.name',
    /metadata\.name must become/,
  ],
];

for (const [name, edit, field, crdSays] of REFUSED) {
  test(`refused by both the CRD and validateRelay, naming the field: ${name}`, () => {
    const r = relay(edit);
    const ts = validateRelay(r);
    assert.ok(
      ts.problems.some((p) => p.field === field),
      `validateRelay names ${field}: ${JSON.stringify(ts.problems)}`,
    );
    const crdProblems = validateAgainst(root, r)
      .problems.map((p) => `${p.path}: ${p.message}`)
      .join('\n');
    assert.match(crdProblems, crdSays);
  });
}

// What only the webhook (validateRelay) refuses: the schema lets it through, the webhook (failurePolicy
// Fail) stops it. Listed so that tightening or loosening either side is a visible, deliberate change.
const WEBHOOK_ONLY: [string, (r: Obj) => void, string][] = [
  [
    'a selector key whose prefix is longer than 253 characters',
    (r) => {
      r.spec.nodeSelector = { [`${'a'.repeat(254)}/x`]: 'y' };
    },
    'spec.nodeSelector.' + `${'a'.repeat(254)}/x`,
  ],
];
for (const [name, edit, field] of WEBHOOK_ONLY) {
  test(`refused only by validateRelay (the webhook), not by the schema: ${name}`, () => {
    const r = relay(edit);
    assert.deepEqual(validateAgainst(root, r).problems, []);
    assert.ok(
      validateRelay(r).problems.some((p) => p.field === field),
      JSON.stringify(validateRelay(r).problems),
    );
  });
}

test('a fractional number as a quantity is refused by both, the schema being the one source (write "500m" or "0.5")', () => {
  const r = relay((x) => {
    x.spec.sidecar = { resources: { requests: { cpu: 0.5 } } };
  });
  assert.deepEqual(validateRelay(r).problems, [
    { field: 'spec.sidecar.resources.requests.cpu', message: 'must be an integer or a string, got number 0.5' },
  ]);
  assert.match(
    validateAgainst(root, r)
      .problems.map((p) => p.message)
      .join(),
    /must be an integer or a string/,
  );
});

test('every target host validateRelay accepts passes the CRD rule, and every 127/8 dotted quad is both accepted', () => {
  const hostRule = (h: string) =>
    validateAgainst(
      root,
      relay((r) => {
        r.spec.target.host = h;
      }),
    ).problems;
  const octet = fc.integer({ min: 0, max: 255 });
  const zeroGroup = fc.constantFrom('0', '00', '000', '0000');
  // IPv6 loopback spellings: 7 zero groups (some compressed) and a final 1 with optional leading zeros.
  const v6 = fc
    .tuple(
      fc.array(zeroGroup, { minLength: 7, maxLength: 7 }),
      fc.integer({ min: 0, max: 7 }),
      fc.integer({ min: 0, max: 7 }),
      fc.constantFrom('1', '01', '001', '0001'),
    )
    .map(([groups, a, b]) => {
      const [lo, hi] = a <= b ? [a, b] : [b, a];
      const full = [...groups, '1'];
      if (lo === hi) return full.join(':');
      return `${full.slice(0, lo).join(':')}::${full.slice(hi).join(':')}`;
    });
  const any = fc.oneof(
    fc.tuple(octet, octet, octet).map(([a, b, c]) => `127.${a}.${b}.${c}`),
    fc.tuple(octet, octet, octet, octet).map((o) => o.join('.')),
    v6,
    fc.string({ maxLength: 12 }),
  );
  fc.assert(
    fc.property(any, (h) => {
      const ts = checkTargetHost(h);
      if (ts.ok) assert.deepEqual(hostRule(h), [], `validateRelay accepts ${h}, the CRD must too`);
      if (!ts.ok && /^\d+\.\d+\.\d+\.\d+$/.test(h))
        assert.notDeepEqual(hostRule(h), [], `${h} refused by validateRelay must be refused by the CRD`);
    }),
    { numRuns: 400 },
  );
  fc.assert(
    fc.property(
      fc.oneof(
        fc.tuple(octet, octet, octet).map(([a, b, c]) => `127.${a}.${b}.${c}`),
        v6,
        fc.constant('0.0.0.0'),
        fc.constant('::'),
      ),
      (a) => {
        if (checkListenAddress(a).ok)
          assert.deepEqual(
            validateAgainst(
              root,
              relay((r) => {
                r.spec.listen = { address: a };
              }),
            ).problems,
            [],
            a,
          );
      },
    ),
    { numRuns: 200 },
  );
});
