// The CSI volume records (node-contract/volumes.ts): the format the plugin writes and the agent reads,
// the checks a record must pass (it is a node file: hostile input), and the verdict the agent applies
// on every pass — the relay still served by the same Relay uid, the namespace still a consumer.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  formatVolumeRecord,
  interpretConfig,
  parseVolumeRecord,
  relayFileContent,
  volumeKey,
  volumeVerdict,
  type VolumeRecord,
} from '../../../node-contract/index.js';
import type { Relay } from '../../../relay/index.js';

const UID = '0a0a0a0a-1111-4222-8333-444444444444';
const rec: VolumeRecord = {
  volumeId: 'csi-abc',
  relay: 'sched',
  relayUid: UID,
  namespace: 'team-a',
  podUid: 'p1',
  targetPath: '/var/lib/kubelet/pods/p1/volumes/kubernetes.io~csi/socat-sched/mount',
};

function wanted(consumers: Relay['spec']['consumers'], uid: string | null = UID, resolved?: string[]) {
  const r = {
    apiVersion: 'socat.io/v1alpha1',
    kind: 'Relay',
    metadata: { name: 'sched', ...(uid ? { uid } : {}) },
    spec: { target: { host: '127.0.0.1', port: 1 }, consumers },
  } as Relay;
  return interpretConfig([{ name: 'sched.json', text: relayFileContent(r, resolved) }]).wanted.get('sched');
}

test('a record round-trips; its key is 32 hex digits of its volume id', () => {
  assert.match(volumeKey('csi-abc'), /^[0-9a-f]{32}$/);
  assert.deepEqual(parseVolumeRecord(formatVolumeRecord(rec), volumeKey('csi-abc')), rec);
  const { relayUid: _, ...noUid } = rec;
  assert.deepEqual(parseVolumeRecord(formatVolumeRecord(noUid), volumeKey('csi-abc')), noUid);
});

test('a bad record is refused naming the field', () => {
  const key = volumeKey('csi-abc');
  const text = (o: Record<string, unknown>) => JSON.stringify({ version: 1, ...rec, ...o });
  const cases: [string, string, RegExp][] = [
    ['not JSON', '{', /not JSON/],
    ['an array', '[]', /JSON object/],
    ['another version', text({ version: 2 }), /: version:/],
    ['a volume id of another file', text({ volumeId: 'csi-other' }), /: volumeId: .*does not belong/],
    ['a relay that is no relay name', text({ relay: '../etc' }), /: relay:/],
    ['a uid that is no uid', text({ relayUid: '..' }), /: relayUid:/],
    ['a namespace that is no namespace', text({ namespace: 'A/B' }), /: namespace:/],
    ['no pod uid', text({ podUid: '' }), /: podUid:/],
    ['a number for a target', text({ targetPath: 5 }), /: targetPath:/],
  ];
  for (const [name, t, re] of cases) assert.throws(() => parseVolumeRecord(t, key), re, name);
});

test('the verdict: served, same uid, namespace listed or resolved → allowed; otherwise the reason', () => {
  assert.deepEqual(volumeVerdict(rec, wanted({ namespaces: ['team-a'] })), { allowed: true });
  assert.deepEqual(volumeVerdict(rec, wanted({ namespaceSelector: { matchLabels: { t: 'a' } } }, UID, ['team-a'])), {
    allowed: true,
  });
  const no = (w: ReturnType<typeof wanted>, r: VolumeRecord = rec) => {
    const v = volumeVerdict(r, w);
    assert.equal(v.allowed, false);
    return (v as { reason: string }).reason;
  };
  assert.match(no(undefined), /no longer served/);
  assert.match(no(wanted({ namespaces: ['team-a'] }, '0b0b0b0b-1111-4222-8333-444444444444')), /re-created/);
  assert.match(no(wanted({ namespaces: ['team-a'] }, null)), /re-created/); // a file without uid is another relay for a volume of a uid
  assert.match(no(wanted({ namespaces: ['team-b'] })), /does not allow namespace "team-a"/);
  assert.match(
    no(wanted({ namespaceSelector: { matchLabels: { t: 'a' } } }, UID, ['team-b'])),
    /does not allow namespace "team-a"/,
  );
  assert.match(no(wanted({ namespaceSelector: { matchLabels: { t: 'a' } } }, UID)), /does not allow/); // no resolved names on the node: the selector admits nobody
});
