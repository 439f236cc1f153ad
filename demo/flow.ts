// The whole flow on one machine, through a real API server:
//   Relay applied → the controller's reconcile writes the node config → the node agent (real process)
//   starts socat → a labeled pod is admitted and mutated by our webhook → the sidecar command from the
//   mutated pod runs in a network namespace → an HTTP request from that namespace reaches a service
//   that listens only on the node's loopback.
// Used by `npm run demo` (demo/main.ts) and by test/apiserver/flow.test.ts. Every resource it starts
// is stopped in reverse order, whatever happens.
import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import {
  applyAll,
  findBinaries,
  installCrds,
  policyManifests,
  registerWebhooks,
  startControlPlane,
  startController,
  waitFor,
  waitUntilWebhookCalled,
  type KubeObject,
} from '../test/harness/index.js';
import {
  CONSUME_LABEL,
  INJECTED_ANNOTATION,
  sidecarName,
  type RelayNodeEntry,
  type RelayStatus,
} from '../relay/index.js';
import { requestThroughSidecar, runWithNodeService, startAgent, type Reporter } from './parts.js';
import type { PodLike } from './pod-runner.js';

export type { Reporter } from './parts.js';

export interface FlowOptions {
  reporter: Reporter;
  /** Network-namespace name prefix (unique per caller). */
  netnsPrefix: string;
  nodeName?: string;
  relayName?: string;
  namespace?: string;
}

export interface FlowResult {
  ok: boolean;
  /** Whether the node service's port answered directly from the pod's namespace (it must not). */
  directReachable?: boolean;
  /** The HTTP response body that came back into the pod's namespace. */
  body?: string;
  error?: Error;
  /** The pod as the API server returned it (mutated). */
  pod?: DemoPod;
  relay?: DemoRelay;
  /** The node's RelayNode (its relays' states there). */
  relayNode?: DemoRelayNode;
}

/** What the demo reads of the pod and the Relay the API server returns. */
export type DemoPod = KubeObject & {
  spec: { initContainers?: { name: string; image?: string; restartPolicy?: string }[]; [k: string]: unknown };
};
type DemoRelay = KubeObject & { status?: RelayStatus };
type DemoRelayNode = KubeObject & { status?: { relays?: RelayNodeEntry[] } };

