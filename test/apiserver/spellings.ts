// ONE table of target.host and listen.address spellings and whether they are accepted. It drives both
// checks: relay/validate.ts (the webhook, `validate`, the agent) and the CRD's CEL rules on a real API
// server. Canonical spellings only: dotted-decimal 127.x.y.z, `::1` exactly, `localhost` for targets;
// 127.x.y.z, 0.0.0.0, ::1 and :: for listen addresses.

export interface Spelling {
  field: 'target.host' | 'listen.address';
  value: string;
  accepted: boolean;
}

const target = (accepted: boolean, ...values: string[]): Spelling[] =>
  values.map((value) => ({ field: 'target.host', value, accepted }));
const listen = (accepted: boolean, ...values: string[]): Spelling[] =>
  values.map((value) => ({ field: 'listen.address', value, accepted }));

export const SPELLINGS: Spelling[] = [
  ...target(true, 'localhost', '127.0.0.1', '127.10.20.30', '127.255.255.254', '127.0.0.0', '::1'),
  // IPv6 loopback in other spellings (the CRD used to take the first four; the webhook took ::0.0.0.1)
  ...target(
    false,
    ':1',
    '0:1',
    ':::1',
    '0::0::1',
    '::0.0.0.1',
    '0:0:0:0:0:0:0:1',
    '0000::0001',
    '::01',
    '::0:1',
    '0::1',
    '[::1]',
    '::1%lo',
    '0:0:0:0:0:0:0:0:0:1',
  ),
  // IPv4 loopback in other spellings, and what is not loopback at all
  ...target(
    false,
    '127.1',
    '0177.0.0.1',
    '0x7f.0.0.1',
    '2130706433',
    '127.0.0.01',
    '127.000.0.1',
    '127.256.0.1',
    '127.0.0.1.',
    ' 127.0.0.1',
    '127.0.0.1 ',
  ),
  ...target(
    false,
    '::ffff:127.0.0.1',
    '::ffff:7f00:1',
    '0.0.0.0',
    '::',
    '169.254.169.254',
    '10.0.0.1',
    '128.0.0.1',
    'fe80::1',
    'LOCALHOST',
    'localhost.',
    'ip6-localhost',
    '',
  ),
  ...listen(true, '127.0.0.1', '127.0.0.2', '0.0.0.0', '::1', '::'),
  ...listen(
    false,
    ':',
    ':0',
    ':::',
    '0::',
    '::0',
    '0:0:0:0:0:0:0:0',
    '::0.0.0.0',
    '::0.0.0.1',
    '0:0:0:0:0:0:0:1',
    '[::]',
    '[::1]',
  ),
  ...listen(false, 'localhost', '10.0.0.1', '0', '00.0.0.0', '0.0.0.00', ' ::1', '127.1', '169.254.169.254', ''),
];
