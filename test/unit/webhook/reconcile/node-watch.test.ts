// kubeNodeSource (a ResilientInformer on one Node) against a small HTTP stand-in for the API server
// that fails on purpose: the list fails once, the watch streams a label change, then fails; the source
// restarts with backoff, counts the restarts and keeps delivering labels. Asks only for its own node.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { silentLogger } from '../../../../lib/log.js';
import { kubeNodeSource } from '../../../../webhook/reconcile/kube.js';
import { waitFor } from '../../../harness/agent.js';
import { fakeApiServer } from '../../../harness/fake-apiserver.js';

const node = (rv: string, labels: Record<string, string>) => ({
  apiVersion: 'v1',
  kind: 'Node',
  metadata: { name: 'node-a', resourceVersion: rv, labels },
});

test('the node watch survives a failing list and a failing watch, restarting with backoff, and delivers every label change', async (t) => {
  const requests: string[] = [];
  let lists = 0;
  let watches = 0;
  const server = await fakeApiServer((_req, res, url) => {
    requests.push(`${url.pathname}?${url.searchParams.toString()}`);
    if (url.pathname !== '/api/v1/nodes') return void res.writeHead(404).end();
    if (url.searchParams.get('watch') !== 'true') {
      lists++;
      if (lists === 1)
        return void res.writeHead(500, { 'content-type': 'application/json' }).end('{"kind":"Status","code":500}');
      return void res.writeHead(200, { 'content-type': 'application/json' }).end(
        JSON.stringify({
          kind: 'NodeList',
          apiVersion: 'v1',
          metadata: { resourceVersion: '5' },
          items: [node('5', { zone: 'a' })],
        }),
      );
    }
    watches++;
    if (watches === 1) {
      // One event, then the stream fails mid-way (as when the API server restarts).
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write(`${JSON.stringify({ type: 'MODIFIED', object: node('6', { zone: 'b' }) })}\n`);
      setTimeout(() => res.destroy(), 50);
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' });
    res.write(`${JSON.stringify({ type: 'MODIFIED', object: node('9', { zone: 'c' }) })}\n`);
    t.after(() => res.destroy());
  });
  t.after(() => server.close());
  const kc = server.kubeConfig();
  const seen: string[] = [];
  let restarts = 0;
  const attempts: number[] = [];
  const src = kubeNodeSource(kc, 'node-a', {
    log: silentLogger,
    onRestart: () => restarts++,
    delayMs: (n) => {
      attempts.push(n);
      return 20;
    },
  });
  t.after(() => src.stop());
  await src.start((l) => seen.push(l.zone ?? '?'));
  await waitFor('labels a, b then c', () => seen.join(',') === 'a,b,c', 10_000);
  assert.ok(restarts >= 2, `restarts ${restarts}`);
  assert.equal(attempts[0], 1, 'the first retry is attempt 1 of the backoff');
  assert.ok(
    requests.every((r) => r.includes('fieldSelector=metadata.name%3Dnode-a')),
    `every request selects only this node: ${requests.join(' ')}`,
  );
  assert.ok(
    requests.filter((r) => r.includes('watch=true')).every((r) => /timeoutSeconds=\d+/.test(r)),
    `every watch has a timeout: ${requests.join(' ')}`,
  );
});
