// The examples under manifests/examples/ on the real node, applied as their READMEs say
// (`kubectl apply -k`) through an overlay in a temp folder that points at the example's own folder and
// changes only what this machine needs: the app images (no registry here: the images the node already
// has), the Relays' node-side target ports (the test's loopback services instead of kube-scheduler,
// etcd, …; the port in the pod stays the example's), and — for the prometheus-operator variant — no
// PodMonitor (the repository has no monitoring.coreos.com CRDs to serve it; its schema is checked
// offline by test/manifests). Then every workload's pods are checked where they land.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseAllDocuments, stringify } from 'yaml';
import { CONSUME_LABEL, INJECTED_ANNOTATION, sidecarName } from '../../relay/index.js';
import {
  DEFAULT_TESTBIN,
  registerCleanup,
  REPO_ROOT,
  waitFor,
  type Cluster,
  type KubeObject,
} from '../harness/index.js';

type AnyObj = Record<string, any>;

export const EXAMPLES_DIR = path.join(REPO_ROOT, 'manifests', 'examples');
const TOKEN_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

export interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** .testbin/kubectl with the control plane's admin kubeconfig. */
export function kubectl(c: Cluster, args: string[], input?: string): Promise<Run> {
  return new Promise((resolve) => {
    const child = execFile(
      path.join(DEFAULT_TESTBIN, 'kubectl'),
      args,
      {
        env: { ...process.env, KUBECONFIG: c.cp.kubeconfigPath },
        timeout: 120_000,
        maxBuffer: 16 << 20,
      },
      (err, stdout, stderr) => {
        const code = err
          ? typeof (err as { code?: unknown }).code === 'number'
            ? (err as { code: number }).code
            : null
          : 0;
        resolve({ code, stdout, stderr });
      },
    );
    child.stdin?.end(input ?? '');
  });
}

/** `kubectl kustomize DIR`, parsed. */
export async function render(c: Cluster, dir: string): Promise<AnyObj[]> {
  const r = await kubectl(c, ['kustomize', dir]);
  if (r.code !== 0) throw new Error(`kubectl kustomize ${dir}: ${r.stderr}`);
  return parseAllDocuments(r.stdout)
    .map((d) => d.toJS() as AnyObj)
    .filter(Boolean);
}

export const WORKLOAD_KINDS = new Set(['DaemonSet', 'Deployment', 'StatefulSet', 'ReplicaSet', 'Job']);

/** The relays a pod (template) asks for: its label, then its annotation's list. */
export function consumedRelays(meta: AnyObj): string[] {
  const names = [meta.labels?.[CONSUME_LABEL], ...(meta.annotations?.[CONSUME_LABEL] ?? '').split(',')]
    .map((s) => (s ?? '').trim())
    .filter(Boolean);
  return [...new Set(names)];
}

const withoutTag = (image: string) => image.replace(/@.*$/, '').replace(/:[^:/]+$/, '');
const tagOf = (image: string) => /:([^:/]+)$/.exec(image)?.[1] ?? 'latest';

export interface Target {
  port: number;
  /**
   * What the relay's consumer gets back: `greeting` (the test's TCP service) or `agent-metrics` (the agent's
   * /metrics).
   */
  kind: 'greeting' | 'agent-metrics' | 'udp';
}

/**
 * Writes an overlay of `exampleDir` into a temp folder: `images:` for every app image (a pause image
 * → the node's sandbox image, which sleeps; any other → the project image, whose CLI exits at once on
 * the app's flags — only our sidecars are expected to keep running), each Relay's target port moved
 * to `targetOf(relay)` with its listen port kept, and the objects `drop` names deleted.
 */
