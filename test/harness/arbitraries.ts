// fast-check generators of hostile and unusual input: Relay objects, pods of legal but unusual shapes,
// and AdmissionReview bodies (as text: malformed JSON, wrong kinds and versions, missing uid, huge and
// deeply nested objects). Mostly-valid values are mutated field by field so that the generator reaches
// deep into the handlers instead of stopping at the first check.
import fc from 'fast-check';

const RELAY_NAMES = ['kube-scheduler', 'etcd-metrics', 'syslog', 'dns', 'scheduler-copy', 'broken'];
const NAMESPACES = ['monitoring', 'observability', 'apps', 'kube-system', 'default'];

const junk = fc.oneof(
  fc.constant(null),
  fc.boolean(),
  fc.integer(),
  fc.double(),
  fc.string({ maxLength: 12 }),
  fc.constant([]),
  fc.constant({}),
);
const dnsLabel = fc.stringMatching(/^[a-z]([-a-z0-9]{0,14}[a-z0-9])?$/);
const octetArb = fc.integer({ min: 0, max: 255 });

/** A field that is usually `good`, sometimes missing, sometimes of the wrong type. */
function mostly<T>(good: fc.Arbitrary<T>, weight = 8): fc.Arbitrary<unknown> {
  return fc.oneof(
    { arbitrary: good, weight },
    { arbitrary: fc.constant(undefined), weight: 1 },
    { arbitrary: junk, weight: 1 },
  );
}

/** Present once in `n + 1` draws (fc.option's `freq` is the other way round: 1 in freq is nil). */
function rare<T>(arb: fc.Arbitrary<T>, n: number): fc.Arbitrary<T | undefined> {
  return fc.oneof({ arbitrary: fc.constant(undefined), weight: n }, { arbitrary: arb, weight: 1 });
}

function obj(fields: Record<string, fc.Arbitrary<unknown>>): fc.Arbitrary<Record<string, unknown>> {
  return fc.record(fields).map((r) => Object.fromEntries(Object.entries(r).filter(([, v]) => v !== undefined)));
}

const hostArb = fc.oneof(
  { arbitrary: fc.constantFrom('127.0.0.1', '127.0.0.53', 'localhost', '::1'), weight: 6 },
  {
    arbitrary: fc.constantFrom(
      '0.0.0.0',
      '127.1',
      '2130706433',
      '0x7f.0.0.1',
      '::ffff:127.0.0.1',
      '[::1]',
      '169.254.169.254',
      'example.com',
      '10.0.0.1',
      '127.0.0.1,fork',
      '',
    ),
    weight: 3,
  },
  {
    arbitrary: fc.oneof(fc.ipV4(), fc.ipV4Extended(), fc.ipV6(), fc.domain(), fc.string({ maxLength: 20 })),
    weight: 2,
  },
);

const portArb = fc.oneof(
  { arbitrary: fc.integer({ min: 1, max: 65535 }), weight: 8 },
  { arbitrary: fc.constantFrom(0, -1, 65536, 1.5, '80', 1e9, Number.NaN), weight: 2 },
);

const labelKey = fc.oneof(
  { arbitrary: dnsLabel, weight: 4 },
  { arbitrary: fc.constantFrom('node-role.kubernetes.io/control-plane', 'kubernetes.io/os', 'team'), weight: 4 },
  { arbitrary: fc.string({ maxLength: 10 }), weight: 1 },
);
const labelValue = fc.oneof(
  { arbitrary: fc.constantFrom('', 'linux', 'observability'), weight: 4 },
  { arbitrary: dnsLabel, weight: 4 },
  { arbitrary: fc.string({ maxLength: 10 }), weight: 1 },
);

