// ONE table of pods that try to get more from socat-relay than their namespace was granted, and the
// controls that must keep working. It drives every check: the webhook's pure decision, `socat-relay
// inject`, the webhook over HTTPS through a real API server, and the ValidatingAdmissionPolicy alone
// on a real API server (as when the controller is down). Each row says what the webhook and what the
// policy answer: `allowed`, or a pattern of the denial message.
import fjp from 'fast-json-patch';
import { CONSUME_LABEL, INJECTED_ANNOTATION, type Relay } from '../../relay/index.js';
import { StaticCatalog } from '../../webhook/catalog/catalog.js';
import {
  decidePod,
  defaultInjectOptions,
  patchOps,
  podCreateRequest,
  type InjectOptions,
  type PodContext,
  type RawContainer,
  type RawPod,
  type VolumeSource,
} from '../../webhook/admission/index.js';

export const NAMESPACE = 'monitoring';
export const RELAY = 'sched';
export const SIDECAR = `socat-${RELAY}`;
export const SOCKET_DIR = '/run/socat-relay';
export const IMAGE = 'ghcr.io/socat-relay/socat-relay:0.1.0';

const relay = (name: string, port: number, namespaces: string[]): Relay => ({
  apiVersion: 'socat.io/v1alpha1',
  kind: 'Relay',
  metadata: { name },
  spec: { target: { host: '127.0.0.1', port }, consumers: { namespaces } },
});
/** A namespace that enforces Pod Security level restricted. */
export const RESTRICTED_NAMESPACE = 'locked';
/** sched may be consumed from monitoring (and the restricted namespace); etcd may not. */
export const RELAYS: Relay[] = [
  relay(RELAY, 10259, [NAMESPACE, RESTRICTED_NAMESPACE]),
  relay('etcd', 2381, ['control-plane-tools']),
];

function options(volumeSource: VolumeSource = 'hostPath'): InjectOptions {
  return defaultInjectOptions({ sidecarImage: IMAGE, nodeSocketDir: SOCKET_DIR, volumeSource });
}

export function context(volumeSource: VolumeSource = 'hostPath', labels: Record<string, string> = {}): PodContext {
  return {
    catalog: new StaticCatalog(structuredClone(RELAYS)),
    namespaceLabels: (ns) => ({ 'kubernetes.io/metadata.name': ns, ...labels }),
    options: options(volumeSource),
  };
}

/** A labeled consumer, not injected yet. */
export function plainPod(name = 'p'): RawPod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: NAMESPACE, labels: { 'socat.io/consume': RELAY } },
    spec: { containers: [{ name: 'app', image: 'registry.k8s.io/pause:3.10' }] },
  };
}

/** The consumer as the webhook injects it now (what the API server stores). */
export function injectedPod(volumeSource: VolumeSource = 'hostPath', name = 'p'): RawPod {
  const pod = plainPod(name);
  const d = decidePod(podCreateRequest(pod, NAMESPACE, 'build'), context(volumeSource));
  if (!d.response.allowed || !d.response.patch)
    throw new Error(`the base pod was not injected: ${d.response.status?.message}`);
  return fjp.applyPatch(pod, patchOps(d.response), true, false).newDocument;
}

type Edit = (p: any) => void;
const sidecarOf = (p: RawPod): RawContainer =>
  [...(p.spec?.initContainers ?? []), ...(p.spec?.containers ?? [])].find((c) => c.name === SIDECAR)!;
const sc = (p: RawPod) => sidecarOf(p).securityContext as Record<string, any>;
const app = (p: RawPod) => p.spec!.containers![0]!;

export type Expect = 'allowed' | RegExp;

export interface PodCase {
  name: string;
  volumeSource: VolumeSource;
  /** The pod as submitted for creation. */
  pod: () => RawPod;
  webhook: Expect;
  policy: Expect;
  /** Why the policy's verdict differs from the webhook's, when it does. */
  why?: string;
}

function fromInjected(
  name: string,
  edit: Edit,
  webhook: Expect,
  policy: Expect,
  why?: string,
  volumeSource: VolumeSource = 'hostPath',
): PodCase {
  return {
    name,
    volumeSource,
    webhook,
    policy,
    ...(why ? { why } : {}),
    pod: () => {
      const p = injectedPod(volumeSource);
      edit(p);
      return p;
    },
  };
}

