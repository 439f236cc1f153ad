import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkListenAddress, checkTargetHost } from '../../../relay/index.js';

const accepted: [string, string][] = [
  ['127.0.0.1', '127.0.0.1'],
  ['127.1.2.3', '127.1.2.3'],
  ['localhost', '127.0.0.1'],
  ['::1', '::1'],
];
for (const [host, ip] of accepted) {
  test(`target host ${host} is loopback and resolves to ${ip}`, () => {
    assert.deepEqual(checkTargetHost(host), { ok: true, ip, family: ip.includes(':') ? 6 : 4 });
  });
}

const refused: [string, RegExp][] = [
  ['169.254.169.254', /link-local/],
  ['10.0.0.1', /not a loopback/],
  ['0.0.0.0', /0\.0\.0\.0/],
  ['2130706433', /canonical/],
  ['0177.0.0.1', /canonical/],
  ['0x7f.0.0.1', /canonical/],
  ['127.1', /canonical/],
  ['127.000.000.001', /canonical/],
  ['::ffff:127.0.0.1', /IPv4-mapped/],
  ['::ffff:7f00:1', /IPv4-mapped/],
  ['[::1]', /brackets/],
  ['::', /not a loopback/],
  ['0:0:0:0:0:0:0:1', /write the IPv6 loopback address as ::1/],
  ['::0.0.0.1', /write the IPv6 loopback address as ::1/],
  ['fe80::1%lo', /host name|not a loopback/],
  ['kubernetes.default', /host name/],
  ['LOCALHOST', /host name/],
  ['localhost.', /host name/],
];
for (const [host, why] of refused) {
  test(`target host ${host} is refused`, () => {
    const r = checkTargetHost(host);
    assert.equal(r.ok, false);
    if (!r.ok) assert.match(r.reason, why);
  });
}

test('listen addresses: loopback and wildcard accepted, pod addresses refused', () => {
  assert.deepEqual(checkListenAddress('127.0.0.1'), { ok: true, ip: '127.0.0.1', family: 4, wildcard: false });
  assert.deepEqual(checkListenAddress('0.0.0.0'), { ok: true, ip: '0.0.0.0', family: 4, wildcard: true });
  assert.deepEqual(checkListenAddress('::'), { ok: true, ip: '::', family: 6, wildcard: true });
  assert.equal(checkListenAddress('10.1.2.3').ok, false);
  assert.equal(checkListenAddress('localhost').ok, false);
});

test('a 4 MiB target host is refused with a short reason, not echoed whole', () => {
  const huge = '1'.repeat(4 * 1024 * 1024);
  const r = checkTargetHost(huge);
  assert.equal(r.ok, false);
  if (!r.ok) {
    assert.ok(r.reason.length < 300, `reason is ${r.reason.length} characters`);
    assert.match(r.reason, /\(4194304 characters\)/);
  }
  const l = checkListenAddress(huge);
  assert.equal(l.ok, false);
  if (!l.ok) assert.ok(l.reason.length < 300);
});

test('control characters in a refused host are escaped in the reason', () => {
  const r = checkTargetHost('evil\nhost');
  assert.equal(r.ok, false);
  if (!r.ok) assert.ok(!r.reason.includes('\n'));
});
