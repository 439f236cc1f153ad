// Security: a Relay can never make the node agent connect anywhere but loopback. Every spelling a
// resolver, inet_aton or socat would also take (DNS names, IPv4-mapped IPv6, 0.0.0.0, decimal/octal/hex,
// 127.1, brackets, trailing dots, embedded socat syntax) goes through validateRelay AND, for what is
// accepted, through the socat argv the agent would run, which an independent oracle inspects.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { nodeArgv, validateRelay } from '../../../relay/index.js';
import { interpretConfig } from '../../../node-contract/index.js';
import { isIPv6LoopbackSpelling, isLoopbackLiteral, judgeNodeArgv } from '../../harness/oracle.js';

const SOCKET_DIR = '/run/socat-relay';

function relay(host: unknown, protocol = 'TCP', extra: Record<string, unknown> = {}): unknown {
  return {
    apiVersion: 'socat.io/v1alpha1',
    kind: 'Relay',
    metadata: { name: 'probe' },
    spec: { protocol, target: { host, port: 8080 }, consumers: { namespaces: ['monitoring'] }, ...extra },
  };
}

// Spellings that must be refused: each resolves (or could be made to resolve) to something else than
// a loopback literal, or is ambiguous between the validator and socat.
const REFUSED: [string, unknown][] = [
  ['0.0.0.0 (any address; Linux connects it to the local host but it is not loopback by spelling)', '0.0.0.0'],
  ['short form 127.1', '127.1'],
  ['short form 127.0.1', '127.0.1'],
  ['decimal integer 2130706433', '2130706433'],
  ['hex integer 0x7f000001', '0x7f000001'],
  ['octal integer 017700000001', '017700000001'],
  ['octal dotted 0177.0.0.1', '0177.0.0.1'],
  ['hex dotted 0x7f.0.0.1', '0x7f.0.0.1'],
  ['leading zero 127.0.0.01', '127.0.0.01'],
  ['padded 127.000.000.001', '127.000.000.001'],
  ['trailing dot 127.0.0.1.', '127.0.0.1.'],
  ['leading space', ' 127.0.0.1'],
  ['trailing newline', '127.0.0.1\n'],
  ['NUL byte', '127.0.0.1\u0000.evil'],
  ['fullwidth digits', '１２７.０.０.１'],
  ['ideographic full stop', '127。0。0。1'],
  ['IPv4-mapped IPv6 ::ffff:127.0.0.1', '::ffff:127.0.0.1'],
  ['IPv4-mapped IPv6 hex ::ffff:7f00:1', '::ffff:7f00:1'],
  ['IPv4-mapped 169.254.169.254', '::ffff:169.254.169.254'],
  ['IPv4-compatible ::127.0.0.1', '::127.0.0.1'],
  ['NAT64 64:ff9b::127.0.0.1', '64:ff9b::127.0.0.1'],
  ['6to4 2002:7f00:1::', '2002:7f00:1::'],
  ['IPv6 unspecified ::', '::'],
  ['bracketed [::1]', '[::1]'],
  ['bracketed [127.0.0.1]', '[127.0.0.1]'],
  ['zone id ::1%lo', '::1%lo'],
  ['link-local fe80::1', 'fe80::1'],
  ['metadata 169.254.169.254', '169.254.169.254'],
  ['private 10.0.0.1', '10.0.0.1'],
  ['node address 192.168.1.10', '192.168.1.10'],
  ['DNS name localhost. (FQDN)', 'localhost.'],
  ['DNS name LOCALHOST', 'LOCALHOST'],
  ['DNS name localhost.localdomain', 'localhost.localdomain'],
  ['DNS name ip6-localhost', 'ip6-localhost'],
  ['wildcard DNS 127.0.0.1.nip.io', '127.0.0.1.nip.io'],
  ['DNS name metadata.google.internal', 'metadata.google.internal'],
  ['kubernetes service name', 'kubernetes.default.svc'],
  ['host with port', '127.0.0.1:22'],
  ['CIDR', '127.0.0.1/8'],
  ['socat option injection', '127.0.0.1,bind=10.0.0.1'],
  ['socat dual address', '127.0.0.1!!TCP:10.0.0.1'],
  ['socat address injection', 'EXEC:/bin/sh'],
  ['empty string', ''],
  ['number 2130706433', 2130706433],
  ['float 127.1 (YAML would parse it so)', 127.1],
  ['list', ['127.0.0.1']],
  ['object', { ip: '127.0.0.1' }],
  ['null', null],
];