const hostileRelayArb = obj({
  apiVersion: fc.oneof(
    { arbitrary: fc.constant('socat.io/v1alpha1'), weight: 9 },
    { arbitrary: fc.constantFrom('socat.io/v1', 'v1', undefined), weight: 1 },
  ),
  kind: fc.oneof(
    { arbitrary: fc.constant('Relay'), weight: 9 },
    { arbitrary: fc.constantFrom('relay', 'Pod', undefined), weight: 1 },
  ),
  metadata: mostly(
    obj({
      name: fc.oneof(
        { arbitrary: dnsLabel, weight: 16 },
        {
          arbitrary: fc.constantFrom(
            'a'.repeat(57),
            'a'.repeat(58),
            'Bad_Name',
            '-x',
            'x-',
            'a.b',
            '../etc',
            'a/b',
            'a,b',
            'a:b',
            '',
          ),
          weight: 2,
        },
        { arbitrary: fc.string({ maxLength: 70 }), weight: 1 },
      ),
      namespace: fc.oneof(
        { arbitrary: fc.constant(undefined), weight: 9 },
        { arbitrary: fc.constantFrom('', 'default'), weight: 1 },
      ),
      generation: fc.option(fc.integer({ min: 1, max: 100 }), { nil: undefined }),
    }),
  ),
  spec: mostly(
    obj({
      protocol: fc.oneof(
        { arbitrary: fc.constantFrom(undefined, 'TCP', 'UDP'), weight: 9 },
        { arbitrary: fc.constantFrom('tcp', 'SCTP', 1), weight: 1 },
      ),
      target: mostly(obj({ host: mostly(hostArb, 12), port: mostly(portArb, 12) }), 12),
      listen: rare(
        obj({
          port: fc.option(portArb, { nil: undefined }),
          address: fc.option(
            fc.oneof(
              { arbitrary: fc.constantFrom('127.0.0.1', '::1', '0.0.0.0', '::', '127.0.0.9'), weight: 4 },
              { arbitrary: hostArb, weight: 1 },
            ),
            { nil: undefined },
          ),
        }),
        1,
      ),
      udp: rare(
        obj({
          mode: fc.option(fc.constantFrom('OneWay', 'RequestReply', 'Bogus'), { nil: undefined }),
          replyTimeoutSeconds: fc.option(fc.oneof(fc.integer({ min: 1, max: 300 }), fc.constantFrom(0, 301, 2.5)), {
            nil: undefined,
          }),
        }),
        1,
      ),
      nodeSelector: rare(fc.dictionary(labelKey, labelValue, { maxKeys: 3 }), 2),
      consumers: mostly(
        obj({
          namespaces: fc.option(
            fc.uniqueArray(
              fc.oneof(
                { arbitrary: dnsLabel, weight: 12 },
                { arbitrary: fc.constantFrom('monitoring', 'Bad_NS', ''), weight: 1 },
              ),
              { maxLength: 4 },
            ),
            { nil: undefined },
          ),
          namespaceSelector: rare(
            obj({ matchLabels: fc.option(fc.dictionary(labelKey, labelValue, { maxKeys: 2 }), { nil: undefined }) }),
            1,
          ),
        }),
        12,
      ),
      sidecar: rare(
        obj({
          resources: obj({
            requests: fc.option(
              fc.dictionary(fc.constantFrom('cpu', 'memory', 'gpu'), fc.constantFrom('5m', '8Mi', '1', 'lots')),
              { nil: undefined },
            ),
          }),
        }),
        3,
      ),
      extra: rare(junk, 15),
    }),
  ),
});

const goodLabelKey = fc.oneof(
  dnsLabel,
  fc.constantFrom('node-role.kubernetes.io/control-plane', 'kubernetes.io/os', 'example.com/zone'),
);
const goodLabelValue = fc.oneof(fc.constantFrom('', 'linux'), dnsLabel);

/** Relays that are valid by construction (so the argv builders see many shapes), in every protocol/mode. */
const goodRelayArb = fc
  .record({
    name: dnsLabel,
    mode: fc.constantFrom('TCP', 'UDP-OneWay', 'UDP-RequestReply'),
    host: fc.oneof(
      fc.constantFrom('localhost', '::1'),
      fc.tuple(octetArb, octetArb, octetArb).map(([a, b, c]) => `127.${a}.${b}.${c}`),
    ),
    port: fc.integer({ min: 1, max: 65535 }),
    listen: rare(
      obj({
        port: fc.option(fc.integer({ min: 1, max: 65535 }), { nil: undefined }),
        address: fc.option(fc.constantFrom('127.0.0.1', '127.0.0.9', '::1', '0.0.0.0', '::'), { nil: undefined }),
      }),
      1,
    ),
    timeout: fc.option(fc.integer({ min: 1, max: 300 }), { nil: undefined }),
    nodeSelector: rare(fc.dictionary(goodLabelKey, goodLabelValue, { maxKeys: 3 }), 1),
    namespaces: fc.uniqueArray(dnsLabel, { minLength: 1, maxLength: 3 }),
    selector: rare(fc.dictionary(goodLabelKey, goodLabelValue, { maxKeys: 2 }), 1),
  })
  .map((g) => {
    const [protocol, udpMode] = g.mode.split('-');
    return {
      apiVersion: 'socat.io/v1alpha1',
      kind: 'Relay',
      metadata: { name: g.name },
      spec: {
        protocol,
        target: { host: g.host, port: g.port },
        ...(g.listen ? { listen: g.listen } : {}),
        ...(udpMode
          ? {
              udp: {
                mode: udpMode,
                ...(udpMode === 'RequestReply' && g.timeout ? { replyTimeoutSeconds: g.timeout } : {}),
              },
            }
          : {}),
        ...(g.nodeSelector ? { nodeSelector: g.nodeSelector } : {}),
        consumers: {
          namespaces: g.namespaces,
          ...(g.selector ? { namespaceSelector: { matchLabels: g.selector } } : {}),
        },
      },
    };
  });

