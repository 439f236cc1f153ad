// The static-pod manifest of the node agent: a valid Pod (kubernetes-models schema) with what the
// agent relies on: host network, node-critical priority, no API credentials, the two hostPaths, a
// loopback liveness probe on the agent's /healthz, CHOWN as the only capability, and args the agent
// command accepts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { Pod } from 'kubernetes-models/v1/Pod';
import { DEFAULT_CONFIG_DIR, DEFAULT_SOCKET_DIR, DEFAULT_SOCKET_GID } from '../../../relay/index.js';
import { parseListen } from '../../../node-agent/http.js';

const FILE = path.resolve(import.meta.dirname, '../../../manifests/node-agent/static-pod.yaml');

const pod = parse(readFileSync(FILE, 'utf8'));
const agent = pod.spec.containers[0];
const arg = (name: string): string | undefined =>
  (agent.args as string[]).find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);

test('static pod: a valid Pod by the Kubernetes schema', () => {
  assert.doesNotThrow(() => new Pod(pod).validate());
});

test('static pod: host network, system-node-critical, no service account token', () => {
  assert.equal(pod.spec.hostNetwork, true);
  assert.equal(pod.spec.priorityClassName, 'system-node-critical');
  assert.equal(pod.spec.automountServiceAccountToken, false);
  assert.equal(pod.spec.serviceAccountName, undefined);
});

test('static pod: runs `agent` with the shared image, config folder, socket folder, socket group and listen address', () => {
  assert.equal(agent.image, 'ghcr.io/socat-relay/socat-relay:0.1.0');
  assert.equal(agent.args[0], 'agent');
  assert.equal(arg('config-dir'), DEFAULT_CONFIG_DIR);
  assert.equal(arg('socket-dir'), DEFAULT_SOCKET_DIR);
  assert.equal(Number(arg('socket-gid')), DEFAULT_SOCKET_GID);
  assert.deepEqual(parseListen(arg('listen')!), { host: '127.0.0.1', port: 9465 });
});

test("static pod: the liveness probe asks the agent's /healthz on the node loopback", () => {
  assert.deepEqual(agent.livenessProbe.httpGet, { host: '127.0.0.1', port: 9465, path: '/healthz' });
});

test('static pod: config hostPath mounted read-only, socket hostPath read-write, at the same paths as on the node; the readiness file in a volume of its own', () => {
  const vols = Object.fromEntries(
    pod.spec.volumes.map((v: { name: string; hostPath?: { path: string } }) => [
      v.name,
      v.hostPath?.path ?? 'emptyDir',
    ]),
  );
  const mounts = Object.fromEntries(
    agent.volumeMounts.map((m: { name: string; mountPath: string; readOnly?: boolean }) => [
      m.mountPath,
      { vol: vols[m.name], ro: m.readOnly === true },
    ]),
  );
  assert.deepEqual(mounts, {
    [DEFAULT_CONFIG_DIR]: { vol: DEFAULT_CONFIG_DIR, ro: true },
    [DEFAULT_SOCKET_DIR]: { vol: DEFAULT_SOCKET_DIR, ro: false },
    '/run/agent-ready': { vol: 'emptyDir', ro: false },
  });
  // Its readiness is that file, which the agent writes (--ready-file) once every socket is in place.
  assert.ok(agent.args.includes('--ready-file=/run/agent-ready/ready'));
  assert.deepEqual(agent.readinessProbe.exec.command, [
    'socat',
    '-u',
    'OPEN:/run/agent-ready/ready,rdonly',
    'OPEN:/dev/null,wronly',
  ]);
});

test('static pod: root with every capability dropped but CHOWN, no privilege escalation, read-only root filesystem', () => {
  const sc = agent.securityContext;
  assert.equal(sc.runAsUser, 0);
  assert.deepEqual(sc.capabilities, { drop: ['ALL'], add: ['CHOWN'] });
  assert.equal(sc.allowPrivilegeEscalation, false);
  assert.equal(sc.readOnlyRootFilesystem, true);
  assert.equal(sc.privileged, undefined);
  assert.ok(agent.resources.requests.memory && agent.resources.limits.memory);
});