export function writeOverlay(o: {
  exampleDir: string;
  objects: AnyObj[];
  image: string;
  pauseImage: string;
  targetOf(relay: AnyObj): Target;
  drop?: AnyObj[];
}): { dir: string; remove(): void } {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'socat-relay-example-'));
  // Removed by remove(), or at exit when the run is interrupted before.
  const unregister = registerCleanup(() => rmSync(dir, { recursive: true, force: true }));
  const images = new Map<string, string>();
  for (const w of o.objects.filter((x) => WORKLOAD_KINDS.has(x.kind))) {
    const spec = w.spec.template.spec;
    for (const ct of [...(spec.containers ?? []), ...(spec.initContainers ?? [])]) {
      images.set(withoutTag(ct.image), /\/pause$/.test(withoutTag(ct.image)) ? o.pauseImage : o.image);
    }
  }
  const patches: AnyObj[] = [];
  for (const r of o.objects.filter((x) => x.kind === 'Relay')) {
    const listen = { ...(r.spec.listen ?? {}), port: r.spec.listen?.port ?? r.spec.target.port };
    patches.push({
      target: { kind: 'Relay', name: r.metadata.name },
      patch: stringify([
        { op: 'replace', path: '/spec/target/port', value: o.targetOf(r).port },
        { op: 'add', path: '/spec/listen', value: listen },
      ]),
    });
  }
  for (const d of o.drop ?? []) {
    patches.push({
      patch: stringify({
        $patch: 'delete',
        apiVersion: d.apiVersion,
        kind: d.kind,
        metadata: { name: d.metadata.name, namespace: d.metadata.namespace },
      }),
    });
  }
  writeFileSync(
    path.join(dir, 'kustomization.yaml'),
    stringify({
      apiVersion: 'kustomize.config.k8s.io/v1beta1',
      kind: 'Kustomization',
      resources: [path.relative(dir, o.exampleDir)],
      images: [...images].map(([name, to]) => ({ name, newName: withoutTag(to), newTag: tagOf(to) })),
      patches,
      // As the example's own kustomization: sortOptions are read from the top kustomization only, so an
      // overlay that leaves them out applies the workloads before their Relays.
      sortOptions: { order: 'fifo' },
    }),
  );
  return {
    dir,
    remove() {
      rmSync(dir, { recursive: true, force: true });
      unregister();
    },
  };
}

/** The pods a workload made: those its selector's matchLabels select in its namespace. */
export async function podsOf(c: Cluster, w: AnyObj): Promise<AnyObj[]> {
  const sel = Object.entries(w.spec.selector?.matchLabels ?? {})
    .map(([k, v]) => `${k}=${String(v)}`)
    .join(',');
  const res = await c.cp.client.request<{ items: AnyObj[] }>('GET', `/api/v1/namespaces/${w.metadata.namespace}/pods`, {
    query: { labelSelector: sel },
  });
  return res.items.filter((p) => !p.metadata.deletionTimestamp);
}

const DENIAL = /denied the request: (.*)$/s;
const NOT_FOUND = /^relay "([^"]+)" not found \(asked for by socat\.io\/consume\)$/;

/**
 * The FailedCreate events of a workload (a Deployment's: of its ReplicaSets): `unexpected` ones, and `catalogLag` — our
 * webhook refusing a pod because a Relay the same `kubectl apply` had already created was not in its
 * catalog yet (its watch had not delivered it; the workload controller retries and the pod is made a
 * moment later). A fresh namespace's default ServiceAccount not made yet (the ServiceAccount
 * plugin's refusal, which heals the same way on every cluster) is left out.
 */
export async function failedCreates(
  c: Cluster,
  w: AnyObj,
  ownRelays: Set<string>,
): Promise<{ unexpected: string[]; catalogLag: string[] }> {
  const events = await c.cp.client.list<AnyObj>('v1', 'Event', w.metadata.namespace);
  const name = w.metadata.name as string;
  const ofWorkload = (o: AnyObj | undefined) =>
    (o?.kind === w.kind && o?.name === name) ||
    (w.kind === 'Deployment' && o?.kind === 'ReplicaSet' && String(o?.name).startsWith(`${name}-`));
  const out = { unexpected: [] as string[], catalogLag: [] as string[] };
  for (const e of events.filter((x) => x.reason === 'FailedCreate' && ofWorkload(x.involvedObject))) {
    const msg = String(e.message ?? '');
    if (/serviceaccount "[^"]+" not found/.test(msg)) continue;
    const line = `${e.involvedObject?.kind}/${e.involvedObject?.name}: ${msg}`;
    const parts = DENIAL.exec(msg)?.[1]?.split('; ') ?? [];
    const lag =
      msg.includes('"pods.socat.io"') &&
      parts.length > 0 &&
      parts.every((p) => ownRelays.has(NOT_FOUND.exec(p.trim())?.[1] ?? ''));
    (lag ? out.catalogLag : out.unexpected).push(line);
  }
  return out;
}

