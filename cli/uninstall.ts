// socat-relay uninstall [--namespace NS] [--daemonset FILE] …: the end of an uninstall, after the
// controllers and agents were deleted — what no `kubectl delete -k` or `helm uninstall` removes:
//   1. waits until no pod of socat-relay is left in the namespace (controllers, agents);
//   2. runs the node cleanup on every node: creates the DaemonSet socat-relay-node-cleanup
//      (manifests/uninstall/node-cleanup.yaml), waits until each of its pods has said what it removed,
//      deletes it;
//   3. deletes the controllers' Leases (label app.kubernetes.io/name=socat-relay), the Secrets
//      cert-manager made (socat-relay-ca, socat-relay-webhook-tls) and every RelayNode.
// The Helm chart runs it as a post-delete hook Job; with kustomize you run it (docs/install.md).
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import {
  AppsV1Api,
  CoordinationV1Api,
  CoreV1Api,
  CustomObjectsApi,
  KubeConfig,
  type V1DaemonSet,
} from '@kubernetes/client-node';
import { parse } from 'yaml';
import { RELAYNODE_PLURAL } from '../relay/index.js';
import { heldSchedule, sleep } from '../lib/clock.js';
import { parseOrExit, type CommandIO } from './io.js';

const USAGE = `usage: socat-relay uninstall [--namespace NS] [--daemonset FILE] [--image IMG] [--timeout SECONDS] [--skip-nodes]
  --namespace NS     the install's namespace (default: POD_NAMESPACE, else socat-relay-system)
  --daemonset FILE   the node-cleanup DaemonSet (default: manifests/uninstall/node-cleanup.yaml of this checkout;
                     the image has none: the chart's Job mounts it from a ConfigMap)
  --image IMG        run it with this image (default: the file's)
  --timeout SECONDS  for each wait (default 300)
  --skip-nodes       leave the nodes' folders (no node-cleanup DaemonSet)
Run it after the Relays, the agents and the controllers are deleted (docs/install.md, Uninstall).
Uses KUBECONFIG or the in-cluster ServiceAccount.
`;

const NAME_LABEL = 'app.kubernetes.io/name=socat-relay';
/** The Secrets cert-manager makes for the install (manifests/cert-manager/): no object of the install owns them. */
const CERT_MANAGER_SECRETS = ['socat-relay-ca', 'socat-relay-webhook-tls'];
const DONE_LINE = /^(removed .+|nothing to remove)( on \S+)?$/m;

/** The line a node-cleanup pod's log ends its work with (`socat-relay cleanup`'s report), if it has. */
export function cleanupDone(log: string): string | undefined {
  return DONE_LINE.exec(log)?.[0];
}

interface Args {
  namespace: string;
  daemonset: string | undefined;
  image: string | undefined;
  timeoutMs: number;
  nodes: boolean;
}

/** manifests/uninstall/node-cleanup.yaml above this module (a checkout, dist/; the image carries no manifests). */
function findCleanupManifest(from = path.dirname(fileURLToPath(import.meta.url))): string | undefined {
  for (let dir = from; ; dir = path.dirname(dir)) {
    const candidate = path.join(dir, 'manifests', 'uninstall', 'node-cleanup.yaml');
    if (existsSync(candidate)) return candidate;
    if (path.dirname(dir) === dir) return undefined;
  }
}