const ACCEPTED: [string, string, string][] = [
  ['127.0.0.1', '127.0.0.1', '127.0.0.1'],
  ['other loopback 127.10.20.30', '127.10.20.30', '127.10.20.30'],
  ['127.255.255.254', '127.255.255.254', '127.255.255.254'],
  ['localhost becomes 127.0.0.1 (never resolved)', 'localhost', '127.0.0.1'],
  ['::1', '::1', '::1'],
];

for (const protocol of ['TCP', 'UDP']) {
  for (const [name, host] of REFUSED) {
    test(`${protocol} target ${name}: refused by validateRelay with a problem on spec.target.host`, () => {
      const v = validateRelay(relay(host, protocol));
      assert.equal(v.resolved, undefined, `accepted ${JSON.stringify(host)}`);
      assert.ok(
        v.problems.some((p) => p.field === 'spec.target.host'),
        JSON.stringify(v.problems),
      );
    });
  }
  for (const [name, host, ip] of ACCEPTED) {
    test(`${protocol} target ${name}: accepted, and socat connects to the literal ${ip}`, () => {
      const v = validateRelay(relay(host, protocol));
      assert.ok(v.resolved, JSON.stringify(v.problems));
      assert.equal(v.resolved.targetHost, ip);
      const shape = judgeNodeArgv(nodeArgv(v.resolved, { socketDir: SOCKET_DIR }), SOCKET_DIR, 'probe');
      assert.deepEqual(shape.problems, []);
      assert.equal(shape.target?.host, ip);
    });
  }
}

test('the agent path: hostile hosts written as YAML/JSON files are skipped by the agent config reader, only loopback ones run', () => {
  const files = [
    {
      name: 'hex.yaml',
      text: 'apiVersion: socat.io/v1alpha1\nkind: Relay\nmetadata: {name: hex}\nspec: {target: {host: 0x7f000001, port: 80}, consumers: {namespaces: [a]}}\n',
    },
    {
      name: 'short.yaml',
      text: 'apiVersion: socat.io/v1alpha1\nkind: Relay\nmetadata: {name: short}\nspec: {target: {host: 127.1, port: 80}, consumers: {namespaces: [a]}}\n',
    },
    {
      name: 'octal.yaml',
      text: 'apiVersion: socat.io/v1alpha1\nkind: Relay\nmetadata: {name: octal}\nspec: {target: {host: "0177.0.0.1", port: 80}, consumers: {namespaces: [a]}}\n',
    },
    { name: 'mapped.json', text: JSON.stringify(relay('::ffff:127.0.0.1')).replace('"probe"', '"mapped"') },
    { name: 'dns.json', text: JSON.stringify(relay('localhost.localdomain')).replace('"probe"', '"dns"') },
    { name: 'meta.json', text: JSON.stringify(relay('169.254.169.254')).replace('"probe"', '"meta"') },
    {
      name: 'good.yaml',
      text: 'apiVersion: socat.io/v1alpha1\nkind: Relay\nmetadata: {name: good}\nspec: {target: {host: localhost, port: 80}, consumers: {namespaces: [a]}}\n',
    },
  ];
  const state = interpretConfig(files);
  assert.deepEqual([...state.wanted.keys()], ['good']);
  assert.deepEqual(state.errors.map((e) => e.file).sort(), [
    'dns.json',
    'hex.yaml',
    'mapped.json',
    'meta.json',
    'octal.yaml',
    'short.yaml',
  ]);
  for (const w of state.wanted.values()) {
    assert.deepEqual(judgeNodeArgv(nodeArgv(w.resolved, { socketDir: SOCKET_DIR }), SOCKET_DIR, w.name).problems, []);
  }
});