export async function runFlow(opts: FlowOptions): Promise<FlowResult> {
  const r = opts.reporter;
  const nodeName = opts.nodeName ?? 'demo-node';
  const relayName = opts.relayName ?? 'node-http';
  const namespace = opts.namespace ?? 'consumers';
  return runWithNodeService(r, async (svc, cleanups, result) => {
    r.step('start etcd + kube-apiserver (real binaries from .testbin/)');
    const bins = findBinaries();
    if (!bins) throw new Error('kube-apiserver/etcd missing');
    const cp = await startControlPlane({ binaries: bins, namespaces: [namespace] });
    cleanups.push(() => cp.stop());
    const api = cp.client;
    const version = await api.request<{ gitVersion: string }>('GET', '/version');
    r.info(`API server ${version.gitVersion} at ${cp.url}; kubeconfig ${cp.kubeconfigPath}`);

    r.step('install the real manifests: Relay CRD, ValidatingAdmissionPolicy (+ binding), and a Node');
    await installCrds(api);
    // The policy knows the socket folder (variables.socketRoot): this node's is under the temp dir.
    await applyAll(api, policyManifests(path.join(cp.dir, 'node', 'run')));
    await api.apply({
      apiVersion: 'v1',
      kind: 'Node',
      metadata: { name: nodeName, labels: { 'kubernetes.io/hostname': nodeName, 'kubernetes.io/os': 'linux' } },
    });
    r.info(`CRD relays.socat.io Established; node ${nodeName} registered`);

    r.step('start the controller (socat-relay controller: webhook + node reconcile) and register its webhooks');
    const configDir = path.join(cp.dir, 'node', 'relays.d');
    const socketDir = path.join(cp.dir, 'node', 'run');
    mkdirSync(configDir, { recursive: true });
    mkdirSync(socketDir, { recursive: true });
    const ctl = await startController({
      kubeconfigPath: cp.kubeconfigPath,
      dir: cp.dir,
      nodeName,
      reconcile: true,
      configDir,
      socketDir,
      env: { SOCAT_RELAY_SIDECAR_MODE: 'auto' },
    });
    cleanups.push(() => ctl.stop());
    await registerWebhooks(api, { baseUrl: ctl.baseUrl, caBundle: ctl.certs.caBundle });
    r.info(`webhook at ${ctl.baseUrl} (/mutate-pods, /validate-relays), caBundle from certs/`);

    r.step(`apply Relay ${relayName} → 127.0.0.1:${svc.port}; the reconcile writes the node config`);
    const relay: KubeObject = {
      apiVersion: 'socat.io/v1alpha1',
      kind: 'Relay',
      metadata: { name: relayName },
      spec: {
        target: { host: '127.0.0.1', port: svc.port },
        listen: { port: 8080 },
        consumers: { namespaces: [namespace] },
      },
    };
    // The validating webhook (failurePolicy Fail) may not be live yet: retry until the API server takes it.
    await waitFor('the Relay to be accepted', () => api.apply(relay).then(() => true), {
      timeoutMs: 20_000,
      intervalMs: 250,
    });
    const configFile = path.join(configDir, `${relayName}.json`);
    await waitFor(`the reconcile to write ${configFile}`, () => existsSync(configFile), { timeoutMs: 20_000 });
    r.info(`wrote ${configFile}`);

    r.step('start the node agent (socat-relay agent, a real process); it starts socat on the relay socket');
    const { socket: sock } = await startAgent({ configDir, socketDir, relay: relayName, logDir: cp.dir }, cleanups);
    r.info(`socat listens on ${sock}`);

    r.step(`create a pod labeled ${CONSUME_LABEL}=${relayName}; the API server calls our webhook`);
    const pod: DemoPod = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'scraper', namespace, labels: { app: 'scraper', [CONSUME_LABEL]: relayName } },
      spec: { containers: [{ name: 'main', image: 'registry.k8s.io/e2e-test-images/agnhost:2.53', args: ['pause'] }] },
    };
    // The mutating webhook fails open: until the API server has loaded it, the policy denies the pod.
    await waitUntilWebhookCalled('the pod webhook', async () => {
      const dry = await api.create(pod, { dryRun: true }).catch(() => undefined);
      return dry?.metadata.annotations?.[INJECTED_ANNOTATION] !== undefined;
    });
    const created = await api.create(pod);
    result.pod = created;
    const sc = sidecarName(relayName);
    const where = created.spec.initContainers?.some((c) => c.name === sc)
      ? 'initContainers (native sidecar)'
      : 'containers';
    r.info(
      `admitted with sidecar ${sc} in ${where}; annotation ${INJECTED_ANNOTATION}=${created.metadata.annotations?.[INJECTED_ANNOTATION]}`,
    );

    const res = await requestThroughSidecar(
      r,
      opts.netnsPrefix,
      created as unknown as PodLike,
      sc,
      svc,
      cleanups,
      'mutated',
    );
    result.directReachable = res.directReachable;
    result.body = res.body;
    result.ok = res.ok;

    r.step("the status: the node's RelayNode (its reconcile) and the Relay's summary (the elected controller)");
    try {
      const relayNode = await waitFor(
        'RelayNode',
        async () => {
          const got = await api.getOrUndefined<DemoRelayNode>('socat.io/v1alpha1', 'RelayNode', nodeName);
          return got?.status?.relays?.some((e) => e.name === relayName && e.ready) ? got : undefined;
        },
        { timeoutMs: 15_000 },
      );
      result.relayNode = relayNode;
      for (const e of relayNode.status?.relays ?? [])
        r.info(
          `node ${nodeName}: relay ${e.name} ready=${e.ready} state=${e.state}${e.message ? ` (${e.message})` : ''}`,
        );
      const summary = await waitFor(
        'the Relay summary',
        async () => {
          const got = await api.get<DemoRelay>('socat.io/v1alpha1', 'Relay', relayName);
          return got.status?.ready === '1/1' ? got : undefined;
        },
        { timeoutMs: 30_000 },
      );
      result.relay = summary;
      r.info(`kubectl get relays: READY ${summary.status?.ready ?? '?'}`);
    } catch (err) {
      r.info(`no ready node in status yet: ${(err as Error).message}`);
    }
  });
}
