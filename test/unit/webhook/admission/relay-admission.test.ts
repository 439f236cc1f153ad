// Relay admission (the validating webhook): every denial message of the shared validation, asserted
// through admitRelay as the API server would see it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { admitRelay } from '../../../../webhook/admission/index.js';
import { StaticCatalog } from '../../../../webhook/catalog/catalog.js';
import { catalog, relayRequest } from '../../../harness/admission.js';

type Spec = Record<string, unknown>;
const relay = (spec: Spec, name = 'r1'): Record<string, unknown> => ({
  apiVersion: 'socat.io/v1alpha1',
  kind: 'Relay',
  metadata: { name },
  spec: { target: { host: '127.0.0.1', port: 9100 }, consumers: { namespaces: ['monitoring'] }, ...spec },
});

const denied: { name: string; object: unknown; message: string }[] = [
  {
    name: 'cloud metadata target',
    object: relay({ target: { host: '169.254.169.254', port: 80 } }),
    message:
      'spec.target.host: 169.254.169.254 is link-local (cloud metadata lives there); only loopback targets are allowed',
  },
  {
    name: 'node IP target',
    object: relay({ target: { host: '10.0.0.12', port: 80 } }),
    message: 'spec.target.host: 10.0.0.12 is not a loopback address (127.0.0.0/8, ::1 or localhost)',
  },
  {
    name: 'pod IP target',
    object: relay({ target: { host: '192.168.3.7', port: 80 } }),
    message: 'spec.target.host: 192.168.3.7 is not a loopback address (127.0.0.0/8, ::1 or localhost)',
  },
  {
    name: 'IPv6 non-loopback target',
    object: relay({ target: { host: 'fd00::1', port: 80 } }),
    message: 'spec.target.host: fd00::1 is not a loopback address (127.0.0.0/8, ::1 or localhost)',
  },
  {
    name: 'host name target',
    object: relay({ target: { host: 'kubernetes.default.svc', port: 443 } }),
    message:
      'spec.target.host: kubernetes.default.svc is a host name; only loopback IP addresses (127.0.0.0/8, ::1) or localhost are allowed',
  },
  {
    name: 'decimal loopback spelling',
    object: relay({ target: { host: '2130706433', port: 80 } }),
    message:
      'spec.target.host: 2130706433 is not a canonical dotted-decimal IPv4 address (decimal, octal and hex spellings are refused)',
  },
  {
    name: 'IPv4-mapped loopback',
    object: relay({ target: { host: '::ffff:127.0.0.1', port: 80 } }),
    message:
      'spec.target.host: IPv4-mapped IPv6 address ::ffff:127.0.0.1 is not allowed; write the IPv4 address (127.0.0.1)',
  },
  {
    name: 'target 0.0.0.0',
    object: relay({ target: { host: '0.0.0.0', port: 80 } }),
    message: 'spec.target.host: 0.0.0.0 is not a target; use 127.0.0.1',
  },
  {
    name: 'missing target port',
    object: relay({ target: { host: '127.0.0.1' } }),
    message: 'spec.target.port: required',
  },
  {
    name: 'port 0',
    object: relay({ target: { host: '127.0.0.1', port: 0 } }),
    message: 'spec.target.port: port 0 is out of range 1-65535',
  },
  {
    name: 'port 65536',
    object: relay({ target: { host: '127.0.0.1', port: 65536 } }),
    message: 'spec.target.port: port 65536 is out of range 1-65535',
  },
  {
    name: 'port as a string',
    object: relay({ target: { host: '127.0.0.1', port: '80' } }),
    message: 'spec.target.port: must be an integer from 1 to 65535, got "80"',
  },
  {
    name: 'listen port out of range',
    object: relay({ listen: { port: 70000 } }),
    message: 'spec.listen.port: port 70000 is out of range 1-65535',
  },
  {
    name: 'listen on a pod address',
    object: relay({ listen: { address: '10.1.2.3' } }),
    message:
      'spec.listen.address: 10.1.2.3 cannot be bound in the pod; use a loopback address (127.0.0.1, ::1) or 0.0.0.0/::',
  },
  {
    name: 'unknown protocol',
    object: relay({ protocol: 'SCTP' }),
    message: 'spec.protocol: unknown protocol "SCTP" (allowed: TCP, UDP)',
  },
  {
    name: 'lower-case protocol',
    object: relay({ protocol: 'tcp' }),
    message: 'spec.protocol: unknown protocol "tcp" (allowed: TCP, UDP)',
  },
  {
    name: 'udp settings on a TCP relay',
    object: relay({ udp: { mode: 'OneWay' } }),
    message: 'spec.udp: only allowed with protocol UDP',
  },
  {
    name: 'unknown UDP mode',
    object: relay({ protocol: 'UDP', udp: { mode: 'Both' } }),
    message: 'spec.udp.mode: unknown mode "Both" (allowed: OneWay, RequestReply)',
  },
  {
    name: 'reply timeout with OneWay',
    object: relay({ protocol: 'UDP', udp: { replyTimeoutSeconds: 3 } }),
    message: 'spec.udp.replyTimeoutSeconds: only allowed with udp.mode RequestReply',
  },
  {
    name: 'a misspelled field',
    object: relay({ lisen: { port: 1 } }),
    message: 'spec.lisen: unknown field (allowed: protocol, target, listen, udp, nodeSelector, consumers, sidecar)',
  },
  { name: 'no consumers', object: relay({ consumers: undefined }), message: 'spec.consumers: required' },
  {
    name: 'empty consumers',
    object: relay({ consumers: {} }),
    message:
      'spec.consumers: set namespaces and/or namespaceSelector (namespaceSelector: {} opens the relay to every namespace)',
  },
  {
    name: 'duplicate consumer namespace',
    object: relay({ consumers: { namespaces: ['a', 'a'] } }),
    message: 'spec.consumers.namespaces[1]: duplicate namespace "a"',
  },
  {
    name: 'bad consumer namespace',
    object: relay({ consumers: { namespaces: ['Bad_NS'] } }),
    message: 'spec.consumers.namespaces[0]: "Bad_NS" is not a valid namespace name',
  },
  {
    name: 'selector operator In without values',
    object: relay({ consumers: { namespaceSelector: { matchExpressions: [{ key: 'team', operator: 'In' }] } } }),
    message: 'spec.consumers.namespaceSelector.matchExpressions[0].values: required and non-empty for operator In',
  },
  {
    name: 'bad resource quantity',
    object: relay({ sidecar: { resources: { requests: { memory: 'lots' } } } }),
    message: 'spec.sidecar.resources.requests.memory: "lots" is not a quantity',
  },
  {
    name: 'upper-case name',
    object: relay({}, 'Kube_Scheduler'),
    message:
      'metadata.name: "Kube_Scheduler" cannot become a socket folder and container name: use lowercase letters, digits and \'-\', start and end with a letter or digit, at most 57 characters',
  },
  {
    name: 'name too long for a container name',
    object: relay({}, 'a'.repeat(58)),
    message: `metadata.name: "${'a'.repeat(58)}" cannot become a socket folder and container name: use lowercase letters, digits and '-', start and end with a letter or digit, at most 57 characters`,
  },
  {
    name: 'a namespace on a cluster-scoped object',
    object: { ...relay({}), metadata: { name: 'r1', namespace: 'default' } },
    message: 'metadata.namespace: Relay is cluster-scoped: remove the namespace',
  },
  { name: 'no target', object: relay({ target: undefined }), message: 'spec.target: required' },
  { name: 'no target host', object: relay({ target: { port: 80 } }), message: 'spec.target.host: required' },
  {
    name: 'target host not a string',
    object: relay({ target: { host: 127, port: 80 } }),
    message: 'spec.target.host: must be a string, got number 127',
  },
  {
    name: 'bracketed IPv6 target',
    object: relay({ target: { host: '[::1]', port: 80 } }),
    message: 'spec.target.host: write the IPv6 address without brackets (::1)',
  },
  {
    name: 'reply timeout out of range',
    object: relay({ protocol: 'UDP', udp: { mode: 'RequestReply', replyTimeoutSeconds: 301 } }),
    message: 'spec.udp.replyTimeoutSeconds: replyTimeoutSeconds 301 is out of range 1-300',
  },
  {
    name: 'bad nodeSelector key',
    object: relay({ nodeSelector: { 'bad key': 'x' } }),
    message: 'spec.nodeSelector.bad key: not a valid label key',
  },
  {
    name: 'bad nodeSelector value',
    object: relay({ nodeSelector: { zone: 'a b' } }),
    message: 'spec.nodeSelector.zone: "a b" is not a valid label value',
  },
  {
    name: 'unknown selector operator',
    object: relay({
      consumers: { namespaceSelector: { matchExpressions: [{ key: 'team', operator: 'Like', values: ['x'] }] } },
    }),
    message:
      'spec.consumers.namespaceSelector.matchExpressions[0].operator: unknown operator "Like" (allowed: In, NotIn, Exists, DoesNotExist)',
  },
  {
    name: 'values with Exists',
    object: relay({
      consumers: { namespaceSelector: { matchExpressions: [{ key: 'team', operator: 'Exists', values: ['x'] }] } },
    }),
    message: 'spec.consumers.namespaceSelector.matchExpressions[0].values: must be empty for operator Exists',
  },
  {
    name: 'unknown sidecar resource',
    object: relay({ sidecar: { resources: { limits: { gpu: '1' } } } }),
    message: 'spec.sidecar.resources.limits.gpu: unknown resource (allowed: cpu, memory, ephemeral-storage)',
  },
  { name: 'no name', object: { ...relay({}), metadata: {} }, message: 'metadata.name: required' },
  { name: 'wrong kind', object: { ...relay({}), kind: 'Pod' }, message: 'kind: must be Relay, got "Pod"' },
  {
    name: 'wrong apiVersion',
    object: { ...relay({}), apiVersion: 'socat.io/v1' },
    message: 'apiVersion: must be socat.io/v1alpha1, got "socat.io/v1"',
  },
];

