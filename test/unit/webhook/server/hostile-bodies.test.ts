// The largest hostile AdmissionReviews the webhook reads (up to its 3 MiB body limit), posted to the
// real app: pods arrive from any user who can create a labeled pod (the API server calls the mutating
// webhook before it validates the pod, so a 2 MB annotation reaches us), relays from whoever reaches
// the webhook's port. Each must be answered quickly — a slow answer blocks the controller's one event
// loop, so every other pod fails open past its 5 s timeout, Relays cannot be created, and the Lease
// goes unrenewed — with a denial that names the field (not a 500 "internal error") and a bounded body.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import request from 'supertest';
import { silentLogger } from '../../../../lib/log.js';
import { CONSUME_ANNOTATION, type Relay } from '../../../../relay/index.js';
import { createApp, DEFAULT_BODY_LIMIT } from '../../../../webhook/server/app.js';
import { createMetrics } from '../../../../webhook/metrics.js';
import type { RawContainer, RawPod } from '../../../../webhook/admission/index.js';
import { context, injectedPod, NAMESPACE, plainPod } from '../../../harness/attacks.js';

/**
 * CPU time of this process (the app and the client in it) per request, under the API server's 5 s
 * webhook timeout: the fixed code takes well under 2 s for the largest body; the quadratic code took
 * 30 to 100 s. CPU time, not wall time, so other processes on a busy machine do not count.
 */
const BUDGET_MS = 4000;
/** An answer the API server and kubectl can show: the first problems, not millions. */
const MAX_ANSWER_BYTES = 64 * 1024;

const podKind = { group: '', version: 'v1', kind: 'Pod' };
const relayKind = { group: 'socat.io', version: 'v1alpha1', kind: 'Relay' };
const review = (kind: unknown, object: unknown, extra: Record<string, unknown> = {}) => ({
  apiVersion: 'admission.k8s.io/v1',
  kind: 'AdmissionReview',
  request: { uid: 'hostile', kind, operation: 'CREATE', namespace: NAMESPACE, object, ...extra },
});
const relay = (spec: Record<string, unknown>): Relay =>
  ({ apiVersion: 'socat.io/v1alpha1', kind: 'Relay', metadata: { name: 'hostile' }, spec }) as unknown as Relay;
const target = { host: '127.0.0.1', port: 8080 };
const many = <T>(n: number, f: (i: number) => T): T[] => Array.from({ length: n }, (_, i) => f(i));

/** The largest `n` (doubling from 1000) whose body still fits the webhook's limit. */
function largest(make: (n: number) => unknown): { n: number; body: string } {
  let n = 1000;
  let body = JSON.stringify(make(n));
  for (;;) {
    const next = JSON.stringify(make(n * 2));
    if (next.length > DEFAULT_BODY_LIMIT) return { n, body };
    n *= 2;
    body = next;
  }
}

interface Case {
  name: string;
  path: '/mutate-pods' | '/validate-relays';
  /** The body at a fixed size (`n`), or the largest under the limit (`largest`). */
  body: () => { n: number; body: string };
  message: RegExp;
}

const withAnnotation = (value: string): RawPod => {
  const p = plainPod();
  p.metadata!.annotations = { [CONSUME_ANNOTATION]: value };
  return p;
};

