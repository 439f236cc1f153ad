// The full flow on one machine (demo/flow.ts, also `npm run demo`): Relay → reconcile → node agent →
// labeled pod admitted and mutated by our webhook → its sidecar command in a network namespace → an
// HTTP request from that namespace reaches a service listening only on the node's loopback.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runFlow } from '../../demo/flow.js';
import { runOfflineFlow } from '../../demo/offline.js';
import { GREETING } from '../../demo/node-service.js';
import { skipUnlessControlPlane } from '../harness/index.js';
import { netnsUnavailable } from '../harness/netns.js';
import { required } from '../harness/required.js';

const skip = skipUnlessControlPlane() || required(netnsUnavailable());

test(
  "a request from a labeled pod's network namespace reaches the node's loopback-only service through the relay",
  { skip, timeout: 180_000 },
  async () => {
    const steps: string[] = [];
    const res = await runFlow({
      reporter: { step: (s) => steps.push(s), info: (l) => steps.push(`  ${l}`) },
      netnsPrefix: 'sr-flowtest',
    });
    const transcript = steps.join('\n');
    assert.equal(res.error, undefined, `${res.error?.stack}\n${transcript}`);
    assert.equal(
      res.directReachable,
      false,
      'the node service is not reachable from the pod namespace without the relay',
    );
    assert.match(res.body ?? '', new RegExp(GREETING));
    assert.ok(
      res.pod?.spec.initContainers?.some(
        (c: { name: string; restartPolicy?: string }) => c.name === 'socat-node-http' && c.restartPolicy === 'Always',
      ),
      'native sidecar',
    );
    assert.ok(
      res.relayNode?.status?.relays?.some(
        (e: { name: string; ready: boolean; state: string }) =>
          e.name === 'node-http' && e.ready && e.state === 'Running',
      ),
      `RelayNode: ${JSON.stringify(res.relayNode?.status)}`,
    );
    assert.equal(res.relay?.status?.ready, '1/1', `status: ${JSON.stringify(res.relay?.status)}`);
    assert.equal(res.ok, true, transcript);
  },
);

// What `npm run demo` falls back to without the Go-built API server: same agent, socat and netns, the
// pod made by `socat-relay inject`. Runs everywhere network namespaces can be made.
test(
  'the offline flow (no API server) also carries the request through the relay',
  { skip: required(netnsUnavailable()), timeout: 60_000 },
  async () => {
    const steps: string[] = [];
    const res = await runOfflineFlow({
      reporter: { step: (s) => steps.push(s), info: (l) => steps.push(`  ${l}`) },
      netnsPrefix: 'sr-flowoff',
    });
    const transcript = steps.join('\n');
    assert.equal(res.error, undefined, `${res.error?.stack}\n${transcript}`);
    assert.equal(res.directReachable, false);
    assert.match(res.body ?? '', new RegExp(GREETING));
    assert.equal(res.ok, true, transcript);
  },
);
