// One real node for the whole suite: the test API server, our manifests (CRD, policy, webhooks), the
// controller as a process (webhook + this node's reconcile), containerd + kubelet, and the agent as a
// static pod from manifests/node-agent/static-pod.yaml — what a user's control-plane node runs.
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { registerCleanup } from './cleanup.js';
import type { KubeObject } from './client.js';
import { createNamespace, POD_CONTROLLERS, startControlPlane, type ControlPlane } from './controlplane.js';
import { startController, type RunningController } from './controller.js';
import { applyAll, installCrds, policyManifests } from './manifests.js';
import { startNode, type TestNode } from './node.js';
import { freePort } from './ports.js';
import { startScheduler } from './scheduler.js';
import { waitFor } from './wait.js';
import { registerWebhooks, waitUntilWebhookCalled } from './webhooks.js';
import { agentStatusPath, CONSUME_LABEL, INJECTED_ANNOTATION } from '../../relay/index.js';
import { findRelaySocket } from './relay-socket.js';
import { DEFAULT_KUBELET_ROOT, readStaticPod, rewriteStaticPod } from './node-static-pod.js';

const AGENT_POD_FILE = 'socat-relay-agent.yaml';
export const AGENT_POD = 'socat-relay-agent';
/** The loopback ports manifests/node-agent/static-pod.yaml gives the agent and the CSI plugin. */
export const AGENT_PORT = 9465;
const CSI_HEALTH_PORT = 9466;

type AnyObj = KubeObject & Record<string, any>;

export interface Cluster {
  cp: ControlPlane;
  node: TestNode;
  controller: RunningController;
  /** Host folders the agent's static pod uses instead of /etc/socat-relay/relays.d and /run/socat-relay. */
  configDir: string;
  socketDir: string;
  /** The mirror pod's name (static pod name + "-" + node name). */
  agentMirrorPod: string;
  /**
   * The host-loopback ports the static pod's listeners use here instead of the manifest's (the agent's
   * 9465, the CSI plugin's 9466): free ports, so a real agent on this machine or another test node
   * keeps its own.
   */
  ports: { agent: number; csi: number };
  /**
   * Restarts the controller on the same port with the same certificates (the registered webhooks
   * keep working) and these settings added, e.g. SOCAT_RELAY_VOLUME_SOURCE=csi.
   */
  restartController(env: Record<string, string>): Promise<void>;
  stop(): Promise<void>;
}

/**
 * The controller-manager's controllers for workloads: what pods need (POD_CONTROLLERS), the token
 * Secrets of type service-account-token, DaemonSets, Deployments and their ReplicaSets, and the garbage
 * collector (a deleted workload takes its pods with it).
 */
export const WORKLOAD_CONTROLLERS = [
  ...POD_CONTROLLERS,
  'serviceaccount-token-controller',
  'daemonset-controller',
  'deployment-controller',
  'replicaset-controller',
  'garbage-collector-controller',
];

/** What kubeadm's mark-control-plane phase puts on a control-plane Node. */
export const CONTROL_PLANE_LABEL = 'node-role.kubernetes.io/control-plane';
export const CONTROL_PLANE_TAINT = { key: CONTROL_PLANE_LABEL, effect: 'NoSchedule' } as const;

export interface ClusterOptions {
  namespaces: { name: string; labels?: Record<string, string> }[];
  nodeName?: string;
  /**
   * kube-controller-manager's controllers (default POD_CONTROLLERS; WORKLOAD_CONTROLLERS for DaemonSets,
   * Deployments, …).
   */
  controllers?: string[];
  /** Runs a real kube-scheduler, for pods that do not name their node (those workload controllers make). */
  scheduler?: boolean;
  /**
   * Makes the node a kubeadm control-plane node: the label node-role.kubernetes.io/control-plane="" and
   * the taint node-role.kubernetes.io/control-plane:NoSchedule, patched onto the Node as kubeadm does
   * (the kubelet may not set node-role labels itself). Pods bound by spec.nodeName are not affected:
   * the kubelet checks only NoExecute taints.
   */
  controlPlaneNode?: boolean;
  /** Told each step as it begins (the demo prints them). */
  onStep?: (title: string) => void;
}

