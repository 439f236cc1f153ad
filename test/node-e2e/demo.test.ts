// `npm run demo` on a real node (demo/node-flow.ts): the request from the app container of a pod the
// kubelet runs reaches the node's loopback-only HTTP service through the relay, and not directly.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runNodeFlow } from '../../demo/node-flow.js';
import { GREETING } from '../../demo/node-service.js';
import { nodeUnavailable, skipUnlessControlPlane } from '../harness/index.js';

const required = process.env.CI === 'true' || process.env.REQUIRE_APISERVER === '1';
const missing = skipUnlessControlPlane() || nodeUnavailable() || false;

test(
  "the demo's real-node flow: a pod run by the kubelet reaches the node's loopback service",
  { skip: missing && !required ? missing : false, timeout: 600_000 },
  async () => {
    if (missing) throw new Error(`the real-node demo is required here (CI/REQUIRE_APISERVER) but: ${missing}`);
    const steps: string[] = [];
    const res = await runNodeFlow({ reporter: { step: (s) => steps.push(s), info: (l) => steps.push(`  ${l}`) } });
    const transcript = steps.join('\n');
    assert.equal(res.error, undefined, `${res.error?.stack}\n${transcript}`);
    assert.equal(res.directReachable, false, transcript);
    assert.match(res.body ?? '', new RegExp(GREETING));
    assert.ok(
      res.pod?.spec.initContainers?.some((c: { restartPolicy?: string }) => c.restartPolicy === 'Always'),
      'native sidecar',
    );
    assert.equal(res.ok, true, transcript);
  },
);
