// Status that stays true when a node's controller is gone while its Node stays Ready: each controller
// renews a coordination.k8s.io/v1 Lease; a node whose Lease is not renewed for leaseDuration + grace
// (or that has a RelayNode and no Lease) is stale — its RelayNode stays, the elected controller's
// readyNodes and Ready count it as not ready — and counts again once its Lease is renewed. The pure
// decision as a table, then Leases on the real API server with durations of seconds: the holders, the
// elected controller's watch, and two controllers as shipped.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { KubeConfig } from '@kubernetes/client-node';
import type { Relay, RelayNode } from '../../relay/index.js';
import { pino } from 'pino';
import { createLogger } from '../../lib/log.js';
import {
  LEASE_DURATION_SECONDS,
  LEASE_GRACE_SECONDS,
  LEASE_PREFIX,
  leaseName,
  staleByLease,
  trackRenewals,
  type LeaseView,
} from '../../webhook/reconcile/lease.js';
import { loadConfig, ConfigError } from '../../webhook/config.js';
import path from 'node:path';
import {
  installCrds,
  skipUnlessControlPlane,
  startControlPlane,
  startNodeController,
  waitFor,
  type ControlPlane,
} from '../harness/index.js';
import { createNamespace } from '../harness/controlplane.js';
import { parsePrometheus } from '../../bench/fleet/measure.js';

const NOW = new Date('2026-11-30T01:00:00Z');
const ago = (s: number): string => new Date(NOW.getTime() - s * 1000).toISOString();
const lease = (node: string, renewedAgo?: number, duration?: number, name = leaseName(node)): LeaseView => ({
  metadata: { name },
  spec: {
    holderIdentity: node,
    ...(duration !== undefined ? { leaseDurationSeconds: duration } : {}),
    ...(renewedAgo !== undefined ? { renewTime: ago(renewedAgo) } : {}),
  },
});