const OWN_HOSTPATH = /hostPath .* socket folder/;
const ownHostPath = (path: string, policyMessage: Expect = /hostPath/): PodCase =>
  fromInjected(
    `a hostPath "${path}" of its own`,
    (p) => {
      p.spec.volumes.push({ name: 'data', hostPath: { path } });
      app(p).volumeMounts = [{ name: 'data', mountPath: '/data', readOnly: true }];
    },
    OWN_HOSTPATH,
    policyMessage,
  );

export const CASES: PodCase[] = [
  // Controls: what must keep working.
  fromInjected('the injected pod as the webhook made it (hostPath)', () => {}, 'allowed', 'allowed'),
  fromInjected('the injected pod as the webhook made it (csi)', () => {}, 'allowed', 'allowed', undefined, 'csi'),
  fromInjected(
    'the sidecar image rewritten by a registry mirror',
    (p) => {
      sidecarOf(p).image = 'mirror.example:5000/socat-relay/socat-relay:0.1.0';
    },
    'allowed',
    'allowed',
  ),
  fromInjected(
    'env and resources added to the sidecar by another webhook',
    (p) => {
      sidecarOf(p).env = [{ name: 'HTTP_PROXY', value: 'http://proxy:3128' }];
      sidecarOf(p).resources = { requests: { cpu: '10m', memory: '16Mi' } };
    },
    'allowed',
    'allowed',
  ),
  fromInjected(
    'an app container that mounts the injected volume read-only',
    (p) => {
      app(p).volumeMounts = [{ name: SIDECAR, mountPath: '/relay', readOnly: true }];
    },
    'allowed',
    'allowed',
  ),
  fromInjected(
    'hostPaths of its own beside the socket folder (/run/socat-relay-other, /var/log)',
    (p) => {
      p.spec.volumes.push(
        { name: 'other', hostPath: { path: '/run/socat-relay-other' } },
        { name: 'logs', hostPath: { path: '/var/log' } },
      );
    },
    'allowed',
    'allowed',
  ),

  // 1. A socat-<relay> container of its own.
  {
    name: 'its own privileged root socat-sched container, the marker and the exact hostPath volume',
    volumeSource: 'hostPath',
    pod: () => {
      const p = injectedPod();
      const own = {
        name: SIDECAR,
        image: 'attacker.example/tools:latest',
        command: [
          'sh',
          '-c',
          'rm -f /run/socat-relay/sched/socket; exec socat UNIX-LISTEN:/run/socat-relay/sched/socket -',
        ],
        securityContext: { privileged: true, runAsUser: 0 },
        volumeMounts: [{ name: SIDECAR, mountPath: '/run/socat-relay/sched' }],
      };
      p.spec!.initContainers = [];
      p.spec!.containers!.push(own);
      return p;
    },
    webhook:
      /spec\.containers\[1\] "socat-sched" is not the sidecar socat-relay injects for relay "sched" \(differs: placement \(injected into spec\.initContainers\), command, image, ports, restartPolicy, securityContext, volumeMounts\)/,
    policy: /socat-sched.*privileged/,
  },
  fromInjected(
    'the sidecar made privileged',
    (p) => {
      sc(p).privileged = true;
      delete sc(p).allowPrivilegeEscalation;
    },
    /"socat-sched" is not the sidecar .*differs: securityContext/,
    /socat-sched.*privileged/,
  ),
  fromInjected(
    'the sidecar run as root',
    (p) => {
      sc(p).runAsUser = 0;
      delete sc(p).runAsNonRoot;
    },
    /differs: securityContext/,
    /socat-sched.*root/,
  ),
  fromInjected(
    'the sidecar given CAP_SYS_ADMIN',
    (p) => {
      sc(p).capabilities = { drop: ['ALL'], add: ['SYS_ADMIN'] };
    },
    /differs: securityContext/,
    /socat-sched.*capabilities/,
  ),
  fromInjected(
    'the sidecar allowed to escalate privileges',
    (p) => {
      sc(p).allowPrivilegeEscalation = true;
    },
    /differs: securityContext/,
    /socat-sched.*escalation/,
  ),
  fromInjected(
    'the sidecar mounting its relay folder writable',
    (p) => {
      (sidecarOf(p).volumeMounts as any[])[0].readOnly = false;
    },
    /differs: volumeMounts/,
    /socat-sched.*mounts/,
  ),
  fromInjected(
    'the sidecar mounting a second volume',
    (p) => {
      p.spec.volumes.push({ name: 'scratch', emptyDir: {} });
      (sidecarOf(p).volumeMounts as any[]).push({ name: 'scratch', mountPath: '/tmp' });
    },
    /differs: volumeMounts/,
    /socat-sched.*mounts/,
  ),
  fromInjected(
    'a socat-etcd container for a relay the pod does not consume',
    (p) => {
      p.spec.containers.push({
        name: 'socat-etcd',
        image: IMAGE,
        securityContext: { runAsNonRoot: true, runAsUser: 65532 },
      });
    },
    /spec\.containers\[1\] "socat-etcd": the prefix socat- is reserved for injected sidecars, and this pod does not consume relay "etcd"/,
    /socat-etcd.*not consume/,
  ),
  fromInjected(
    'the sidecar running another command',
    (p) => {
      sidecarOf(p).command = ['socat', 'TCP4-LISTEN:10259,fork', 'TCP4:10.0.0.1:10259'];
    },
    /differs: command/,
    'allowed',
    'the policy pins what gives power (privilege, identity, capabilities, mounts); a command cannot reach further than those allow, and only the webhook knows the exact command',
  ),
  fromInjected(
    'the sidecar image from another repository',
    (p) => {
      sidecarOf(p).image = 'attacker.example/tools:latest';
    },
    /differs: image/,
    'allowed',
    'an image runs with the pinned security context and mounts like any app container; only the webhook knows the configured image',
  ),

  // 2. The marker naming a relay the namespace may not consume; hostPaths at, under or above the socket folder.
  fromInjected(
    'the marker etcd,sched and its own volume socat-etcd (hostPath /run/socat-relay/etcd)',
    (p) => {
      p.metadata!.annotations!['socat.io/injected'] = 'etcd,sched';
      p.spec.volumes.push({
        name: 'socat-etcd',
        hostPath: { path: '/run/socat-relay/etcd', type: 'DirectoryOrCreate' },
      });
      app(p).volumeMounts = [{ name: 'socat-etcd', mountPath: '/etcd', readOnly: true }];
    },
    /spec\.volumes\[1\] "socat-etcd": the prefix socat- is reserved for injected volumes, and this pod does not consume relay "etcd"/,
    /socat-etcd/,
  ),
  ownHostPath('/run/socat-relay'),
  ownHostPath('/run/socat-relay/'),
  ownHostPath('//run//socat-relay'),
  ownHostPath('/run/./socat-relay'),
  ownHostPath('/var/run/socat-relay'),
  ownHostPath('/var/run/socat-relay/etcd'),
  ownHostPath('/run/socat-relay/.agent'),
  ownHostPath('/run/socat-relay/sched'),
  ownHostPath('/run'),
  ownHostPath('/var/run/'),
  ownHostPath('/'),
  ownHostPath('/var/run/../run/socat-relay', /must not contain '\.\.'/),
  fromInjected(
    'the injected volume with another hostPath type',
    (p) => {
      p.spec.volumes[0].hostPath.type = 'Directory';
    },
    /spec\.volumes\[0\] "socat-sched" is not the volume socat-relay injects/,
    /socat-sched/,
  ),
  fromInjected(
    'a csi.socat.io volume of its own for relay etcd',
    (p) => {
      p.spec.volumes.push({
        name: 'x',
        csi: { driver: 'csi.socat.io', readOnly: true, volumeAttributes: { relay: 'etcd' } },
      });
    },
    /spec\.volumes\[1\] "x": csi\.socat\.io volumes in a labeled pod are injected by socat-relay only/,
    /csi\.socat\.io/,
    undefined,
    'csi',
  ),
  fromInjected(
    'the injected csi volume made writable',
    (p) => {
      p.spec.volumes[0].csi.readOnly = false;
    },
    /spec\.volumes\[0\] "socat-sched" is not the volume socat-relay injects/,
    /socat-sched/,
    undefined,
    'csi',
  ),
  fromInjected(
    'the injected csi volume pointed at relay etcd',
    (p) => {
      p.spec.volumes[0].csi.volumeAttributes.relay = 'etcd';
    },
    /spec\.volumes\[0\] "socat-sched" is not the volume socat-relay injects/,
    /socat-sched/,
    undefined,
    'csi',
  ),

  // 3. Writable mounts of an injected volume.
  fromInjected(
    'an app container mounting the injected volume writable',
    (p) => {
      app(p).volumeMounts = [{ name: SIDECAR, mountPath: '/relay' }];
    },
    /spec\.containers\[0\] "app" mounts the injected volume "socat-sched" writable: set readOnly: true/,
    /containers "app" mount an injected socat-\* volume writable/,
  ),
  fromInjected(
    'an init container mounting the injected volume writable',
    (p) => {
      p.spec.initContainers.push({
        name: 'setup',
        image: 'busybox',
        volumeMounts: [{ name: SIDECAR, mountPath: '/relay', readOnly: false }],
      });
    },
    /spec\.initContainers\[1\] "setup" mounts the injected volume "socat-sched" writable/,
    /containers "setup" mount an injected socat-\* volume writable/,
  ),

  fromInjected(
    'an ephemeral container socat-etcd at creation',
    (p) => {
      p.spec.ephemeralContainers = [
        { name: 'socat-etcd', image: 'busybox', volumeMounts: [{ name: SIDECAR, mountPath: '/relay' }] },
      ];
    },
    /spec\.ephemeralContainers\[0\] "socat-etcd": ephemeral containers may not use the prefix socat-/,
    /spec\.ephemeralContainers: Forbidden: cannot be set on create/,
    'the API server refuses ephemeral containers at creation before any policy runs (they come later, through pods/ephemeralcontainers)',
  ),

  // Mirror pods are the kubelet's copies of its static pods; both layers leave them alone. Any user may
  // create one (the API server asks only for spec.nodeName), with anything in it.
  fromInjected(
    'a pod claiming to be a mirror pod (annotation kubernetes.io/config.mirror, spec.nodeName) that mounts the relay folder writable',
    (p) => {
      p.metadata.annotations['kubernetes.io/config.mirror'] = 'forged';
      p.spec.nodeName = 'node-a';
      app(p).volumeMounts = [{ name: SIDECAR, mountPath: '/relay' }];
    },
    'allowed',
    'allowed',
    'admitted by both layers and by the API server, but never run: the kubelet runs an API pod with this annotation only as the mirror of a static pod of its own, whose spec it runs instead (and it deletes mirrors without one)',
  ),

  // Names and labels.
  fromInjected(
    'a second volume named socat-sched',
    (p) => {
      p.spec.volumes.push({ name: SIDECAR, emptyDir: {} });
    },
    /spec\.volumes\[1\]: duplicate volume name "socat-sched" \(also spec\.volumes\[0\]\)/,
    /Duplicate value: "socat-sched"/,
    'the API server refuses duplicate names before any policy runs',
  ),
  fromInjected(
    'a second container named app',
    (p) => {
      p.spec.containers.push({ name: 'app', image: 'busybox' });
    },
    /spec\.containers\[1\]: duplicate container name "app" \(also spec\.containers\[0\]\)/,
    /Duplicate value: "app"/,
    'the API server refuses duplicate names before any policy runs',
  ),
  fromInjected(
    'an empty label with the relay in the annotation',
    (p) => {
      p.metadata!.labels!['socat.io/consume'] = '';
      p.metadata!.annotations!['socat.io/consume'] = RELAY;
    },
    /label socat\.io\/consume is empty: name the relay to consume/,
    /label socat\.io\/consume is empty: name the relay to consume/,
  ),
];

