// A Relay re-created under the same name is a new relay: its metadata.uid names its folder on the node
// (`<socketDir>/<relay>/<uid>`). The uid is checked like any node-file field, the controller writes it
// into the node file, the agent's socat listens there, and the webhook (hostPath mode) mounts that
// folder — never the folder of the name — so a pod admitted for one Relay never reaches the next one.
// Patches are applied to the fixture and the resulting pod is looked at.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { nodeArgv, socketPath, validateRelay, type Relay } from '../../../relay/index.js';
import { interpretConfig, relayFileContent } from '../../../node-contract/index.js';
import { StaticCatalog } from '../../../webhook/catalog/catalog.js';
import { admitPod, decidePod, defaultInjectOptions } from '../../../webhook/admission/index.js';
import { staleRelayEntries } from '../../../node-agent/folders.js';
import { applied, context, fixtureDocs, pod, podRequest } from '../../harness/admission.js';

const UID_A = '3f1c2d4e-5a6b-4c7d-8e9f-0a1b2c3d4e5f';
const UID_B = '9e8d7c6b-5a4f-4e3d-8c2b-1a0f9e8d7c6b';

function relayWithUid(uid: unknown): Record<string, any> {
  return {
    apiVersion: 'socat.io/v1alpha1',
    kind: 'Relay',
    metadata: { name: 'sched', uid },
    spec: { target: { host: '127.0.0.1', port: 10259 }, consumers: { namespaces: ['monitoring'] } },
  };
}

/** The fixtures' relays, each with a uid as the API server gives it. */
function catalogWithUid(uid: string): StaticCatalog {
  return new StaticCatalog(
    (fixtureDocs('admission/relays.yaml') as Relay[]).map((r) => ({ ...r, metadata: { ...r.metadata, uid } })),
  );
}

test('metadata.uid: a Kubernetes uid is kept in the resolved relay; absent or empty keeps the folder of the name', () => {
  assert.equal(validateRelay(relayWithUid(UID_A)).resolved?.uid, UID_A);
  for (const none of [undefined, null, '']) {
    const v = validateRelay(relayWithUid(none));
    assert.deepEqual(v.problems, [], String(none));
    assert.equal(v.resolved?.uid, undefined);
  }
});

test('metadata.uid: anything that is not one folder name of [a-z0-9-] is refused, naming the field', () => {
  for (const bad of [
    '..',
    '.',
    'a/b',
    '../etc',
    'UPPER',
    '-a',
    'a-',
    'a b',
    'a,b',
    'a:b',
    'x'.repeat(64),
    42,
    {},
    ['a'],
  ]) {
    const v = validateRelay(relayWithUid(bad));
    assert.equal(v.resolved, undefined, `uid ${JSON.stringify(bad)} accepted`);
    assert.deepEqual(
      v.problems.map((p) => p.field),
      ['metadata.uid'],
      JSON.stringify(bad),
    );
  }
});

test('the node side listens in the uid folder; the pod side keeps /run/socat-relay/<relay>/socket', () => {
  const r = validateRelay(relayWithUid(UID_A)).resolved!;
  const argv = nodeArgv(r, { socketDir: '/run/socat-relay' });
  assert.ok(
    argv.some((a) => a.startsWith(`UNIX-LISTEN:/run/socat-relay/sched/${UID_A}/socket,`)),
    argv.join(' '),
  );
  const plain = nodeArgv(validateRelay(relayWithUid(undefined)).resolved!, { socketDir: '/run/socat-relay' });
  assert.ok(
    plain.some((a) => a.startsWith('UNIX-LISTEN:/run/socat-relay/sched/socket,')),
    plain.join(' '),
  );
  assert.equal(socketPath('/run/socat-relay', 'sched', UID_A), `/run/socat-relay/sched/${UID_A}/socket`);
});

test("the controller writes the Relay's uid into the node file, and the node reads it back", () => {
  const text = relayFileContent(relayWithUid(UID_A) as Relay);
  assert.equal(JSON.parse(text).metadata.uid, UID_A);
  const state = interpretConfig([{ name: 'sched.json', text }]);
  assert.equal(state.wanted.get('sched')?.resolved.uid, UID_A);
  assert.equal(JSON.parse(relayFileContent(relayWithUid(undefined) as Relay)).metadata.uid, undefined);
});