describe('staleByLease: the stated time is leaseDuration + grace (40 s + 80 s = 2 minutes)', () => {
  test('the stated defaults', () => {
    assert.equal(LEASE_DURATION_SECONDS + LEASE_GRACE_SECONDS, 120);
    assert.equal(leaseName('worker-1'), 'socat-relay-controller-worker-1');
    const long = leaseName('n'.repeat(250));
    assert.ok(long.length <= 253 && long.startsWith(LEASE_PREFIX) && long !== leaseName(`${'n'.repeat(249)}m`), long);
  });

  const cases: {
    name: string;
    leases: LeaseView[];
    nodes?: string[];
    watching?: number;
    want: Record<string, RegExp>;
  }[] = [
    { name: 'renewed 10 s ago: fresh', leases: [lease('a', 10, 40)], want: {} },
    { name: 'renewed exactly 120 s ago: not yet', leases: [lease('a', 120, 40)], want: {} },
    {
      name: 'renewed 121 s ago: stale',
      leases: [lease('a', 121, 40)],
      want: { a: /^controller lease not renewed for over 120 s$/ },
    },
    {
      name: 'its own stated duration counts (300 s lease, renewed 200 s ago)',
      leases: [lease('a', 200, 300)],
      want: {},
    },
    {
      name: 'no or a bad duration: the default 40 s',
      leases: [lease('a', 121), lease('b', 121, -5), lease('c', 100, 0)],
      want: { a: /not renewed/, b: /not renewed/ },
    },
    { name: 'never renewed', leases: [lease('a')], want: { a: /never renewed/ } },
    {
      name: 'a node with entries and no Lease, watched long enough',
      leases: [lease('a', 1, 40)],
      nodes: ['a', 'b'],
      watching: 121,
      want: { b: /no controller lease/ },
    },
    {
      name: 'a node without Lease while the cache is young: not yet',
      leases: [],
      nodes: ['b'],
      watching: 60,
      want: {},
    },
    {
      name: 'other Leases of the namespace are ignored',
      leases: [lease('x', 500, 40, 'kube-scheduler'), lease('y', 500, 40, 'socat-relay-other')],
      want: {},
    },
    {
      name: 'two Leases of one holder: the newest renewal counts',
      leases: [lease('a', 500, 40), lease('a', 5, 40, `${LEASE_PREFIX}a-old`)],
      want: {},
    },
    {
      name: "a Lease without holder is nobody's",
      leases: [{ metadata: { name: `${LEASE_PREFIX}z` }, spec: { renewTime: ago(999) } }],
      nodes: [],
      want: {},
    },
  ];
  for (const c of cases) {
    test(c.name, () => {
      const got = staleByLease({
        leases: c.leases,
        nodes: c.nodes ?? [],
        now: NOW,
        watchingSince: new Date(NOW.getTime() - (c.watching ?? 0) * 1000),
      });
      assert.deepEqual([...got.keys()].sort(), Object.keys(c.want).sort());
      for (const [n, re] of Object.entries(c.want)) assert.match(got.get(n)!, re);
    });
  }

  test("clock skew: a holder seen renewing counts on the watcher's clock, whatever its renewTime says", () => {
    const at = (s: number): number => NOW.getTime() + s * 1000;
    // Behind by 10 minutes, renewing: its renewTime looks 600 s old, but it changed 5 s ago.
    const behind = lease('a', 600, 40);
    // Ahead by 10 minutes and dead: its renewTime is in the future and has not changed for 121 s.
    const ahead = {
      metadata: { name: leaseName('b') },
      spec: { holderIdentity: 'b', leaseDurationSeconds: 40, renewTime: new Date(at(600)).toISOString() },
    };
    const seen = new Map([
      ['a', { renewMs: at(-600), seenAt: at(-5) }],
      ['b', { renewMs: at(600), seenAt: at(-121) }],
    ]);
    const got = staleByLease({
      leases: [behind, ahead],
      nodes: [],
      now: NOW,
      watchingSince: new Date(at(-3600)),
      seen,
    });
    assert.deepEqual([...got], [['b', 'controller lease not renewed for over 120 s']]);
    // Without what was seen (a fresh cache), renewTime's age decides, as in the table above.
    assert.deepEqual(
      [...staleByLease({ leases: [behind, ahead], nodes: [], now: NOW, watchingSince: NOW }).keys()],
      ['a'],
    );
  });

  test("trackRenewals: the first sight is kept while renewTime stays (a list's Date and a watch's string alike), reset when it changes", () => {
    const t0 = NOW.getTime();
    const asDate: LeaseView = {
      metadata: { name: leaseName('a') },
      spec: { holderIdentity: 'a', renewTime: new Date(ago(30)) },
    };
    const first = trackRenewals(new Map(), [asDate, lease('b', 10), lease('c')], t0);
    assert.deepEqual(
      [...first],
      [
        ['a', { renewMs: t0 - 30_000, seenAt: t0 }],
        ['b', { renewMs: t0 - 10_000, seenAt: t0 }],
      ],
      'never renewed: nothing to track',
    );
    const asString = lease('a', 30); // the same renewal, from a watch event: microseconds in a string
    asString.spec!.renewTime = `${(asString.spec!.renewTime as string).replace(/Z$/, '')}000Z`;
    const second = trackRenewals(first, [asString, lease('b', 2)], t0 + 8000);
    assert.deepEqual(
      [...second],
      [
        ['a', { renewMs: t0 - 30_000, seenAt: t0 }],
        ['b', { renewMs: t0 - 2000, seenAt: t0 + 8000 }],
      ],
    );
    assert.deepEqual(
      [...trackRenewals(second, [lease('b', 2)], t0 + 9000).keys()],
      ['b'],
      'a holder without Lease is dropped',
    );
  });

  test('settings: namespace from POD_NAMESPACE, lease times validated', () => {
    const c = loadConfig([], { NODE_NAME: 'n', POD_NAMESPACE: 'ops' });
    assert.deepEqual(
      [c.namespace, c.leaseDurationSeconds, c.leaseRenewSeconds, c.leaseGraceSeconds],
      ['ops', 40, 10, 80],
    );
    assert.equal(loadConfig([], { NODE_NAME: 'n' }).namespace, 'socat-relay-system');
    assert.throws(
      () => loadConfig(['--lease-renew', '40'], { NODE_NAME: 'n' }),
      (e: unknown) =>
        e instanceof ConfigError && /must be less than SOCAT_RELAY_LEASE_DURATION_SECONDS/.test(e.message),
    );
    assert.throws(
      () => loadConfig([], { NODE_NAME: 'n', SOCAT_RELAY_LEASE_DURATION_SECONDS: '0' }),
      /SOCAT_RELAY_LEASE_DURATION_SECONDS: must be more than 0/,
    );
  });
});

