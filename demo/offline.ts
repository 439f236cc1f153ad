// The flow without an API server (where kube-apiserver/etcd could not be built: no Go): the Relay file
// is dropped into the agent's config folder by hand (what the reconcile would write), `socat-relay
// inject` (the webhook's admission code, offline) makes the pod, and the rest is the same as flow.ts:
// real agent, real socat, the sidecar command in a network namespace, a request from inside.
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { stringify } from 'yaml';
import { configFileName, CONSUME_LABEL, INJECTED_ANNOTATION, parseDocuments, sidecarName } from '../relay/index.js';
import { registerCleanup, REPO_ROOT } from '../test/harness/index.js';
import { Cleanups, requestThroughSidecar, runWithNodeService, startAgent, type Reporter } from './parts.js';
import type { PodLike } from './pod-runner.js';
import type { FlowResult } from './flow.js';

function inject(args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', path.join(REPO_ROOT, 'cli', 'main.ts'), 'inject', ...args],
      { cwd: REPO_ROOT, timeout: 60_000 },
      (err, stdout, stderr) => {
        if (err) reject(new Error(`socat-relay inject failed: ${stderr.trim() || err.message}`));
        else resolve(stdout);
      },
    );
  });
}

export async function runOfflineFlow(opts: {
  reporter: Reporter;
  netnsPrefix: string;
  relayName?: string;
  namespace?: string;
}): Promise<FlowResult> {
  const r = opts.reporter;
  const relayName = opts.relayName ?? 'node-http';
  const namespace = opts.namespace ?? 'consumers';
  const cleanups = new Cleanups();
  const dir = mkdtempSync(path.join(os.tmpdir(), 'socat-relay-demo-'));
  const unregisterDir = registerCleanup(() => rmSync(dir, { recursive: true, force: true }));
  cleanups.push(() => {
    rmSync(dir, { recursive: true, force: true });
    unregisterDir();
  });
  return runWithNodeService(
    r,
    async (svc, cleanups, result) => {
      r.step(
        `write Relay ${relayName} → 127.0.0.1:${svc.port} into the node's config folder (what the reconcile would do)`,
      );
      const configDir = path.join(dir, 'relays.d');
      const socketDir = path.join(dir, 'run');
      mkdirSync(configDir, { recursive: true });
      mkdirSync(socketDir, { recursive: true });
      const relay = {
        apiVersion: 'socat.io/v1alpha1',
        kind: 'Relay',
        metadata: { name: relayName },
        spec: {
          target: { host: '127.0.0.1', port: svc.port },
          listen: { port: 8080 },
          consumers: { namespaces: [namespace] },
        },
      };
      writeFileSync(path.join(configDir, configFileName(relayName)), JSON.stringify(relay, null, 2));
      const relaysFile = path.join(dir, 'relays.yaml');
      writeFileSync(relaysFile, stringify(relay));
      r.info(`wrote ${path.join(configDir, configFileName(relayName))}`);

      r.step('start the node agent (socat-relay agent, a real process); it starts socat on the relay socket');
      const { socket } = await startAgent({ configDir, socketDir, relay: relayName, logDir: dir }, cleanups);
      r.info(`socat listens on ${socket}`);

      r.step(
        `inject the sidecar offline: socat-relay inject -f pod.yaml --relays relays.yaml (pod labeled ${CONSUME_LABEL}=${relayName})`,
      );
      const podFile = path.join(dir, 'pod.yaml');
      writeFileSync(
        podFile,
        stringify({
          apiVersion: 'v1',
          kind: 'Pod',
          metadata: { name: 'scraper', namespace, labels: { app: 'scraper', [CONSUME_LABEL]: relayName } },
          spec: {
            containers: [{ name: 'main', image: 'registry.k8s.io/e2e-test-images/agnhost:2.53', args: ['pause'] }],
          },
        }),
      );
      const out = await inject(['-f', podFile, '--relays', relaysFile, '--socket-dir', socketDir]);
      const pod = parseDocuments(out, 'inject output')[0] as FlowResult['pod'];
      result.pod = pod;
      const sc = sidecarName(relayName);
      r.info(
        `sidecar ${sc} injected; annotation ${INJECTED_ANNOTATION}=${pod?.metadata.annotations?.[INJECTED_ANNOTATION]}`,
      );

      const res = await requestThroughSidecar(
        r,
        opts.netnsPrefix,
        pod as unknown as PodLike,
        sc,
        svc,
        cleanups,
        'injected',
      );
      result.directReachable = res.directReachable;
      result.body = res.body;
      result.ok = res.ok;
    },
    cleanups,
  );
}
