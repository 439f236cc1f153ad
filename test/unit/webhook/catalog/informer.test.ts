// The informer catalogs against a small fake API server on 127.0.0.1 that lists, then fails the first
// watch with a 500 (client-node gives up on that by itself), then streams events: the catalog must
// restart the watch, count the restart and see the later events.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { silentLogger } from '../../../../lib/log.js';
import { InformerRelayCatalog, NamespaceLabels } from '../../../../webhook/catalog/informer.js';
import type { CatalogEvent } from '../../../../webhook/catalog/catalog.js';
import { createMetrics } from '../../../../webhook/metrics.js';
import { fakeApiServer, kubeConfigFor } from '../../../harness/fake-apiserver.js';

const relay = (name: string, rv: string) => ({
  apiVersion: 'socat.io/v1alpha1',
  kind: 'Relay',
  metadata: { name, resourceVersion: rv },
  spec: { target: { host: '127.0.0.1', port: 9100 }, consumers: { namespaces: ['monitoring'] } },
});

interface Fake {
  url: string;
  watches: number;
  watchQueries: URLSearchParams[];
  close(): Promise<void>;
}

interface Routes {
  list: string;
  items: unknown[];
  events: unknown[];
  failFirstWatch: boolean;
  /** The first watch answers 200 and then never sends a byte (a dead connection that is not closed). */
  silentFirstWatch?: boolean;
  /** Later watches send a BOOKMARK this often (ms), as the API server does for a quiet healthy watch. */
  bookmarkEveryMs?: number;
}

