// Generated hostile pods against the webhook's trust rules: start from a consumer (fresh or already
// injected), apply random edits an attacker could make (own socat-* containers and volumes, tweaked
// sidecar fields, hostPaths spelled every way, writable mounts, csi.socat.io volumes, a forged marker,
// ephemeral containers), and whenever the webhook ALLOWS the result, check the pod it produces against
// rules written here independently of webhook/admission (a rewrite-system path normaliser, the
// sidecar's security context spelled out). A pod the webhook lets through must never hold more power.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import fjp from 'fast-json-patch';
import {
  decidePod,
  patchOps,
  podCreateRequest,
  type RawContainer,
  type RawPod,
} from '../../../webhook/admission/index.js';
import { context, IMAGE, injectedPod, NAMESPACE, plainPod, SOCKET_DIR } from '../../harness/attacks.js';

/** Independent normaliser: rewrite rules to a fixed point ('//', '/./', '/var/run' → '/run', '/x/..'). */
function oracleNormalise(p: string): string {
  let s = `/${p}/`;
  for (;;) {
    const next = s
      .replace(/\/\/+/g, '/')
      .replace(/\/\.\//g, '/')
      .replace(/^\/var\/run\//, '/run/')
      .replace(/^\/\.\.\//, '/')
      .replace(/^(.*?)\/(?!\.\.\/)[^/]+\/\.\.\//, '$1/');
    if (next === s) break;
    s = next;
  }
  return s === '/' ? '/' : s.replace(/\/$/, '');
}
const near = (p: string): boolean => {
  const n = oracleNormalise(p);
  return n === SOCKET_DIR || n.startsWith(`${SOCKET_DIR}/`) || n === '/' || SOCKET_DIR.startsWith(`${n}/`);
};

const SIDECAR_SECURITY = {
  runAsUser: 65532,
  runAsGroup: 65532,
  runAsNonRoot: true,
  readOnlyRootFilesystem: true,
  allowPrivilegeEscalation: false,
  capabilities: { drop: ['ALL'] },
  seccompProfile: { type: 'RuntimeDefault' },
};

/** The rules an admitted pod must satisfy; returns what is wrong. */
function violations(pod: RawPod): string[] {
  const out: string[] = [];
  const marker = (pod.metadata?.annotations?.['socat.io/injected'] ?? '').split(',').filter(Boolean);
  for (const r of marker) if (r !== 'sched') out.push(`marker names ${r}, which monitoring may not consume`);
  const spec = pod.spec ?? {};
  const lists: [string, RawContainer[]][] = [
    ['initContainers', spec.initContainers ?? []],
    ['containers', spec.containers ?? []],
    ['ephemeralContainers', (spec.ephemeralContainers as RawContainer[] | undefined) ?? []],
  ];
  for (const [list, cs] of lists) {
    for (const c of cs) {
      const name = String(c.name);
      if (name.startsWith('socat-')) {
        const r = name.slice(6);
        if (list === 'ephemeralContainers') out.push(`ephemeral ${name}`);
        if (!marker.includes(r)) out.push(`${name} is not in the marker`);
        assert.deepEqual(c.securityContext, SIDECAR_SECURITY, `${name}: security context`);
        assert.deepEqual(
          c.volumeMounts,
          [{ name, mountPath: `/run/socat-relay/${r}`, readOnly: true }],
          `${name}: mounts`,
        );
        if (c.args !== undefined || (c.command as string[] | undefined)?.[0] !== 'socat')
          out.push(`${name}: command ${JSON.stringify(c.command)} ${JSON.stringify(c.args)}`);
      }
      for (const m of (c.volumeMounts as { name: string; readOnly?: boolean }[] | undefined) ?? []) {
        if (m.name.startsWith('socat-') && m.readOnly !== true) out.push(`${name} mounts ${m.name} writable`);
      }
    }
  }
  for (const v of spec.volumes ?? []) {
    const name = String(v.name);
    const hp = (v as { hostPath?: { path: string; type?: string } }).hostPath;
    const csi = (v as { csi?: { driver?: string } }).csi;
    const exact =
      name.startsWith('socat-') &&
      marker.includes(name.slice(6)) &&
      hp?.path === `${SOCKET_DIR}/${name.slice(6)}` &&
      hp.type === 'DirectoryOrCreate';
    if (name.startsWith('socat-') && !exact) out.push(`volume ${name} is not the injected one: ${JSON.stringify(v)}`);
    if (hp && near(hp.path) && !exact) out.push(`volume ${name}: hostPath ${hp.path} near the socket folder`);
    if (csi?.driver === 'csi.socat.io') out.push(`volume ${name}: csi.socat.io in hostPath mode`);
  }
  return out;
}

const component = fc.constantFrom(
  '',
  '.',
  '..',
  'run',
  'var',
  'socat-relay',
  'socat-relay-x',
  'sched',
  'etcd',
  '.agent',
  'log',
);
const hostPathArb = fc
  .array(component, { minLength: 0, maxLength: 6 })
  .chain((parts) => fc.constantFrom(`/${parts.join('/')}`, `/${parts.join('/')}/`));
const relayName = fc.constantFrom('sched', 'etcd', 'nope');
const securityContextArb = fc.oneof(
  fc.constant(structuredClone(SIDECAR_SECURITY)),
  fc.record(
    {
      privileged: fc.boolean(),
      runAsUser: fc.constantFrom(0, 65532),
      runAsNonRoot: fc.boolean(),
      allowPrivilegeEscalation: fc.boolean(),
    },
    { requiredKeys: [] },
  ),
  fc.constant({ ...SIDECAR_SECURITY, capabilities: { drop: ['ALL'], add: ['SYS_ADMIN'] } }),
  fc.constant(undefined),
);
const mountArb = fc.record(
  {
    name: fc.oneof(
      relayName.map((r) => `socat-${r}`),
      fc.constantFrom('data', 'x'),
    ),
    mountPath: fc.constantFrom('/run/socat-relay/sched', '/relay', '/data'),
    readOnly: fc.option(fc.boolean(), { nil: undefined }),
  },
  { requiredKeys: ['name', 'mountPath'] },
);
const containerArb = fc.record(
  {
    name: fc.oneof(
      relayName.map((r) => `socat-${r}`),
      fc.constantFrom('app', 'helper'),
    ),
    image: fc.constantFrom(IMAGE, 'mirror.example:5000/socat-relay/socat-relay:0.1.0', 'attacker.example/x:1'),
    command: fc.option(
      fc.constantFrom(['socat', 'TCP4-LISTEN:10259', 'UNIX-CONNECT:/run/socat-relay/sched/socket'], ['sh']),
      { nil: undefined },
    ),
    securityContext: securityContextArb,
    volumeMounts: fc.option(fc.array(mountArb, { maxLength: 2 }), { nil: undefined }),
  },
  { requiredKeys: ['name', 'image'] },
);
const volumeArb = fc.oneof(
  fc.record({
    name: fc.oneof(
      relayName.map((r) => `socat-${r}`),
      fc.constantFrom('data', 'x', 'y'),
    ),
    hostPath: fc.record(
      { path: hostPathArb, type: fc.option(fc.constantFrom('DirectoryOrCreate', 'Directory'), { nil: undefined }) },
      { requiredKeys: ['path'] },
    ),
  }),
  fc.record({
    name: fc.oneof(
      relayName.map((r) => `socat-${r}`),
      fc.constant('c'),
    ),
    csi: fc.record({
      driver: fc.constant('csi.socat.io'),
      readOnly: fc.boolean(),
      volumeAttributes: fc.record({ relay: relayName }),
    }),
  }),
  fc.record({
    name: fc.oneof(
      relayName.map((r) => `socat-${r}`),
      fc.constant('e'),
    ),
    emptyDir: fc.constant({}),
  }),
);
type Edit = (p: RawPod) => void;
const editArb: fc.Arbitrary<Edit> = fc.oneof(
  containerArb.chain((c) =>
    fc
      .constantFrom<'containers' | 'initContainers' | 'ephemeralContainers'>(
        'containers',
        'initContainers',
        'ephemeralContainers',
      )
      .map((list): Edit => (p) => {
        ((p.spec![list] as RawContainer[] | undefined) ?? (p.spec![list] = [] as never)).push(structuredClone(c));
      }),
  ),
  volumeArb.map((v): Edit => (p) => {
    (p.spec!.volumes ??= []).push(structuredClone(v));
  }),
  fc.subarray(['sched', 'etcd', 'nope']).map((rs): Edit => (p) => {
    (p.metadata!.annotations ??= {})['socat.io/injected'] = rs.join(',');
  }),
  mountArb.map((m): Edit => (p) => {
    p.spec!.containers![0]!.volumeMounts ??= [] as never;
    (p.spec!.containers![0]!.volumeMounts as unknown[]).push(structuredClone(m));
  }),
  fc
    .tuple(
      fc.constantFrom('securityContext', 'volumeMounts', 'image', 'command', 'args', 'ports'),
      fc.oneof(securityContextArb, fc.constant([]), fc.constant('attacker.example/x:1'), fc.constant(['sh'])),
    )
    .map(([k, val]): Edit => (p) => {
      const sc = (p.spec!.initContainers ?? []).find((c) => c.name === 'socat-sched');
      if (sc) (sc as Record<string, unknown>)[k] = structuredClone(val);
    }),
);

test('generated hostile pods: whatever the webhook admits holds no more than an injected consumer of sched', () => {
  const runs = Number(process.env.SECURITY_POD_RUNS ?? 3000);
  let admitted = 0;
  fc.assert(
    fc.property(fc.boolean(), fc.array(editArb, { minLength: 1, maxLength: 4 }), (fromInjected, edits) => {
      const built = fromInjected ? injectedPod() : plainPod();
      for (const e of edits) e(built);
      const pod = JSON.parse(JSON.stringify(built)) as RawPod; // what arrives is JSON: no undefined values
      const d = decidePod(podCreateRequest(pod, NAMESPACE, 'u'), context());
      if (!d.response.allowed) return;
      admitted++;
      const out = fjp.applyPatch(structuredClone(pod), patchOps(d.response), true, false).newDocument;
      let problems: string[];
      try {
        problems = violations(out);
      } catch (e) {
        problems = [(e as Error).message];
      }
      if (problems.length > 0)
        throw new Error(`admitted ${JSON.stringify(pod)}\n→ ${JSON.stringify(out.spec)}\n${problems.join('\n')}`);
    }),
    { numRuns: runs, seed: Number(process.env.FC_SEED ?? 10), includeErrorInReport: true },
  );
  console.log(`[security] ${runs} generated hostile pods: ${admitted} admitted, every one within the rules`);
  assert.ok(admitted > 0, 'nothing was admitted: the property was not exercised');
});

test('the independent normaliser agrees with the hand-checked cases', () => {
  for (const [p, n] of [
    ['/var/run/../run/socat-relay', '/run/socat-relay'],
    ['//run/./socat-relay/', '/run/socat-relay'],
    ['/a/b/../..', '/'],
    ['/..', '/'],
    ['/var/run/../var/run/x', '/run/x'],
    ['/run/socat-relay-x', '/run/socat-relay-x'],
  ] as const) {
    assert.equal(oracleNormalise(p), n, p);
  }
});