for (const d of denied) {
  test(`relay denied: ${d.name}`, () => {
    const r = admitRelay(relayRequest(d.object), new StaticCatalog());
    assert.equal(r.allowed, false);
    assert.equal(r.status?.code, 403);
    assert.equal(r.status?.message, d.message);
  });
}

test('several problems are joined into one message, each naming its field', () => {
  const r = admitRelay(
    relayRequest(relay({ protocol: 'SCTP', target: { host: '169.254.169.254', port: 0 } })),
    new StaticCatalog(),
  );
  assert.equal(
    r.status?.message,
    'spec.protocol: unknown protocol "SCTP" (allowed: TCP, UDP); spec.target.host: 169.254.169.254 is link-local (cloud metadata lives there); only loopback targets are allowed; spec.target.port: port 0 is out of range 1-65535',
  );
});

const accepted: { name: string; object: unknown; warnings?: string[] }[] = [
  { name: 'a plain loopback relay', object: relay({}) },
  {
    name: 'a ::1 RequestReply relay on a low port (warned)',
    object: relay({
      target: { host: '::1', port: 53 },
      protocol: 'UDP',
      udp: { mode: 'RequestReply', replyTimeoutSeconds: 2 },
    }),
    warnings: [
      'spec.listen.port 53 < 1024: the non-root sidecar needs net.ipv4.ip_unprivileged_port_start <= 53 in the pod',
    ],
  },
  {
    name: 'a wildcard listen address (warned)',
    object: relay({ listen: { address: '0.0.0.0' } }),
    warnings: ['spec.listen.address 0.0.0.0 exposes the relay to the whole pod network, not only the pod'],
  },
  {
    name: 'an open namespaceSelector (warned)',
    object: relay({ consumers: { namespaceSelector: {} } }),
    warnings: ['spec.consumers.namespaceSelector {} opens this relay to every namespace'],
  },
  {
    name: 'the same listen port as another relay (warned)',
    object: relay({ target: { host: '127.0.0.1', port: 10259 } }, 'scheduler-2'),
    warnings: [
      'relay "kube-scheduler" also listens on 10259/TCP: one pod cannot consume both',
      'relay "scheduler-copy" also listens on 10259/TCP: one pod cannot consume both',
    ],
  },
];
for (const a of accepted) {
  test(`relay allowed: ${a.name}`, () => {
    const r = admitRelay(relayRequest(a.object), catalog());
    assert.equal(r.allowed, true, r.status?.message);
    assert.deepEqual(r.warnings, a.warnings);
    for (const w of r.warnings ?? []) assert.ok(w.length <= 120, w);
  });
}

test('an UPDATE of a relay to itself does not warn about its own port', () => {
  const c = catalog();
  const r = admitRelay(
    relayRequest(c.get('etcd-metrics'), { operation: 'UPDATE', oldObject: c.get('etcd-metrics') }),
    c,
  );
  assert.deepEqual(r, { uid: '', allowed: true });
});

test('DELETE of a relay is allowed without looking at it', () => {
  assert.deepEqual(admitRelay(relayRequest(undefined, { operation: 'DELETE' }), catalog()), { uid: '', allowed: true });
});

test('a CREATE whose object is not an object gets a 400', () => {
  assert.deepEqual(admitRelay(relayRequest(42), catalog()), {
    uid: '',
    allowed: false,
    status: { code: 400, message: 'request.object must be a Relay object' },
  });
});