export const relayArb: fc.Arbitrary<unknown> = fc.oneof(
  { arbitrary: goodRelayArb, weight: 1 },
  { arbitrary: hostileRelayArb, weight: 2 },
);

// ---- pods ----

const containerName = fc.oneof(
  { arbitrary: dnsLabel, weight: 20 },
  { arbitrary: fc.constantFrom('socat-kube-scheduler', 'socat-syslog'), weight: 1 },
);
const containerPort = fc.oneof(fc.integer({ min: 1, max: 65535 }), fc.constantFrom(10259, 5140, 2381, 5353));

function containersArb(max: number, init: boolean): fc.Arbitrary<Record<string, unknown>[]> {
  return fc
    .uniqueArray(containerName, { maxLength: max })
    .chain((names) =>
      fc.tuple(
        ...names.map((name) =>
          obj({
            name: fc.constant(name),
            image: fc.constantFrom('busybox', 'prom/prometheus:v3.0.0'),
            ports: fc.option(
              fc.array(obj({ containerPort, protocol: fc.option(fc.constantFrom('TCP', 'UDP'), { nil: undefined }) }), {
                maxLength: 2,
              }),
              { nil: undefined },
            ),
            restartPolicy: init ? rare(fc.constant('Always'), 1) : fc.constant(undefined),
            extra: rare(fc.jsonValue({ maxDepth: 2 }), 4),
          }),
        ),
      ),
    )
    .map((cs) => cs);
}

const term = obj({
  matchExpressions: fc.option(
    fc.array(
      obj({
        key: fc.constantFrom('zone', 'node-role.kubernetes.io/control-plane', 'kubernetes.io/os'),
        operator: fc.constantFrom('In', 'NotIn', 'Exists'),
        values: fc.option(fc.array(dnsLabel, { maxLength: 2 }), { nil: undefined }),
      }),
      { maxLength: 3 },
    ),
    { nil: undefined },
  ),
});

const podArb = fc
  .record({
    relayLabel: fc.option(
      fc.oneof(
        { arbitrary: fc.constantFrom('kube-scheduler', 'syslog', 'dns'), weight: 8 },
        { arbitrary: fc.constantFrom(...RELAY_NAMES), weight: 4 },
        { arbitrary: fc.constantFrom('', ' ', 'missing', 'kube-scheduler,syslog'), weight: 2 },
      ),
      { nil: undefined, freq: 8 },
    ),
    annotation: rare(
      fc.array(fc.constantFrom(...RELAY_NAMES, 'missing', ' '), { maxLength: 3 }).map((a) => a.join(',')),
      2,
    ),
    injected: rare(fc.constantFrom('kube-scheduler', 'syslog', 'kube-scheduler,syslog', 'bogus'), 6),
    namespace: fc.option(
      fc.oneof(
        { arbitrary: fc.constant('monitoring'), weight: 4 },
        { arbitrary: fc.constantFrom(...NAMESPACES), weight: 1 },
      ),
      { nil: undefined, freq: 10 },
    ),
    containers: fc.option(containersArb(4, false), { nil: undefined, freq: 10 }),
    initContainers: rare(containersArb(3, true), 2),
    volumes: rare(
      fc
        .uniqueArray(
          fc.oneof(
            { arbitrary: dnsLabel, weight: 6 },
            { arbitrary: fc.constantFrom('socat-kube-scheduler', 'socat-syslog', 'socat-dns'), weight: 1 },
          ),
          { maxLength: 3 },
        )
        .map((ns) => ns.map((name) => ({ name, emptyDir: {} }))),
      1,
    ),
    terms: rare(fc.array(term, { maxLength: 3 }), 1),
    hostNetwork: rare(fc.constant(true), 20),
    extra: rare(fc.dictionary(fc.string({ maxLength: 6 }), fc.jsonValue({ maxDepth: 3 }), { maxKeys: 3 }), 3),
  })
  .map((g) => {
    const labels: Record<string, string> = { app: 'x' };
    if (g.relayLabel !== undefined) labels['socat.io/consume'] = g.relayLabel;
    const annotations: Record<string, string> = {};
    if (g.annotation !== undefined) annotations['socat.io/consume'] = g.annotation;
    if (g.injected !== undefined) annotations['socat.io/injected'] = g.injected;
    const spec: Record<string, unknown> = { ...(g.extra ?? {}) };
    if (g.containers) spec.containers = g.containers;
    if (g.initContainers) spec.initContainers = g.initContainers;
    if (g.volumes) spec.volumes = g.volumes;
    if (g.terms)
      spec.affinity = {
        nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: g.terms } },
      };
    if (g.hostNetwork) spec.hostNetwork = true;
    return {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: {
        generateName: 'p-',
        ...(g.namespace ? { namespace: g.namespace } : {}),
        labels,
        ...(Object.keys(annotations).length ? { annotations } : {}),
      },
      spec,
    };
  });