/** Ephemeral containers added to the stored injected pod through pods/ephemeralcontainers. */
export interface EphemeralCase {
  name: string;
  container: RawContainer;
  webhook: Expect;
  policy: Expect;
}

export const EPHEMERAL_CASES: EphemeralCase[] = [
  { name: 'a debug container', container: { name: 'debug', image: 'busybox' }, webhook: 'allowed', policy: 'allowed' },
  {
    name: 'a debug container mounting the injected volume read-only',
    container: {
      name: 'debug',
      image: 'busybox',
      volumeMounts: [{ name: SIDECAR, mountPath: '/relay', readOnly: true }],
    },
    webhook: 'allowed',
    policy: 'allowed',
  },
  // The sidecar's own name: the API server refuses the duplicate name before any policy runs.
  {
    name: 'an ephemeral socat-sched',
    container: { name: SIDECAR, image: 'busybox' },
    webhook: /spec\.ephemeralContainers\[0\] "socat-sched": ephemeral containers may not use the prefix socat-/,
    policy: /spec\.ephemeralContainers\[0\]\.name: Duplicate value: "socat-sched"/,
  },
  {
    name: 'an ephemeral socat-etcd',
    container: { name: 'socat-etcd', image: 'busybox' },
    webhook: /spec\.ephemeralContainers\[0\] "socat-etcd": ephemeral containers may not use the prefix socat-/,
    policy: /ephemeral containers socat-etcd: the prefix socat- is reserved for injected sidecars/,
  },
  {
    name: 'a debug container mounting the injected volume writable',
    container: { name: 'debug', image: 'busybox', volumeMounts: [{ name: SIDECAR, mountPath: '/relay' }] },
    webhook:
      /spec\.ephemeralContainers\[0\] "debug" mounts the injected volume "socat-sched" writable: set readOnly: true/,
    policy:
      /ephemeral containers "debug" \(socat-sched\) mount an injected socat-\* volume writable: set readOnly: true/,
  },
  // targetContainerName shares the sidecar's processes (kubectl debug --target): its /proc/<pid>/root
  // shows the folder only as the sidecar mounts it, read-only; a writable mount of its own is refused.
  {
    name: 'a debug container targeting the sidecar (kubectl debug --target socat-sched) and mounting the injected volume writable',
    container: {
      name: 'debug',
      image: 'busybox',
      targetContainerName: SIDECAR,
      volumeMounts: [{ name: SIDECAR, mountPath: '/relay' }],
    },
    webhook: /spec\.ephemeralContainers\[0\] "debug" mounts the injected volume "socat-sched" writable/,
    policy: /ephemeral containers "debug" \(socat-sched\) mount an injected socat-\* volume writable/,
  },
  {
    name: 'a debug container mounting the injected volume with readOnly: false',
    container: {
      name: 'debug',
      image: 'busybox',
      volumeMounts: [{ name: SIDECAR, mountPath: '/run/socat-relay/sched', readOnly: false }],
    },
    webhook: /spec\.ephemeralContainers\[0\] "debug" mounts the injected volume "socat-sched" writable/,
    policy: /ephemeral containers "debug" \(socat-sched\) mount an injected socat-\* volume writable/,
  },
];