async function fakeRelayApi(routes: Routes): Promise<Fake> {
  const state = { watches: 0, watchQueries: [] as URLSearchParams[] };
  const timers: NodeJS.Timeout[] = [];
  const server = await fakeApiServer((_req, res, url) => {
    if (url.pathname !== routes.list) {
      res.writeHead(404).end();
      return;
    }
    if (url.searchParams.get('watch') === 'true') state.watchQueries.push(url.searchParams);
    if (url.searchParams.get('watch') === 'true' && routes.silentFirstWatch && state.watches === 0) {
      state.watches++;
      res.writeHead(200, { 'content-type': 'application/json' });
      res.flushHeaders();
      return;
    }
    if (url.searchParams.get('watch') !== 'true') {
      res
        .writeHead(200, { 'content-type': 'application/json' })
        .end(
          JSON.stringify({ apiVersion: 'v1', kind: 'List', metadata: { resourceVersion: '10' }, items: routes.items }),
        );
      return;
    }
    state.watches++;
    if (routes.failFirstWatch && state.watches === 1) {
      res.writeHead(500, { 'content-type': 'application/json' }).end('{"kind":"Status","code":500}');
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' });
    for (const e of routes.events) res.write(`${JSON.stringify(e)}\n`);
    // keep the stream open, as a real watch does
    if (routes.bookmarkEveryMs) {
      const bookmark = {
        type: 'BOOKMARK',
        object: { kind: 'Relay', apiVersion: 'socat.io/v1alpha1', metadata: { resourceVersion: '20' } },
      };
      timers.push(setInterval(() => res.write(`${JSON.stringify(bookmark)}\n`), routes.bookmarkEveryMs));
    }
  });
  return {
    url: server.url,
    get watches() {
      return state.watches;
    },
    watchQueries: state.watchQueries,
    close: () => {
      timers.forEach(clearInterval);
      return server.close();
    },
  };
}

test(
  'the relay catalog lists, survives a failed watch by restarting it (counted), then follows events',
  { timeout: 15_000 },
  async (t) => {
    const fake = await fakeRelayApi({
      list: '/apis/socat.io/v1alpha1/relays',
      items: [relay('kube-scheduler', '5')],
      failFirstWatch: true,
      events: [
        { type: 'ADDED', object: relay('etcd-metrics', '11') },
        { type: 'DELETED', object: relay('kube-scheduler', '12') },
      ],
    });
    t.after(() => fake.close());
    const metrics = createMetrics();
    const catalog = new InformerRelayCatalog({
      kc: kubeConfigFor(fake.url),
      log: silentLogger,
      backoff: { initialMs: 10, maxMs: 40 },
      onRestart: (resource) => metrics.watchRestarts.inc({ resource }),
    });
    const events: string[] = [];
    const deleted = new Promise<void>((resolve) => {
      catalog.subscribe((e: CatalogEvent) => {
        events.push(`${e.type} ${e.relay.metadata.name}`);
        if (e.type === 'delete') resolve();
      });
    });
    assert.equal(catalog.synced(), false);
    await catalog.start();
    t.after(() => catalog.stop());
    await deleted;
    assert.equal(catalog.synced(), true);
    assert.deepEqual(events, ['add kube-scheduler', 'add etcd-metrics', 'delete kube-scheduler']);
    assert.deepEqual(
      catalog.list().map((r) => r.metadata.name),
      ['etcd-metrics'],
    );
    assert.equal(catalog.get('etcd-metrics')?.spec.target.port, 9100);
    assert.equal(fake.watches, 2);
    assert.match(await metrics.registry.metrics(), /socat_relay_watch_restarts_total\{resource="relays"\} 1\n/);
  },
);

test(
  'namespace labels come from the namespace informer; an unseen namespace is undefined',
  { timeout: 15_000 },
  async (t) => {
    const ns = (name: string, labels: Record<string, string>) => ({
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: { name, resourceVersion: '3', labels },
    });
    const fake = await fakeRelayApi({
      list: '/api/v1/namespaces',
      failFirstWatch: false,
      items: [ns('monitoring', { 'kubernetes.io/metadata.name': 'monitoring', team: 'observability' })],
      events: [{ type: 'ADDED', object: ns('apps', { 'kubernetes.io/metadata.name': 'apps' }) }],
    });
    t.after(() => fake.close());
    const labels = new NamespaceLabels({ kc: kubeConfigFor(fake.url), log: silentLogger });
    await labels.start();
    t.after(() => labels.stop());
    while (labels.labels('apps') === undefined) await new Promise((r) => setImmediate(r));
    assert.equal(labels.synced(), true);
    assert.deepEqual(labels.labels('monitoring'), {
      'kubernetes.io/metadata.name': 'monitoring',
      team: 'observability',
    });
    assert.equal(labels.labels('ghost'), undefined);
  },
);

test(
  'a watch that goes silent is aborted after its own idle timeout, reconnected and counted; a quiet healthy watch is not',
  { timeout: 15_000 },
  async (t) => {
    const fake = await fakeRelayApi({
      list: '/apis/socat.io/v1alpha1/relays',
      items: [relay('kube-scheduler', '5')],
      failFirstWatch: false,
      silentFirstWatch: true,
      bookmarkEveryMs: 100,
      events: [{ type: 'ADDED', object: relay('etcd-metrics', '11') }],
    });
    t.after(() => fake.close());
    const metrics = createMetrics();
    const catalog = new InformerRelayCatalog({
      kc: kubeConfigFor(fake.url),
      log: silentLogger,
      watchTimeouts: { serverSeconds: 7, idleMs: 400 },
      onRestart: (resource) => metrics.watchRestarts.inc({ resource }),
    });
    const added = new Promise<void>((resolve) =>
      catalog.subscribe((e) => {
        if (e.relay.metadata.name === 'etcd-metrics') resolve();
      }),
    );
    const t0 = Date.now();
    await catalog.start();
    t.after(() => catalog.stop());
    await added;
    assert.ok(Date.now() - t0 >= 350, 'the silent watch was given its idle timeout before being aborted');
    // The second watch stays quiet apart from bookmarks: it must not be aborted.
    await new Promise((r) => setTimeout(r, 1200));
    assert.equal(fake.watches, 2, 'one silent watch, then one healthy watch kept open');
    assert.match(await metrics.registry.metrics(), /socat_relay_watch_restarts_total\{resource="relays"\} 1\n/);
    for (const q of fake.watchQueries) {
      assert.equal(q.get('timeoutSeconds'), '7', 'every watch asks the API server to end it in time');
      assert.equal(q.get('allowWatchBookmarks'), 'true');
    }
    assert.deepEqual(
      catalog
        .list()
        .map((r) => r.metadata.name)
        .sort(),
      ['etcd-metrics', 'kube-scheduler'],
    );
  },
);