export async function startCluster(o: ClusterOptions): Promise<Cluster> {
  const step = o.onStep ?? (() => undefined);
  const stops: (() => Promise<void>)[] = [];
  const dir = mkdtempSync(path.join(os.tmpdir(), 'socat-relay-cluster-'));
  const unregisterDir = registerCleanup(() => rmSync(dir, { recursive: true, force: true }));
  const stop = async () => {
    const errors: unknown[] = [];
    for (const s of stops.splice(0).reverse()) await s().catch((e: unknown) => errors.push(e));
    rmSync(dir, { recursive: true, force: true });
    unregisterDir();
    if (errors.length) throw errors[0];
  };
  try {
    step('start etcd + kube-apiserver; apply the Relay CRD and the ValidatingAdmissionPolicy');
    const cp = await startControlPlane({ controllers: o.controllers });
    stops.push(() => cp.stop());
    for (const ns of o.namespaces) await createNamespace(cp.client, ns.name, ns.labels);
    await installCrds(cp.client);
    // The consumers' hostPath is the node's socket folder, here in the temp folder: the policy checks it.
    const configDir = path.join(dir, 'etc', 'socat-relay', 'relays.d');
    const socketDir = path.join(dir, 'run', 'socat-relay');
    mkdirSync(configDir, { recursive: true });
    mkdirSync(socketDir, { recursive: true });
    await applyAll(cp.client, policyManifests(socketDir));

    step('start a real node: containerd + kubelet (the image the Dockerfile builds, imported into containerd)');
    const node = await startNode({ controlPlane: cp, nodeName: o.nodeName ?? 'e2e-node', alsoRemove: [dir] });
    stops.push(() => node.stop());
    if (o.controlPlaneNode) {
      await cp.client.request('PATCH', `/api/v1/nodes/${node.name}`, {
        body: {
          metadata: {
            labels: { [CONTROL_PLANE_LABEL]: '', 'node.kubernetes.io/exclude-from-external-load-balancers': '' },
          },
          spec: { taints: [CONTROL_PLANE_TAINT] },
        },
        contentType: 'application/merge-patch+json',
      });
    }
    if (o.scheduler) {
      step('start kube-scheduler');
      const scheduler = await startScheduler(cp, { logDir: dir });
      stops.push(() => scheduler.stop());
    }

    step("start the controller (webhook + this node's reconcile) and register its webhooks");
    const controllerOptions = {
      kubeconfigPath: cp.kubeconfigPath,
      dir,
      nodeName: node.name,
      reconcile: true,
      configDir,
      socketDir,
      env: {
        SOCAT_RELAY_IMAGE: node.image.image,
        SOCAT_RELAY_SIDECAR_IMAGE: node.image.sidecarImage,
        SOCAT_RELAY_SIDECAR_MODE: 'native',
      },
    };
    let controller = await startController(controllerOptions);
    stops.push(() => controller.stop());
    await registerWebhooks(cp.client, { baseUrl: controller.baseUrl, caBundle: controller.certs.caBundle });

    step("the agent as a static pod: manifests/node-agent/static-pod.yaml into the kubelet's folder");
    const ports = { agent: await freePort(), csi: await freePort() };
    const pod = rewriteStaticPod(readStaticPod(), {
      image: node.image.image,
      ports: { [AGENT_PORT]: ports.agent, [CSI_HEALTH_PORT]: ports.csi },
      paths: [
        { from: '/etc/socat-relay', to: path.join(dir, 'etc', 'socat-relay') },
        { from: '/run/socat-relay', to: socketDir },
        { from: DEFAULT_KUBELET_ROOT, to: node.dirs.kubeletRoot, samePathInside: true },
      ],
    });
    node.writeStaticPod(AGENT_POD_FILE, pod);
    const agentMirrorPod = `${pod.metadata.name}-${node.name}`;
    const cluster: Cluster = {
      cp,
      node,
      controller,
      configDir,
      socketDir,
      agentMirrorPod,
      ports,
      stop,
      async restartController(env) {
        const { port, certs } = controller;
        await controller.stop();
        controller = await startController({
          ...controllerOptions,
          port,
          certs,
          env: { ...controllerOptions.env, ...env },
        });
        cluster.controller = controller;
      },
    };
    await waitForPodRunning(cluster, 'kube-system', agentMirrorPod, 120_000);
    await waitFor('the agent status file', () => existsSync(agentStatusPath(socketDir)), { timeoutMs: 60_000 });
    return cluster;
  } catch (err) {
    await stop().catch(() => undefined);
    throw err;
  }
}