/**
 * The consumer as a removed label leaves it (`kubectl label pod X socat.io/consume-`): no label, but
 * still the injected sidecar, volume and marker. Labels are mutable, so the ephemeral-container checks
 * must not depend on the label.
 */
export function withoutLabel(pod: RawPod): RawPod {
  const p = structuredClone(pod);
  delete p.metadata!.labels![CONSUME_LABEL];
  return p;
}

/** An unlabeled pod without socat-* volumes (Pod Security's business, never ours), with a volume of its own. */
export function unrelatedPod(name: string): RawPod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: NAMESPACE, labels: { app: 'unrelated' } },
    spec: {
      containers: [
        { name: 'app', image: 'registry.k8s.io/pause:3.10', volumeMounts: [{ name: 'data', mountPath: '/data' }] },
      ],
      volumes: [{ name: 'data', emptyDir: {} }],
    },
  };
}

/** Metadata changes (a JSON merge patch, UPDATE pods) of the stored consumer: judged by the policy only. */
export interface MetadataCase {
  name: string;
  patch: {
    metadata?: { labels?: Record<string, string | null>; annotations?: Record<string, string | null> };
    status?: Record<string, unknown>;
  };
  /** The subresource patched: the pod itself, or pods/status (whose strategy keeps metadata changes). */
  via?: 'status';
  policy: Expect;
}