const CASES: Case[] = [
  {
    // Each name once: the list of names the pod asks for was deduplicated with a linear search per name.
    name: 'a pod asking for 250 000 relays in its annotation socat.io/consume',
    path: '/mutate-pods',
    body: () => largest((n) => review(podKind, withAnnotation(many(n, (i) => `r${i}`).join(',')))),
    message: /^relay "r0" not found \(asked for by socat\.io\/consume\); relay "r1" not found/,
  },
  {
    name: 'a pod with 100 000 containers named socat-* of relays it asks for',
    path: '/mutate-pods',
    body: () => {
      const n = 100_000;
      const p = withAnnotation(many(n, (i) => `q${i}`).join(','));
      p.spec!.containers = many(n, (i): RawContainer => ({ name: `socat-q${i}` }));
      return { n, body: JSON.stringify(review(podKind, p)) };
    },
    message: /^relay "q0" not found/,
  },
  {
    name: 'a pod with the most duplicate socat-sched volumes',
    path: '/mutate-pods',
    body: () =>
      largest((n) => {
        const p = injectedPod('csi');
        p.spec!.volumes = many(n, () => ({ name: 'socat-sched' }));
        return review(podKind, p);
      }),
    message: /^spec\.volumes\[1\]: duplicate volume name "socat-sched" \(also spec\.volumes\[0\]\)/,
  },
  {
    name: "a pod with the most ports clashing with the relay's",
    path: '/mutate-pods',
    body: () =>
      largest((n) => {
        const p = plainPod();
        p.spec!.containers![0]!.ports = many(n, () => ({ containerPort: 10259 }));
        return review(podKind, p);
      }),
    message: /^relay "sched" listens on port 10259\/TCP, which container "app" also uses/,
  },
  {
    name: 'a pod whose app mounts the relay volume writable at the most paths',
    path: '/mutate-pods',
    body: () =>
      largest((n) => {
        const p = injectedPod('csi');
        p.spec!.containers![0]!.volumeMounts = many(n, (i) => ({ name: 'socat-sched', mountPath: `/m${i}` }));
        return review(podKind, p);
      }),
    message: /^spec\.containers\[0\] "app" mounts the injected volume "socat-sched" writable/,
  },
  {
    name: 'kubectl debug with the most ephemeral containers named socat-*',
    path: '/mutate-pods',
    body: () =>
      largest((n) => {
        const p = injectedPod('csi');
        p.spec!.ephemeralContainers = many(n, (i) => ({ name: `socat-e${i}` }));
        return review(podKind, p, { operation: 'UPDATE', subResource: 'ephemeralcontainers' });
      }),
    message: /^spec\.ephemeralContainers\[0\] "socat-e0": ephemeral containers may not use the prefix socat-/,
  },
  {
    // Every entry fails its pattern; each later check asked whether its field had failed by walking
    // every failed field (quadratic: 30 000 entries took minutes).
    name: 'a relay with 30 000 invalid namespaces',
    path: '/validate-relays',
    body: () => ({
      n: 30_000,
      body: JSON.stringify(review(relayKind, relay({ target, consumers: { namespaces: many(30_000, () => 'A') } }))),
    }),
    message: /^spec\.consumers\.namespaces\[0\]: "A" is not a valid namespace name; spec\.consumers\.namespaces\[1\]/,
  },
  {
    name: 'a relay with the most invalid namespaces',
    path: '/validate-relays',
    body: () => largest((n) => review(relayKind, relay({ target, consumers: { namespaces: many(n, () => 'A') } }))),
    message: /^spec\.consumers\.namespaces\[0\]: "A" is not a valid namespace name/,
  },
  {
    name: 'a relay with the most duplicate namespaces',
    path: '/validate-relays',
    body: () => largest((n) => review(relayKind, relay({ target, consumers: { namespaces: many(n, () => 'a') } }))),
    message: /^spec\.consumers\.namespaces\[1\]: duplicate namespace "a"/,
  },
  {
    name: 'a relay with the most nodeSelector entries, keys and values invalid',
    path: '/validate-relays',
    body: () =>
      largest((n) =>
        review(
          relayKind,
          relay({
            target,
            consumers: { namespaces: ['a'] },
            nodeSelector: Object.fromEntries(many(n, (i) => [`-${i}`, '-'])),
          }),
        ),
      ),
    message: /^spec\.nodeSelector: must have at most 64 entries/,
  },
  {
    name: 'a relay with the most invalid matchExpressions',
    path: '/validate-relays',
    body: () =>
      largest((n) =>
        review(
          relayKind,
          relay({
            target,
            consumers: {
              namespaceSelector: { matchExpressions: many(n, () => ({ key: '-', operator: 'Bad', values: ['-'] })) },
            },
          }),
        ),
      ),
    message: /^spec\.consumers\.namespaceSelector\.matchExpressions\[0\]\.key: "-" is not a valid label key/,
  },
  {
    name: 'a relay with the most unknown fields',
    path: '/validate-relays',
    body: () =>
      largest((n) =>
        review(
          relayKind,
          relay({ target, consumers: { namespaces: ['a'] }, ...Object.fromEntries(many(n, (i) => [`f${i}`, 1])) }),
        ),
      ),
    message: /^spec\.f0: unknown field/,
  },
];

