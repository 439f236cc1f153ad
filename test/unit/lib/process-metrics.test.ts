// lib/process-metrics.ts: every daemon's registry exports the Node.js process metrics the dashboard
// reads, and a stall of the event loop still shows in them with the coarser lag sampling.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Registry } from 'prom-client';
import { collectProcessMetrics } from '../../../lib/process-metrics.js';
import { createMetrics } from '../../../webhook/metrics.js';
import { AgentMetrics } from '../../../node-agent/metrics.js';
import { CsiMetrics } from '../../../node-agent/csi/metrics.js';

async function value(registry: Registry, name: string): Promise<number> {
  const m = (await registry.getMetricsAsJSON()).find((x) => x.name === name);
  assert.ok(m, `${name} is exported`);
  return Number((m.values as { value: number }[])[0]!.value);
}

test('the controller, the agent and the CSI plugin export the event-loop lag the dashboard reads', async () => {
  const registries = {
    controller: createMetrics({ defaultMetrics: true }).registry,
    agent: new AgentMetrics(new Registry()).registry,
    csi: new CsiMetrics(new Registry()).registry,
  };
  for (const [daemon, r] of Object.entries(registries)) {
    const names = (await r.getMetricsAsJSON()).map((m) => m.name);
    for (const n of ['nodejs_eventloop_lag_p99_seconds', 'process_resident_memory_bytes', 'process_cpu_seconds_total'])
      assert.ok(names.includes(n), `${daemon}: ${n}`);
  }
});

test('a 300 ms stall of the event loop shows in nodejs_eventloop_lag_max_seconds', async () => {
  const r = new Registry();
  collectProcessMetrics(r);
  // Collecting resets the histogram, and its first sample after a reset only starts the next interval:
  // sample once more before the stall.
  await value(r, 'nodejs_eventloop_lag_max_seconds');
  await new Promise((res) => setTimeout(res, 250));
  const until = Date.now() + 300;
  while (Date.now() < until); // the stall: nothing else runs
  await new Promise((res) => setTimeout(res, 250));
  const max = await value(r, 'nodejs_eventloop_lag_max_seconds');
  assert.ok(max >= 0.19, `max lag ${max} s after a 300 ms stall`);
});