/** Waits until every container (and native sidecar) of the pod is running and ready-or-started. */
export async function waitForPodRunning(
  c: Cluster,
  namespace: string,
  name: string,
  timeoutMs = 90_000,
): Promise<AnyObj> {
  try {
    return await waitFor(
      `pod ${namespace}/${name} running`,
      async () => {
        const p = await c.cp.client.getOrUndefined<AnyObj>('v1', 'Pod', name, namespace);
        if (!p || p.status?.phase !== 'Running') return undefined;
        // Our pods' init containers are all native sidecars: they run beside the app.
        const all = [...(p.status.containerStatuses ?? []), ...(p.status.initContainerStatuses ?? [])];
        return all.length > 0 && all.every((s: AnyObj) => s.state?.running) ? p : undefined;
      },
      { timeoutMs, intervalMs: 500 },
    );
  } catch (err) {
    const p = await c.cp.client.getOrUndefined<AnyObj>('v1', 'Pod', name, namespace).catch(() => undefined);
    const events = await c.cp.client.list<AnyObj>('v1', 'Event', namespace).catch(() => []);
    const evs = events
      .filter((e) => e.involvedObject?.name === name)
      .map((e) => `${e.reason}: ${e.message}`)
      .join('\n');
    throw new Error(
      `${(err as Error).message}\nstatus: ${JSON.stringify(p?.status)}\nevents:\n${evs}\n${c.node.logs(30)}`,
      { cause: err },
    );
  }
}

/**
 * A pod bound to the test node (no scheduler), running the project's image as the app — Node.js kept
 * alive (the image has no shell or `sleep`); tests exec `socat` or `node` in it.
 */
export function consumerPod(
  c: Cluster,
  o: { name: string; namespace: string; relay?: string; moreRelays?: string[] },
): AnyObj {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: o.name,
      namespace: o.namespace,
      labels: { app: o.name, ...(o.relay ? { [CONSUME_LABEL]: o.relay } : {}) },
      ...(o.moreRelays ? { annotations: { [CONSUME_LABEL]: o.moreRelays.join(',') } } : {}),
    },
    spec: {
      nodeName: c.node.name,
      enableServiceLinks: false,
      terminationGracePeriodSeconds: 1,
      securityContext: {
        runAsUser: 65532,
        runAsGroup: 65532,
        runAsNonRoot: true,
        seccompProfile: { type: 'RuntimeDefault' },
      },
      containers: [
        {
          name: 'app',
          image: c.node.image.image,
          imagePullPolicy: 'Never',
          command: ['node', '-e', 'setInterval(() => undefined, 1 << 30)'],
          securityContext: {
            readOnlyRootFilesystem: true,
            allowPrivilegeEscalation: false,
            capabilities: { drop: ['ALL'] },
          },
        },
      ],
    },
  };
}

/** Creates a labeled pod once the API server calls our webhook (the policy denies it until then). */
export async function createConsumer(c: Cluster, pod: AnyObj): Promise<AnyObj> {
  await waitUntilWebhookCalled('the pod webhook', async () => {
    const dry = await c.cp.client.create(pod, { dryRun: true }).catch(() => undefined);
    return dry?.metadata.annotations?.[INJECTED_ANNOTATION] !== undefined;
  });
  return c.cp.client.create(pod);
}

export async function deletePod(c: Cluster, namespace: string, name: string): Promise<void> {
  await c.cp.client
    .request('DELETE', `/api/v1/namespaces/${namespace}/pods/${name}`, { query: { gracePeriodSeconds: '0' } })
    .catch(() => undefined);
  await waitFor(
    `pod ${namespace}/${name} gone`,
    async () => (await c.cp.client.getOrUndefined('v1', 'Pod', name, namespace)) === undefined,
    { timeoutMs: 60_000, intervalMs: 500 },
  );
}

/** Applies a Relay once the Relay webhook (fail closed) is live, and waits for the agent's socket. */
export async function applyRelay(c: Cluster, relay: AnyObj): Promise<string> {
  await waitFor(`Relay ${relay.metadata.name} accepted`, () => c.cp.client.apply(relay).then(() => true), {
    timeoutMs: 30_000,
    intervalMs: 250,
  });
  // The controller's node file carries the Relay's uid: the socket is <socketDir>/<relay>/<uid>/socket.
  return waitFor(
    `the agent to serve relay ${relay.metadata.name} under ${c.socketDir}`,
    () => findRelaySocket(c.socketDir, relay.metadata.name),
    { timeoutMs: 60_000, intervalMs: 250 },
  );
}