// ---- AdmissionReview bodies ----

export interface GeneratedBody {
  /** The bytes sent. */
  text: string;
  /** The path it is sent to. */
  path: '/mutate-pods' | '/validate-relays';
  /** The uid the answer must carry ('' when none was readable). */
  uid: string;
  /** The object under review, when the body is well-formed (for patch checks). */
  object?: unknown;
  label: string;
}

/** Deeply nested pods (3000 levels) among the huge bodies; FUZZ_DEEP=0 leaves them out. */
const DEEP_BODIES = process.env.FUZZ_DEEP !== '0';

const POD_GVK = { group: '', version: 'v1', kind: 'Pod' };
const RELAY_GVK = { group: 'socat.io', version: 'v1alpha1', kind: 'Relay' };

export function deepValue(depth: number): unknown {
  let v: unknown = 'bottom';
  for (let i = 0; i < depth; i++) v = i % 2 ? [v] : { n: v };
  return v;
}

const wellFormed = fc
  .record({
    relay: fc.boolean(),
    apiVersion: fc.oneof(
      { arbitrary: fc.constant('admission.k8s.io/v1'), weight: 30 },
      { arbitrary: fc.constantFrom('admission.k8s.io/v1beta1', 'v1', undefined, 7), weight: 1 },
    ),
    kind: fc.oneof(
      { arbitrary: fc.constant('AdmissionReview'), weight: 30 },
      { arbitrary: fc.constantFrom('AdmissionRequest', undefined, ''), weight: 1 },
    ),
    uid: fc.oneof(
      { arbitrary: fc.uuid(), weight: 30 },
      { arbitrary: fc.constantFrom(undefined, '', 42, null), weight: 1 },
    ),
    gvk: fc.oneof(
      { arbitrary: fc.constant('match'), weight: 30 },
      {
        arbitrary: fc.constantFrom({ group: 'apps', version: 'v1', kind: 'Deployment' }, undefined, 'Pod', { kind: 7 }),
        weight: 1,
      },
    ),
    operation: fc.oneof(
      { arbitrary: fc.constant('CREATE'), weight: 20 },
      { arbitrary: fc.constantFrom('UPDATE', 'DELETE', 'CONNECT', 'create', undefined), weight: 2 },
    ),
    subResource: rare(fc.constantFrom('status', 'ephemeralcontainers'), 30),
    requestNamespace: rare(fc.constantFrom(...NAMESPACES), 3),
    dryRun: rare(fc.boolean(), 3),
    pod: podArb,
    relayObj: relayArb,
    objectShape: fc.oneof(
      { arbitrary: fc.constant('ok'), weight: 40 },
      { arbitrary: fc.constantFrom('missing', 'string', 'array', 'null'), weight: 1 },
    ),
    big: fc
      .oneof(
        { arbitrary: fc.constant('none'), weight: 2000 },
        { arbitrary: fc.constantFrom('containers', 'annotation', 'nested', 'over-limit'), weight: 1 },
      )
      .filter((b) => b !== 'nested' || DEEP_BODIES),
  })
  .map((g): GeneratedBody => {
    let object: unknown = g.relay ? g.relayObj : structuredClone(g.pod);
    let label = g.relay ? 'relay' : 'pod';
    if (!g.relay && g.big !== 'none') {
      const p = object as { metadata: { annotations?: Record<string, string> }; spec: Record<string, unknown> };
      label = `huge:${g.big}`;
      if (g.big === 'containers')
        p.spec.containers = Array.from({ length: 2000 }, (_, i) => ({
          name: `c${i}`,
          image: 'busybox',
          ports: [{ containerPort: 1 + (i % 60000) }],
        }));
      if (g.big === 'annotation') p.metadata.annotations = { ...p.metadata.annotations, blob: 'x'.repeat(2 << 20) };
      if (g.big === 'nested') p.spec.deep = deepValue(3000);
      if (g.big === 'over-limit') p.metadata.annotations = { ...p.metadata.annotations, blob: 'y'.repeat(4 << 20) };
    }
    if (g.objectShape !== 'ok') {
      object =
        g.objectShape === 'missing'
          ? undefined
          : g.objectShape === 'string'
            ? 'pod'
            : g.objectShape === 'array'
              ? [object]
              : null;
      label += `:object-${g.objectShape}`;
    }
    const request: Record<string, unknown> = {
      uid: g.uid,
      kind: g.gvk === 'match' ? (g.relay ? RELAY_GVK : POD_GVK) : g.gvk,
      resource: g.relay
        ? { group: 'socat.io', version: 'v1alpha1', resource: 'relays' }
        : { group: '', version: 'v1', resource: 'pods' },
      operation: g.operation,
      ...(g.subResource ? { subResource: g.subResource } : {}),
      ...(g.requestNamespace && !g.relay ? { namespace: g.requestNamespace } : {}),
      ...(g.dryRun !== undefined ? { dryRun: g.dryRun } : {}),
      userInfo: { username: 'system:serviceaccount:kube-system:replicaset-controller' },
      ...(object !== undefined ? { object } : {}),
    };
    const body = { apiVersion: g.apiVersion, kind: g.kind, request };
    return {
      text: JSON.stringify(body),
      path: g.relay ? '/validate-relays' : '/mutate-pods',
      uid: typeof g.uid === 'string' ? g.uid : '',
      object,
      label,
    };
  });