test('a bad uid in a node file is reported and skipped; the other relays of the folder still run', () => {
  const bad = JSON.stringify({ ...relayWithUid('../../etc'), metadata: { name: 'bad', uid: '../../etc' } });
  const good = relayFileContent(relayWithUid(UID_A) as Relay);
  const state = interpretConfig([
    { name: 'bad.json', text: bad },
    { name: 'sched.json', text: good },
  ]);
  assert.deepEqual([...state.wanted.keys()], ['sched']);
  assert.equal(state.errors.length, 1);
  assert.match(state.errors[0]!.error, /metadata\.uid/);
});

test("hostPath mode: the injected volume is the folder of the Relay object (its uid); the sidecar's mount stays /run/socat-relay/<relay>", () => {
  const p = pod('basic');
  const out = applied(p, admitPod(podRequest(p), context({ catalog: catalogWithUid(UID_A) })));
  assert.deepEqual(
    out.spec?.volumes?.find((v) => v.name === 'socat-kube-scheduler'),
    {
      name: 'socat-kube-scheduler',
      hostPath: { path: `/run/socat-relay/kube-scheduler/${UID_A}`, type: 'DirectoryOrCreate' },
    },
  );
  const sc = out.spec?.initContainers?.find((c) => c.name === 'socat-kube-scheduler');
  assert.deepEqual(sc?.volumeMounts, [
    { name: 'socat-kube-scheduler', mountPath: '/run/socat-relay/kube-scheduler', readOnly: true },
  ]);
  assert.ok((sc?.command as string[]).includes('UNIX-CONNECT:/run/socat-relay/kube-scheduler/socket'));
});

test('hostPath mode: after the Relay is re-created (another uid), a pod is mounted the new folder, and a pod carrying the old one is refused', () => {
  const first = applied(pod('basic'), admitPod(podRequest(pod('basic')), context({ catalog: catalogWithUid(UID_A) })));
  const second = applied(pod('basic'), admitPod(podRequest(pod('basic')), context({ catalog: catalogWithUid(UID_B) })));
  const path = (o: typeof first) =>
    (o.spec?.volumes?.find((v) => v.name === 'socat-kube-scheduler') as { hostPath: { path: string } }).hostPath.path;
  assert.equal(path(first), `/run/socat-relay/kube-scheduler/${UID_A}`);
  assert.equal(path(second), `/run/socat-relay/kube-scheduler/${UID_B}`);
  // A pod that brings the old Relay's volume itself (a copy of an old pod) is not the injected shape.
  const stale = structuredClone(first);
  delete stale.metadata!.annotations;
  stale.spec!.initContainers = stale.spec!.initContainers!.filter((c) => c.name !== 'socat-kube-scheduler');
  const d = decidePod(podRequest(stale), context({ catalog: catalogWithUid(UID_B) }));
  assert.equal(d.response.allowed, false);
  assert.match(d.response.status?.message ?? '', new RegExp(`hostPath /run/socat-relay/kube-scheduler/${UID_B}`));
});

test('CSI mode is unchanged by the uid: the volume names the relay, the node plugin picks the folder', () => {
  const p = pod('basic');
  const out = applied(
    p,
    admitPod(
      podRequest(p),
      context({
        catalog: catalogWithUid(UID_A),
        options: defaultInjectOptions({ sidecarImage: 'example.com/socat-relay:test', volumeSource: 'csi' }),
      }),
    ),
  );
  assert.deepEqual(
    out.spec?.volumes?.find((v) => v.name === 'socat-kube-scheduler'),
    {
      name: 'socat-kube-scheduler',
      csi: { driver: 'csi.socat.io', readOnly: true, volumeAttributes: { relay: 'kube-scheduler' } },
    },
  );
});

test("the agent keeps only the current Relay's folder under <socketDir>/<relay>: the folders of earlier Relays go", () => {
  const entries = [
    { name: UID_A, dir: true },
    { name: UID_B, dir: true },
    { name: 'socket', dir: false },
  ];
  // The node file has uid B: A's folder (an earlier Relay of the name) and a socket from before the uid go.
  assert.deepEqual(staleRelayEntries(entries, UID_B), [UID_A, 'socket']);
  // A file without uid serves <socketDir>/<relay>/socket: every uid folder goes, the socket stays.
  assert.deepEqual(staleRelayEntries(entries, undefined), [UID_A, UID_B]);
  assert.deepEqual(staleRelayEntries([{ name: UID_A, dir: true }], UID_A), []);
});
