// The agent pod's liveness probes, in every form the pod is installed: the static pod as
// `socat-relay static-pod` prints it, the DaemonSet `kubectl kustomize manifests/node-agent/` renders,
// and the DaemonSet the Helm chart renders. Each container is probed on the node's loopback (a
// hostNetwork pod) at the address its own flag serves /healthz on: the agent's --listen, the CSI
// plugin's --health-listen; and the CSI probe waits longer than the plugin's Probe deadline.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { parseCsiArgs } from '../../cli/csi.js';
import { staticPodManifest, STATIC_POD_RELATIVE } from '../../cli/static-pod.js';
import { DEFAULT_PROBE_TIMEOUT_MS } from '../../node-agent/csi/health.js';
import { parseListen } from '../../node-agent/http.js';
import { helmTemplate } from '../harness/chart.js';
import { kustomize, MANIFESTS, REPO } from '../harness/manifest-load.js';
import { skipWithout } from '../harness/tools.js';

type Any = any;

const flag = (c: Any, name: string): string | undefined =>
  (c.args as string[]).find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);

/** The probes of one rendered agent pod spec, checked against the containers' own flags. */
function assertProbes(spec: Any, where: string): void {
  assert.equal(spec.hostNetwork, true, `${where}: hostNetwork, so 127.0.0.1 is the node's loopback`);
  const byName = Object.fromEntries(spec.containers.map((c: Any) => [c.name, c]));
  const agent = byName.agent;
  const csi = byName.csi;
  assert.ok(agent && csi, `${where}: containers agent and csi`);

  assert.deepEqual(parseListen(flag(agent, 'listen')!), { host: '127.0.0.1', port: 9465 }, `${where}: agent --listen`);
  assert.deepEqual(
    agent.livenessProbe.httpGet,
    { host: '127.0.0.1', port: 9465, path: '/healthz' },
    `${where}: agent probe`,
  );

  const args = parseCsiArgs(csi.args.slice(1), { NODE_NAME: 'n' });
  assert.ok(args !== 'help');
  assert.deepEqual(
    args.healthListen,
    { host: '127.0.0.1', port: 9466 },
    `${where}: csi --health-listen on the loopback`,
  );
  assert.deepEqual(
    csi.livenessProbe.httpGet,
    { host: '127.0.0.1', port: 9466, path: '/healthz' },
    `${where}: csi probe`,
  );
  const p = csi.livenessProbe;
  assert.deepEqual(
    {
      initialDelaySeconds: p.initialDelaySeconds,
      periodSeconds: p.periodSeconds,
      timeoutSeconds: p.timeoutSeconds,
      failureThreshold: p.failureThreshold,
    },
    { initialDelaySeconds: 10, periodSeconds: 10, timeoutSeconds: 5, failureThreshold: 3 },
    `${where}: csi probe timing`,
  );
  assert.ok(
    p.timeoutSeconds * 1000 > DEFAULT_PROBE_TIMEOUT_MS,
    `${where}: the HTTP probe outlasts the plugin's Probe deadline`,
  );
  assert.equal(csi.readinessProbe, undefined, `${where}: no readiness probe (the pod serves no Service)`);
  assert.equal(csi.ports, undefined, `${where}: no containerPort (nothing is exposed beyond the node)`);
}

test('the static pod (`socat-relay static-pod --image …`): both containers probed on the node loopback at their own addresses', () => {
  const text = staticPodManifest(
    readFileSync(path.join(REPO, STATIC_POD_RELATIVE), 'utf8'),
    'registry.example.com/socat-relay:1.2.3',
  );
  assertProbes(parse(text).spec, 'static pod');
});

test('a probe that does not match its flag, or a CSI container without one, is caught (the check does check)', () => {
  const fresh = () => parse(readFileSync(path.join(REPO, STATIC_POD_RELATIVE), 'utf8')).spec;
  const csiOf = (spec: Any) => spec.containers.find((c: Any) => c.name === 'csi');
  const wrongPort = fresh();
  csiOf(wrongPort).livenessProbe.httpGet.port = 9465;
  assert.throws(() => assertProbes(wrongPort, 'broken'), /broken: csi probe/);
  const none = fresh();
  delete csiOf(none).livenessProbe;
  assert.throws(() => assertProbes(none, 'broken'), TypeError);
  const offLoopback = fresh();
  csiOf(offLoopback).args = csiOf(offLoopback).args.map((a: string) =>
    a.replace('--health-listen=127.0.0.1:9466', '--health-listen=0.0.0.0:9466'),
  );
  assert.throws(() => assertProbes(offLoopback, 'broken'), /broken: csi --health-listen on the loopback/);
});

describe('the rendered agent DaemonSet', { skip: skipWithout('helm', 'kubectl') }, () => {
  test('kustomize (manifests/node-agent/): the same probes', async () => {
    const ds = (await kustomize(path.join(MANIFESTS, 'node-agent'))).find(
      (o) => o.kind === 'DaemonSet' && o.metadata.name === 'socat-relay-agent',
    );
    assert.ok(ds, 'the agent DaemonSet');
    assertProbes(ds.spec.template.spec, 'kustomize');
  });

  test('Helm (charts/socat-relay, defaults and with agent.resources set): the same probes', async () => {
    for (const set of [{}, { 'agent.resources.limits.memory': '1Gi', 'image.pullPolicy': 'Always' }] as Record<
      string,
      string
    >[]) {
      const ds = (await helmTemplate({ set })).find(
        (o) => o.kind === 'DaemonSet' && o.metadata.name === 'socat-relay-agent',
      );
      assert.ok(ds, 'the agent DaemonSet');
      assertProbes(ds.spec.template.spec, `helm ${JSON.stringify(set)}`);
    }
  });
});