function parseUninstallArgs(args: string[], env: NodeJS.ProcessEnv): Args | 'help' {
  const { values } = parseArgs({
    args,
    options: {
      namespace: { type: 'string', short: 'n' },
      daemonset: { type: 'string' },
      image: { type: 'string' },
      timeout: { type: 'string', default: '300' },
      'skip-nodes': { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) return 'help';
  const timeout = Number(values.timeout);
  if (!/^\d+$/.test(values.timeout) || timeout < 1 || timeout > 3600)
    throw new Error(`--timeout must be a number of seconds from 1 to 3600, got "${values.timeout}"`);
  const namespace = values.namespace ?? env.POD_NAMESPACE ?? 'socat-relay-system';
  if (!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(namespace))
    throw new Error(`--namespace: not a namespace name: "${namespace}"`);
  return {
    namespace,
    daemonset: values.daemonset ?? findCleanupManifest(),
    image: values.image,
    timeoutMs: timeout * 1000,
    nodes: !values['skip-nodes'],
  };
}

const codeOf = (e: unknown): number | undefined => {
  const c = (e as { code?: unknown })?.code;
  return typeof c === 'number' ? c : undefined;
};
const ignore404 = (e: unknown): undefined => {
  if (codeOf(e) === 404) return undefined;
  throw e;
};

/** Polls `check` every second until it returns a value (not undefined); throws after `timeoutMs` saying `what`. */
async function until<T>(what: string, timeoutMs: number, check: () => Promise<T | undefined>): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out after ${Math.round(timeoutMs / 1000)} s waiting for ${what}`);
    await sleep(1000, heldSchedule);
  }
}

/** The node-cleanup DaemonSet of the file, in `namespace`, with `image` when given. */
function cleanupDaemonSet(file: string, namespace: string, image: string | undefined): V1DaemonSet {
  const ds = parse(readFileSync(file, 'utf8')) as V1DaemonSet;
  if (ds?.kind !== 'DaemonSet' || !ds.metadata?.name || !ds.spec?.template.spec)
    throw new Error(`${file}: not a DaemonSet`);
  ds.metadata.namespace = namespace;
  if (image) for (const c of ds.spec.template.spec.containers) c.image = image;
  return ds;
}

/** Creates the DaemonSet, waits until each of its pods logged what it removed, deletes it; returns those lines. */
async function cleanNodes(kc: KubeConfig, a: Args, ds: V1DaemonSet, say: (s: string) => void): Promise<string[]> {
  const apps = kc.makeApiClient(AppsV1Api);
  const core = kc.makeApiClient(CoreV1Api);
  const namespace = a.namespace;
  const name = ds.metadata!.name!;
  await apps.deleteNamespacedDaemonSet({ name, namespace }).catch(ignore404); // a leftover of an earlier run
  await until(`the earlier DaemonSet ${name} to go`, a.timeoutMs, async () =>
    (await apps.readNamespacedDaemonSet({ name, namespace }).catch(ignore404)) ? undefined : true,
  );
  await apps.createNamespacedDaemonSet({ namespace, body: ds });
  say(`uninstall: DaemonSet ${namespace}/${name} created`);
  const selector = Object.entries(ds.spec!.selector.matchLabels ?? {})
    .map(([k, v]) => `${k}=${v}`)
    .join(',');
  const lines = await until(`every node's cleanup (pods ${selector})`, a.timeoutMs, async () => {
    const live = await apps.readNamespacedDaemonSet({ name, namespace });
    const desired = live.status?.desiredNumberScheduled;
    if ((live.status?.observedGeneration ?? 0) < (live.metadata?.generation ?? 1) || desired === undefined) return;
    const pods = (await core.listNamespacedPod({ namespace, labelSelector: selector })).items;
    const done: string[] = [];
    for (const p of pods) {
      if (p.status?.phase !== 'Running') continue;
      const log = await core.readNamespacedPodLog({ name: p.metadata!.name!, namespace }).catch(() => '');
      const line = cleanupDone(log);
      if (line) done.push(line);
    }
    return done.length >= desired ? done : undefined;
  });
  for (const l of lines) say(`uninstall: ${l}`);
  await apps.deleteNamespacedDaemonSet({ name, namespace, propagationPolicy: 'Background' }).catch(ignore404);
  say(`uninstall: DaemonSet ${namespace}/${name} deleted (${lines.length} nodes cleaned)`);
  return lines;
}

/** The Leases, cert-manager's Secrets and the RelayNodes; says what went. */
async function deleteLeftovers(kc: KubeConfig, namespace: string, say: (s: string) => void): Promise<void> {
  const leases = kc.makeApiClient(CoordinationV1Api);
  const core = kc.makeApiClient(CoreV1Api);
  const custom = kc.makeApiClient(CustomObjectsApi);
  const gone = (await leases.listNamespacedLease({ namespace, labelSelector: NAME_LABEL })).items.map(
    (l) => l.metadata!.name!,
  );
  if (gone.length > 0) await leases.deleteCollectionNamespacedLease({ namespace, labelSelector: NAME_LABEL });
  say(`uninstall: Leases deleted: ${gone.join(', ') || '(none)'}`);
  for (const name of CERT_MANAGER_SECRETS) {
    const deleted = await core.deleteNamespacedSecret({ name, namespace }).then(() => true, ignore404);
    if (deleted) say(`uninstall: Secret ${namespace}/${name} deleted`);
  }
  const relayNodes = await custom
    .deleteCollectionClusterCustomObject({ group: 'socat.io', version: 'v1alpha1', plural: RELAYNODE_PLURAL })
    .then(() => 'deleted', ignore404);
  say(`uninstall: RelayNodes ${relayNodes ?? 'absent (no CRD)'}`);
}

export async function run(args: string[], io: CommandIO): Promise<number> {
  const a = parseOrExit('uninstall', USAGE, io, () => parseUninstallArgs(args, io.env));
  if (typeof a === 'number') return a;
  const say = (s: string) => void io.stdout.write(`${s}\n`);
  try {
    if (a.nodes && !a.daemonset)
      throw new Error('manifests/uninstall/node-cleanup.yaml not found: give --daemonset FILE (or --skip-nodes)');
    const ds = a.nodes ? cleanupDaemonSet(a.daemonset!, a.namespace, a.image) : undefined;
    const kc = new KubeConfig();
    kc.loadFromDefault();
    const core = kc.makeApiClient(CoreV1Api);
    await until(
      `the pods labeled ${NAME_LABEL} in ${a.namespace} to go (delete the controllers and agents first)`,
      a.timeoutMs,
      async () =>
        (await core.listNamespacedPod({ namespace: a.namespace, labelSelector: NAME_LABEL })).items.length === 0
          ? true
          : undefined,
    );
    if (ds) await cleanNodes(kc, a, ds, say);
    await deleteLeftovers(kc, a.namespace, say);
    return 0;
  } catch (e) {
    io.stderr.write(`uninstall: ${(e as Error).message}\n`);
    return 1;
  }
}