describe('controller Leases on a real API server', { skip: skipUnlessControlPlane() }, () => {
  let cp: ControlPlane;
  let kc: KubeConfig;
  const log = createLogger({ level: 'silent', name: 'lease-test' });
  const NS = 'socat-relay-system';
  // Stated time in this test: 2 s lease + 1 s grace = 3 s without a renewal.
  const times = { durationSeconds: 2, renewSeconds: 0.5, graceSeconds: 1 };

  before(async () => {
    cp = await startControlPlane();
    await installCrds(cp.client);
    kc = new KubeConfig();
    kc.loadFromFile(cp.kubeconfigPath);
    await createNamespace(cp.client, NS);
  });
  after(async () => {
    await cp?.stop();
  });

  test("node-b's controller stops renewing: the elected controller's watch names it stale after the stated time, and not once it renews", async (t) => {
    const { startControllerLease } = await import('../../webhook/reconcile/lease-kube.js');
    const { startLeaseWatch } = await import('../../webhook/cluster/leases.js');
    const holder = (node: string) => startControllerLease({ kc, namespace: NS, nodeName: node, log, ...times });
    const leaseA = await holder('node-a');
    let leaseB = await holder('node-b');
    const watch = await startLeaseWatch({
      kc,
      namespace: NS,
      log,
      durationSeconds: times.durationSeconds,
      graceSeconds: times.graceSeconds,
    });
    t.after(async () => {
      await watch.stop();
      await leaseA.stop();
      await leaseB.stop();
    });

    const l = await waitFor(
      'both Leases',
      async () => {
        const items = await cp.client.list<{
          metadata: { name: string };
          spec: { holderIdentity: string; leaseDurationSeconds: number; renewTime: string };
        }>('coordination.k8s.io/v1', 'Lease', NS);
        return items.length === 2 ? items : undefined;
      },
      { timeoutMs: 30_000 },
    );
    assert.deepEqual(l.map((x) => [x.metadata.name, x.spec.holderIdentity, x.spec.leaseDurationSeconds]).sort(), [
      ['socat-relay-controller-node-a', 'node-a', 2],
      ['socat-relay-controller-node-b', 'node-b', 2],
    ]);
    // Both renew: after well over the stated time nothing is stale.
    await new Promise((r) => setTimeout(r, 5_000));
    assert.deepEqual([...watch.stale(['node-a', 'node-b']).keys()], []);

    await leaseB.stop(); // node-b's controller is gone; its Node stays
    const lastRenew = new Date(
      (await cp.client.get('coordination.k8s.io/v1', 'Lease', 'socat-relay-controller-node-b', NS)).spec.renewTime,
    ).getTime();
    const stale = await waitFor(
      'node-b stale',
      () => {
        const s = watch.stale(['node-a', 'node-b']);
        return s.has('node-b') ? s : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 200 },
    );
    assert.ok(
      Date.now() - lastRenew > 3_000,
      `stale only after the stated time (3 s), was ${Date.now() - lastRenew} ms after the last renewal`,
    );
    assert.deepEqual([...stale.keys()], ['node-b']);
    assert.equal(stale.get('node-b'), 'controller lease not renewed for over 3 s');
    // A node with a RelayNode and no Lease at all is stale too, once the watch is old enough.
    await waitFor('node-c (no Lease) stale', () => watch.stale(['node-c']).get('node-c') === 'no controller lease', {
      timeoutMs: 30_000,
      intervalMs: 200,
    });

    leaseB = await holder('node-b'); // it comes back: the same Lease renewed
    await waitFor('node-b fresh again', () => !watch.stale(['node-a', 'node-b']).has('node-b'), {
      timeoutMs: 30_000,
      intervalMs: 200,
    });
  });

  test('clock skew on a real API server: holders 10 minutes behind and ahead stay fresh while they renew, and go stale on time once they stop', async (t) => {
    const { startLeaseWatch } = await import('../../webhook/cluster/leases.js');
    const micro = (ms: number): string => new Date(ms).toISOString().replace(/Z$/, '000Z');
    const skews: Record<string, number> = { 'node-behind': -600_000, 'node-ahead': 600_000 };
    const write = async (): Promise<void> => {
      for (const [node, skew] of Object.entries(skews)) {
        await cp.client.apply({
          apiVersion: 'coordination.k8s.io/v1',
          kind: 'Lease',
          metadata: { name: leaseName(node), namespace: NS },
          spec: { holderIdentity: node, leaseDurationSeconds: 2, renewTime: micro(Date.now() + skew) },
        } as any);
      }
    };
    await write();
    let writing = true;
    const loop = (async () => {
      while (writing) {
        await write();
        await new Promise((r) => setTimeout(r, 500));
      }
    })();
    const watcher = await startLeaseWatch({
      kc,
      namespace: NS,
      log,
      durationSeconds: times.durationSeconds,
      graceSeconds: times.graceSeconds,
    });
    t.after(async () => {
      writing = false;
      await loop;
      await watcher.stop();
    });
    const nodes = Object.keys(skews); // (the earlier tests' Leases of the namespace are not looked at)
    // Well over the stated time (3 s) of renewals: neither is stale (before, the one behind always was).
    for (let i = 0; i < 10; i++) {
      await new Promise((r) => setTimeout(r, 500));
      assert.deepEqual(
        [...watcher.stale(nodes).keys()].filter((n) => n in skews),
        [],
        `after ${(i + 1) * 0.5} s`,
      );
    }
    writing = false;
    await loop;
    const stopped = Date.now();
    // Both go stale after the stated time on the watcher's clock (before, the one ahead only after 10 minutes).
    const stale = await waitFor(
      'both stale',
      () => {
        const s = watcher.stale(nodes);
        return nodes.every((n) => s.has(n)) ? s : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 200 },
    );
    assert.ok(
      Date.now() - stopped > 2_500,
      `stale ${Date.now() - stopped} ms after the last renewal: not before the stated 3 s`,
    );
    for (const n of nodes) assert.equal(stale.get(n), 'controller lease not renewed for over 3 s');
  });

  test('a Lease that cannot be written (no such namespace): renew rejects, the holder keeps running and logs why', async () => {
    const { startControllerLease } = await import('../../webhook/reconcile/lease-kube.js');
    const lines: string[] = [];
    const logged = pino(
      { level: 'warn' },
      {
        write: (l: string) => {
          lines.push(l);
        },
      },
    );
    const h = await startControllerLease({
      kc,
      namespace: 'no-such-namespace',
      nodeName: 'node-x',
      log: logged,
      ...times,
    });
    try {
      await assert.rejects(h.renew(), (e: { code?: number }) => e.code === 404);
      await waitFor('the warning', () => lines.some((l) => /does namespace no-such-namespace exist/.test(l)), {
        timeoutMs: 10_000,
      });
    } finally {
      await h.stop();
    }
  });

  test("renewals as the kubelet's: one update each, no read, until someone else writes (409) or deletes (404) the Lease; then one read (and a create) and renewing again", async () => {
    const { startControllerLease } = await import('../../webhook/reconcile/lease-kube.js');
    // kube-controller-manager runs with --leader-elect=false here: the Lease reads and creates the API
    // server counts are this holder's (its loop renews once at start; renewSeconds keeps it from more).
    const requests = async (verb: string): Promise<number> => {
      const r = await cp.client.raw('GET', '/metrics', { accept: 'text/plain' });
      return parsePrometheus(typeof r.body === 'string' ? r.body : '')
        .filter((m) => m.name === 'apiserver_request_total' && m.labels.resource === 'leases')
        .filter((m) => m.labels.verb === verb && m.labels.scope === 'resource')
        .reduce((sum, m) => sum + m.value, 0);
    };
    const name = leaseName('node-r');
    const path = `/apis/coordination.k8s.io/v1/namespaces/${NS}/leases/${name}`;
    const renewTime = async (): Promise<string> =>
      (await cp.client.request<{ spec: { renewTime: string } }>('GET', path)).spec.renewTime;
    const h = await startControllerLease({ kc, namespace: NS, nodeName: 'node-r', log, renewSeconds: 3600 });
    try {
      await waitFor('the Lease created', async () => (await cp.client.raw('GET', path)).status === 200);
      await h.renew(); // after the loop's first renewal: this one starts from the Lease it wrote
      let last = await renewTime();
      const gets = await requests('GET');
      for (let i = 0; i < 3; i++) {
        await h.renew();
        const now = await renewTime();
        assert.notEqual(now, last, `renewal ${i + 1} moved renewTime`);
        last = now;
      }
      // Our own reads of renewTime above are GETs too: 3 of them, and none from the holder.
      assert.equal((await requests('GET')) - gets, 3, 'no read before an update while nobody else writes');

      // Someone else writes it: the holder's update is a 409, so it reads it and updates again.
      const lease = await cp.client.request<{ metadata: Record<string, unknown> }>('GET', path);
      await cp.client.request('PUT', path, {
        body: { ...lease, metadata: { ...lease.metadata, labels: { edited: 'yes' } } },
      });
      const beforeConflict = await requests('GET');
      await h.renew();
      assert.equal((await requests('GET')) - beforeConflict, 1, 'one read after the conflict');
      const afterConflict = await cp.client.request<{ metadata: { labels?: Record<string, string> } }>('GET', path);
      assert.equal(afterConflict.metadata.labels?.edited, 'yes', "the other writer's change kept");
      assert.notEqual(await renewTime(), last);

      // Deleted: the update is a 404, the read too, and the Lease is created again.
      await cp.client.request('DELETE', path);
      const creates = await requests('POST');
      await h.renew();
      assert.equal((await requests('POST')) - creates, 1, 'created again');
      assert.ok(await renewTime());
    } finally {
      await h.stop();
      await cp.client.raw('DELETE', path).catch(() => undefined);
    }
  });

  test('the controller as shipped (cli/controller.ts): one of two controllers stops, the elected one (the other, after a failover if need be) marks its node stale; restarted, it counts again', async (t) => {
    const spec = {
      target: { host: '127.0.0.1', port: 8080 },
      consumers: { namespaces: ['monitoring'] },
      nodeSelector: { 'lease-test': 'yes' },
    };
    await cp.client.apply({ apiVersion: 'socat.io/v1alpha1', kind: 'Relay', metadata: { name: 'web' }, spec } as any);
    const generation = (await cp.client.get<Relay>('socat.io/v1alpha1', 'Relay', 'web')).metadata.generation!;
    const start = (node: string) => {
      return startNodeController({
        kubeconfigPath: cp.kubeconfigPath,
        dir: path.join(cp.dir, `lease-${node}`),
        nodeName: node,
        generations: { web: generation },
        env: {
          POD_NAMESPACE: NS,
          SOCAT_RELAY_LEASE_DURATION_SECONDS: '2',
          SOCAT_RELAY_LEASE_RENEW_SECONDS: '0.5',
          SOCAT_RELAY_LEASE_GRACE_SECONDS: '1',
          SOCAT_RELAY_LEADER_LEASE_SECONDS: '3',
          LOG_LEVEL: 'info',
        },
      });
    };
    for (const n of ['node-c', 'node-d'])
      await cp.client.apply({ apiVersion: 'v1', kind: 'Node', metadata: { name: n, labels: { 'lease-test': 'yes' } } });
    const c = await start('node-c');
    let d = await start('node-d');
    t.after(async () => {
      await c.stop();
      await d.stop();
    });
    const web = (): Promise<Relay> => cp.client.get<Relay>('socat.io/v1alpha1', 'Relay', 'web');
    const ready = (r: Relay) => r.status?.conditions?.find((x) => x.type === 'Ready');
    await waitFor(
      'web ready on both nodes',
      async () => {
        const r = await web();
        return r.status?.readyNodes === 2 && ready(r)?.status === 'True';
      },
      { timeoutMs: 60_000, intervalMs: 200 },
    );

    await d.stop(); // node-d's controller is gone; its Node stays
    const dropped = await waitFor(
      'node-d stale',
      async () => {
        const r = await web();
        return r.status?.readyNodes === 1 ? r : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 200 },
    );
    assert.match(ready(dropped)!.message, /node-d \(Running, stale: controller lease not renewed for over 3 s\)/);
    const rn = await cp.client.get<RelayNode>('socat.io/v1alpha1', 'RelayNode', 'node-d');
    assert.ok(rn.status!.relays!.find((e) => e.name === 'web')!.ready, 'its RelayNode stays as it last wrote it');

    d = await start('node-d');
    await waitFor(
      'node-d counts again',
      async () => {
        const r = await web();
        return r.status?.readyNodes === 2 && ready(r)?.status === 'True';
      },
      { timeoutMs: 60_000, intervalMs: 200 },
    );
  });
});