/** What is wrong with a pod the webhook should have injected (empty: nothing). */
export function injectionProblems(pod: AnyObj): string[] {
  const problems: string[] = [];
  const relays = consumedRelays(pod.metadata);
  const marker = (pod.metadata.annotations?.[INJECTED_ANNOTATION] ?? '')
    .split(',')
    .map((s: string) => s.trim())
    .filter(Boolean);
  const init: AnyObj[] = pod.spec.initContainers ?? [];
  for (const r of relays) {
    const sc = init.find((x) => x.name === sidecarName(r));
    if (!sc) problems.push(`no sidecar ${sidecarName(r)}`);
    else if (sc.restartPolicy !== 'Always') problems.push(`${sc.name} is not a native sidecar`);
    if (!marker.includes(r)) problems.push(`${INJECTED_ANNOTATION} does not list ${r}: ${JSON.stringify(marker)}`);
  }
  // The ServiceAccount plugin's token: on every container, our sidecars included, unless the pod opts out.
  if (pod.spec.automountServiceAccountToken !== false) {
    const tokenVolume = (pod.spec.volumes ?? []).find((v: AnyObj) =>
      v.projected?.sources?.some((s: AnyObj) => s.serviceAccountToken),
    );
    if (!tokenVolume) problems.push('no projected ServiceAccount token volume');
    for (const ct of [...(pod.spec.containers ?? []), ...init]) {
      const m = (ct.volumeMounts ?? []).find((x: AnyObj) => x.mountPath === TOKEN_DIR);
      if (!m || m.name !== tokenVolume?.name || m.readOnly !== true)
        problems.push(`container ${ct.name}: no read-only token mount at ${TOKEN_DIR}`);
    }
  }
  return problems;
}

export const scheduled = (pod: AnyObj) =>
  pod.status?.conditions?.some((x: AnyObj) => x.type === 'PodScheduled' && x.status === 'True') === true;

/** The sidecars of the pod's relays that are not running (and started) yet. */
export function sidecarsNotRunning(pod: AnyObj): string[] {
  const st: AnyObj[] = pod.status?.initContainerStatuses ?? [];
  return consumedRelays(pod.metadata)
    .map(sidecarName)
    .filter((n) => {
      const s = st.find((x) => x.name === n);
      return !(s?.state?.running && s.started === true);
    });
}

/** The claims of a ServiceAccount token (a JWT), read without checking its signature. */
export function tokenClaims(jwt: string): AnyObj {
  const payload = jwt.trim().split('.')[1] ?? '';
  return JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as AnyObj;
}

/** The token and CA the kubelet projected into a container, read through the container's own root on the host. */
export function projectedCredentials(pid: number): { token: string; caCrt: string } {
  const root = `/proc/${pid}/root${TOKEN_DIR}`;
  return { token: readFileSync(`${root}/token`, 'utf8'), caCrt: readFileSync(`${root}/ca.crt`, 'utf8') };
}

/**
 * A Node object with no kubelet behind it: the scheduler and the DaemonSet controller place pods on it; nothing
 * runs them.
 */
export function placeholderNode(name: string, labels: Record<string, string> = {}): KubeObject {
  const resources = { cpu: '4', memory: '8Gi', pods: '110' };
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: {
      name,
      labels: {
        'kubernetes.io/hostname': name,
        'kubernetes.io/os': 'linux',
        'kubernetes.io/arch': process.arch === 'arm64' ? 'arm64' : 'amd64',
        ...labels,
      },
    },
    status: {
      capacity: resources,
      allocatable: resources,
      conditions: [
        {
          type: 'Ready',
          status: 'True',
          reason: 'KubeletReady',
          message: 'a placeholder: no kubelet',
          lastHeartbeatTime: new Date().toISOString(),
          lastTransitionTime: new Date().toISOString(),
        },
      ],
    },
  };
}

/** Waits until `check` passes, failing with the namespace's pods and events when it does not. */
export async function waitForPods<T>(
  c: Cluster,
  namespace: string,
  what: string,
  check: () => Promise<T | undefined>,
  timeoutMs = 180_000,
): Promise<T> {
  try {
    return await waitFor(what, check, { timeoutMs, intervalMs: 1000 });
  } catch (err) {
    const pods = await c.cp.client.list<AnyObj>('v1', 'Pod', namespace).catch(() => []);
    const events = await c.cp.client.list<AnyObj>('v1', 'Event', namespace).catch(() => []);
    const podLines = pods.map(
      (p) =>
        `${p.metadata.name} on ${p.spec.nodeName ?? '-'}: ${p.status?.phase} ${JSON.stringify(p.status?.conditions?.map((x: AnyObj) => `${x.type}=${x.status}${x.message ? ` (${x.message})` : ''}`))} init: ${JSON.stringify((p.status?.initContainerStatuses ?? []).map((s: AnyObj) => [s.name, Object.keys(s.state ?? {})[0], s.state?.waiting?.reason ?? s.state?.terminated?.reason]))}`,
    );
    const evLines = events
      .filter((e) => e.type === 'Warning')
      .map((e) => `${e.involvedObject?.kind}/${e.involvedObject?.name} ${e.reason}: ${e.message}`);
    throw new Error(
      `${(err as Error).message}\npods:\n${podLines.join('\n')}\nwarning events:\n${evLines.join('\n')}`,
      { cause: err },
    );
  }
}