const FIXED = (what: string) =>
  new RegExp(
    `pod \\S+ carries the socat-relay volumes socat-sched: ${what.replace(/\./g, '\\.')} cannot change after creation .*recreate the pod`,
  );

export const METADATA_CASES: MetadataCase[] = [
  { name: 'another label added', patch: { metadata: { labels: { team: 'observability' } } }, policy: 'allowed' },
  {
    name: 'another annotation added',
    patch: { metadata: { annotations: { 'example.com/owner': 'ops' } } },
    policy: 'allowed',
  },
  {
    name: 'the label socat.io/consume removed (kubectl label pod X socat.io/consume-)',
    patch: { metadata: { labels: { [CONSUME_LABEL]: null } } },
    policy: FIXED('label socat.io/consume'),
  },
  {
    name: 'the label socat.io/consume changed to etcd',
    patch: { metadata: { labels: { [CONSUME_LABEL]: 'etcd' } } },
    policy: FIXED('label socat.io/consume'),
  },
  {
    name: 'the annotation socat.io/consume added (etcd)',
    patch: { metadata: { annotations: { [CONSUME_LABEL]: 'etcd' } } },
    policy: FIXED('annotation socat.io/consume'),
  },
  {
    name: 'the marker socat.io/injected removed',
    patch: { metadata: { annotations: { [INJECTED_ANNOTATION]: null } } },
    policy: FIXED('annotation socat.io/injected'),
  },
  {
    name: 'the marker changed to etcd,sched and the label removed',
    patch: { metadata: { labels: { [CONSUME_LABEL]: null }, annotations: { [INJECTED_ANNOTATION]: 'etcd,sched' } } },
    policy: FIXED('label socat.io/consume, annotation socat.io/injected'),
  },
  // pods/status keeps metadata changes (only the spec is reset), so it is a second door to the label.
  {
    name: 'a status update as the kubelet sends it',
    via: 'status',
    patch: { status: { conditions: [{ type: 'Ready', status: 'False' }] } },
    policy: 'allowed',
  },
  {
    name: 'the label socat.io/consume removed through pods/status',
    via: 'status',
    patch: { metadata: { labels: { [CONSUME_LABEL]: null } } },
    policy: FIXED('label socat.io/consume'),
  },
  {
    name: 'the marker changed to etcd,sched through pods/status',
    via: 'status',
    patch: { metadata: { annotations: { [INJECTED_ANNOTATION]: 'etcd,sched' } } },
    policy: FIXED('annotation socat.io/injected'),
  },
];