const app = createApp({
  catalog: context('csi').catalog,
  namespaceLabels: context('csi').namespaceLabels,
  injectOptions: () => context('csi').options,
  metrics: createMetrics(),
  log: silentLogger,
});

for (const c of CASES) {
  test(
    `${c.path}: ${c.name} → a denial naming the field, within ${BUDGET_MS} ms of CPU, at most ${MAX_ANSWER_BYTES / 1024} KiB`,
    { timeout: 600_000 },
    async () => {
      const { n, body } = c.body();
      const cpu0 = process.cpuUsage();
      const res = await request(app).post(c.path).set('content-type', 'application/json').send(body);
      const cpu = process.cpuUsage(cpu0);
      const ms = Math.round((cpu.user + cpu.system) / 1000);
      const message = String(res.body?.response?.status?.message ?? '');
      console.log(
        `[hostile-bodies] ${c.name}: n=${n}, ${body.length} bytes → ${res.status} ${res.body?.response?.status?.code} in ${ms} ms of CPU, answer ${res.text.length} bytes: ${message.slice(0, 100)}`,
      );
      assert.equal(res.status, 200);
      assert.equal(res.body.response.uid, 'hostile');
      assert.equal(res.body.response.allowed, false);
      assert.equal(res.body.response.status.code, 403, `not a denial: ${message.slice(0, 300)}`);
      assert.match(message, c.message);
      assert.ok(res.text.length <= MAX_ANSWER_BYTES, `an answer of ${res.text.length} bytes`);
      assert.ok(ms < BUDGET_MS, `answered in ${ms} ms of CPU`);
    },
  );
}

// The relay's node labels are AND-ed into every required term of the pod: 30 000 terms × a relay with 64
// node labels made 1.9 million requirements (21 s, a 464 MB answer). Now bounded and denied up front.
test(
  `/mutate-pods: a pod with the most nodeSelectorTerms asking for a relay with 64 node labels → a denial naming the field, within ${BUDGET_MS} ms of CPU`,
  { timeout: 600_000 },
  async () => {
    const wide: Relay = {
      apiVersion: 'socat.io/v1alpha1',
      kind: 'Relay',
      metadata: { name: 'wide' },
      spec: {
        target,
        consumers: { namespaces: [NAMESPACE] },
        nodeSelector: Object.fromEntries(many(64, (i) => [`example.com/l${i}`, 'yes'])),
      },
    };
    const { StaticCatalog } = await import('../../../../webhook/catalog/catalog.js');
    const wideApp = createApp({
      catalog: new StaticCatalog([wide]),
      namespaceLabels: context('csi').namespaceLabels,
      injectOptions: () => context('csi').options,
      metrics: createMetrics(),
      log: silentLogger,
    });
    const { n, body } = largest((k) => {
      const p = plainPod();
      p.metadata!.labels = { 'socat.io/consume': 'wide' };
      p.spec!.affinity = {
        nodeAffinity: {
          requiredDuringSchedulingIgnoredDuringExecution: {
            nodeSelectorTerms: many(k, (i) => ({
              matchExpressions: [{ key: 'zone', operator: 'In', values: [`z${i}`] }],
            })),
          },
        },
      };
      return review(podKind, p);
    });
    const cpu0 = process.cpuUsage();
    const res = await request(wideApp).post('/mutate-pods').set('content-type', 'application/json').send(body);
    const cpu = process.cpuUsage(cpu0);
    const ms = Math.round((cpu.user + cpu.system) / 1000);
    const message = String(res.body?.response?.status?.message ?? '');
    console.log(
      `[hostile-bodies] ${n} nodeSelectorTerms × 64 node labels: ${body.length} bytes → ${res.status} in ${ms} ms of CPU, answer ${res.text.length} bytes: ${message.slice(0, 160)}`,
    );
    assert.equal(res.body.response.allowed, false);
    assert.match(
      message,
      new RegExp(
        `^spec\\.affinity\\.nodeAffinity\\.requiredDuringSchedulingIgnoredDuringExecution\\.nodeSelectorTerms: ${n} terms × 64 node labels`,
      ),
    );
    assert.ok(res.text.length <= MAX_ANSWER_BYTES, `an answer of ${res.text.length} bytes`);
    assert.ok(ms < BUDGET_MS, `answered in ${ms} ms of CPU`);
  },
);