// Generated spellings: every IPv4 in every inet_aton form, IPv6 with and without compression and
// embedded IPv4, mutations of loopback literals, host names and arbitrary strings.
const octet = fc.integer({ min: 0, max: 255 });
const spelledOctet = fc
  .tuple(octet, fc.constantFrom('dec', 'oct', 'hex', 'pad'))
  .map(([n, f]) =>
    f === 'dec'
      ? String(n)
      : f === 'oct'
        ? `0${n.toString(8)}`
        : f === 'hex'
          ? `0x${n.toString(16)}`
          : String(n).padStart(3, '0'),
  );
const ipv4Spelling = fc.oneof(
  fc.tuple(fc.constantFrom(127, 127, 0, 10, 169, 192), octet, octet, octet).map((o) => o.join('.')),
  fc.array(spelledOctet, { minLength: 1, maxLength: 5 }).map((a) => a.join('.')),
  fc.ipV4Extended(),
  fc.integer({ min: 0, max: 0xffffffff }).map((n) => String(n)),
  fc.integer({ min: 0, max: 0xffffffff }).map((n) => `0x${n.toString(16)}`),
);
const ipv6Spelling = fc.oneof(
  fc.ipV6(),
  fc.ipV4().map((v4) => `::ffff:${v4}`),
  fc.ipV4().map((v4) => `::${v4}`),
  fc.constantFrom(
    '::1',
    '0::1',
    '0:0::1',
    '0:0:0:0:0:0:0:1',
    '0000:0000:0000:0000:0000:0000:0000:0001',
    '::0:1',
    '::01',
    '::1:0',
    '1::',
    '::2',
  ),
  fc.ipV6().map((s) => `[${s}]`),
  fc.ipV6().map((s) => `${s}%eth0`),
);
const mutated = fc
  .tuple(
    fc.constantFrom('127.0.0.1', '::1', 'localhost'),
    fc.constantFrom('', ' ', '.', '\n', ':80', ',fork', '!!', '%lo', '\t', '/'),
    fc.boolean(),
  )
  .map(([h, s, before]) => (before ? s + h : h + s));
const names = fc.oneof(
  fc.domain(),
  fc.constantFrom('localhost', 'LocalHost', 'localhost.', 'localhost6', 'ip6-loopback'),
);
const hostArb = fc.oneof(
  ipv4Spelling,
  ipv6Spelling,
  mutated,
  names,
  fc.string({ maxLength: 40 }),
  fc.string({ unit: 'binary', maxLength: 20 }),
);

test('generated target hosts: whatever validateRelay accepts is a loopback literal in the argv the agent runs', () => {
  const runs = Number(process.env.SECURITY_HOST_RUNS ?? 20_000);
  let accepted = 0;
  const seen = new Set<string>();
  fc.assert(
    fc.property(hostArb, fc.constantFrom('TCP', 'UDP-OneWay', 'UDP-RequestReply'), (host, mode) => {
      const [protocol, udpMode] = mode.split('-');
      const v = validateRelay(relay(host, protocol, udpMode ? { udp: { mode: udpMode } } : {}));
      if (!v.resolved) return;
      accepted++;
      seen.add(host);
      // What was written is loopback by spelling: the literal itself, localhost, or an IPv6 spelling of ::1.
      assert.ok(
        isLoopbackLiteral(host) || host === 'localhost' || isIPv6LoopbackSpelling(host),
        `accepted ${JSON.stringify(host)}`,
      );
      assert.ok(isLoopbackLiteral(v.resolved.targetHost), `resolved ${v.resolved.targetHost}`);
      if (isIPv6LoopbackSpelling(host)) assert.equal(v.resolved.targetHost, '::1');
      if (isLoopbackLiteral(host)) assert.equal(v.resolved.targetHost, host);
      const shape = judgeNodeArgv(nodeArgv(v.resolved, { socketDir: SOCKET_DIR }), SOCKET_DIR, 'probe');
      assert.deepEqual(shape.problems, []);
      assert.equal(shape.target?.host, v.resolved.targetHost);
    }),
    { numRuns: runs, seed: Number(process.env.FC_SEED ?? 7) },
  );
  console.log(
    `[security] ${runs} generated target hosts: ${accepted} accepted (${seen.size} distinct), all loopback literals in the socat argv`,
  );
  assert.ok(accepted > 0, 'the generator never produced an accepted host: the property was not exercised');
});