const malformed = fc.oneof(
  wellFormed.chain((b) =>
    fc
      .integer({ min: 0, max: Math.max(0, b.text.length - 1) })
      .map((n) => ({ ...b, text: b.text.slice(0, n), uid: '', object: undefined, label: 'truncated' })),
  ),
  fc.string({ maxLength: 200 }).map((text) => ({ text, path: '/mutate-pods' as const, uid: '', label: 'random-text' })),
  fc.jsonValue({ maxDepth: 3 }).map((v) => ({
    text: JSON.stringify(v) ?? 'null',
    path: '/mutate-pods' as const,
    uid: '',
    label: 'json-not-review',
  })),
  fc.uint8Array({ maxLength: 300 }).map((a) => ({
    text: Buffer.from(a).toString('latin1'),
    path: '/validate-relays' as const,
    uid: '',
    label: 'binary',
  })),
  fc.constantFrom(
    {
      text: `${'['.repeat(100_000)}${']'.repeat(100_000)}`,
      path: '/mutate-pods' as const,
      uid: '',
      label: 'nested-100k-arrays',
    },
    {
      text: '{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u1","uid":"u2"}}',
      path: '/mutate-pods' as const,
      uid: 'u2',
      label: 'duplicate-uid-key',
    },
    {
      text: '{"__proto__":{"allowed":true},"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview"}',
      path: '/mutate-pods' as const,
      uid: '',
      label: 'proto-key',
    },
  ),
);

/** Printed by fast-check when a case fails: the label and the start of the body (deep objects overflow its printer). */
function printable(b: GeneratedBody): GeneratedBody {
  return Object.assign(b, {
    [fc.toStringMethod]: () => `${b.label} ${b.path} ${b.text.length} bytes: ${b.text.slice(0, 1500)}`,
  });
}

export const bodyArb: fc.Arbitrary<GeneratedBody> = fc
  .oneof({ arbitrary: wellFormed, weight: 8 }, { arbitrary: malformed, weight: 2 })
  .map(printable);