/** The stored pod with one more ephemeral container: the object of the pods/ephemeralcontainers UPDATE. */
export function withEphemeral(pod: RawPod, c: RawContainer): RawPod {
  const p = structuredClone(pod);
  p.spec!.ephemeralContainers = [
    ...((p.spec!.ephemeralContainers as RawContainer[] | undefined) ?? []),
    structuredClone(c),
  ];
  return p;
}

/**
 * Bindings (CREATE pods/binding, or the older `bindings` resource) of a stored, not yet scheduled
 * consumer: the API server copies a Binding's metadata.annotations onto the pod, past every UPDATE
 * check (the object admitted is the Binding). Judged by the policy only.
 */
export interface BindingCase {
  name: string;
  annotations?: Record<string, string>;
  via: 'pods/binding' | 'bindings';
  policy: Expect;
}

const BOUND_WITH = (keys: string) =>
  new RegExp(
    `binding of pod \\S+ carries the annotations ${keys.replace(/\./g, '\\.')}: a Binding copies its annotations onto the pod`,
  );

export const BINDING_CASES: BindingCase[] = [
  { name: 'a plain Binding, as the scheduler sends it', via: 'pods/binding', policy: 'allowed' },
  { name: 'a plain Binding through the bindings resource', via: 'bindings', policy: 'allowed' },
  {
    name: 'a Binding with another annotation',
    via: 'pods/binding',
    annotations: { 'example.com/placed-by': 'me' },
    policy: 'allowed',
  },
  {
    name: 'a Binding that rewrites the marker socat.io/injected',
    via: 'pods/binding',
    annotations: { [INJECTED_ANNOTATION]: 'etcd,sched' },
    policy: BOUND_WITH(INJECTED_ANNOTATION),
  },
  {
    name: 'a Binding that adds the annotation socat.io/consume',
    via: 'pods/binding',
    annotations: { [CONSUME_LABEL]: 'etcd' },
    policy: BOUND_WITH(CONSUME_LABEL),
  },
  {
    name: 'a Binding that rewrites the marker through the bindings resource',
    via: 'bindings',
    annotations: { [INJECTED_ANNOTATION]: 'etcd' },
    policy: BOUND_WITH(INJECTED_ANNOTATION),
  },
  {
    name: 'a Binding with any other socat.io/ annotation',
    via: 'pods/binding',
    annotations: { 'socat.io/anything': 'x' },
    policy: BOUND_WITH('socat.io/anything'),
  },
  // The mirror annotation would make the consumer look like the kubelet's mirror pod, which the
  // policy and the webhook skip: it must not exempt the Binding itself either.
  {
    name: 'a Binding that makes the pod look like a mirror pod (kubernetes.io/config.mirror) and rewrites the marker',
    via: 'pods/binding',
    annotations: { 'kubernetes.io/config.mirror': 'x', [INJECTED_ANNOTATION]: 'etcd' },
    policy:
      /binding of pod \S+ carries the annotations (kubernetes\.io\/config\.mirror, socat\.io\/injected|socat\.io\/injected, kubernetes\.io\/config\.mirror): a Binding/,
  },
];

/** The Binding of a case for pod `name`, to node `node`. */
export function bindingFor(c: BindingCase, name: string, node: string): Record<string, unknown> {
  return {
    apiVersion: 'v1',
    kind: 'Binding',
    metadata: { name, namespace: NAMESPACE, ...(c.annotations ? { annotations: structuredClone(c.annotations) } : {}) },
    target: { apiVersion: 'v1', kind: 'Node', name: node },
  };
}
