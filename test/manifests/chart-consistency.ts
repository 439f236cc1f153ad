// Do a chart's rendered objects agree with each other? A pure check over one render (no helm, no
// cluster): what the controller will inject (its environment read by the controller's own loadConfig,
// the volume built by the webhook's own sidecarVolume) is served by what is installed (the CSIDriver,
// the agent's CSI plugin with its arguments read by the plugin's own parseCsiArgs); every webhook
// reaches a Service that reaches the controller's port and trusts the CA that signed the certificate
// the controller serves; each policy matches the pods its webhook sees; the ServiceMonitor scrapes a
// port that exists with the right CA. Each problem names the objects that disagree.
import path from 'node:path';
import { parseCsiArgs } from '../../cli/csi.js';
import { validateRelay } from '../../relay/index.js';
import { defaultInjectOptions, sidecarVolume } from '../../webhook/admission/index.js';
import { loadConfig } from '../../webhook/config.js';
import { CA_SECRET, SERVING_SECRET, WEBHOOK_CONFIGURATION } from '../../webhook/certs/names.js';
import { SelfManagedCerts } from '../../webhook/certs/self-managed.js';
import { HELM_LABELS, key } from '../harness/chart.js';
import type { KubeObject } from '../harness/manifest-load.js';

const CLUSTER_SCOPED = new Set([
  'CustomResourceDefinition',
  'CSIDriver',
  'ClusterRole',
  'ClusterRoleBinding',
  'MutatingWebhookConfiguration',
  'ValidatingWebhookConfiguration',
  'ValidatingAdmissionPolicy',
  'ValidatingAdmissionPolicyBinding',
]);

type Container = {
  name: string;
  args?: string[];
  env?: { name: string; value?: string }[];
  ports?: { name?: string; containerPort: number }[];
  volumeMounts?: { name: string; mountPath: string; mountPropagation?: string }[];
  [k: string]: any;
};

const containersOf = (ds: KubeObject): Container[] => [
  ...(ds.spec.template.spec.containers ?? []),
  ...(ds.spec.template.spec.initContainers ?? []),
];
const envOf = (c: Container): Record<string, string> =>
  Object.fromEntries((c.env ?? []).filter((e) => e.value !== undefined).map((e) => [e.name, e.value!]));
const matches = (selector: Record<string, string> = {}, labels: Record<string, string> = {}): boolean =>
  Object.entries(selector).every(([k, v]) => labels[k] === v);
const json = (v: unknown): string => JSON.stringify(v);

/** The DaemonSet running the given subcommand (controller, agent). */
function daemonSetRunning(objs: KubeObject[], command: string): KubeObject | undefined {
  return objs.find((o) => o.kind === 'DaemonSet' && containersOf(o).some((c) => c.args?.[0] === command));
}

/** Every problem found in one render for release namespace `namespace`; empty when the objects agree. */
export function chartProblems(objs: KubeObject[], namespace: string): string[] {
  const p: string[] = [];
  const find = (kind: string, name: string | undefined, ns?: string) =>
    objs.find((o) => o.kind === kind && o.metadata.name === name && (ns === undefined || o.metadata.namespace === ns));

  // Names, namespaces, labels.
  const seen = new Set<string>();
  for (const o of objs) {
    if (seen.has(key(o))) p.push(`${key(o)} is rendered twice`);
    seen.add(key(o));
    if (CLUSTER_SCOPED.has(o.kind) ? o.metadata.namespace !== undefined : o.metadata.namespace !== namespace) {
      p.push(`${key(o)}: namespace ${o.metadata.namespace ?? '(none)'}, the release's is ${namespace}`);
    }
    for (const l of HELM_LABELS) if (!o.metadata.labels?.[l]) p.push(`${key(o)} has no label ${l}`);
    if (
      o.metadata.labels?.['app.kubernetes.io/part-of'] !== undefined &&
      o.metadata.labels['app.kubernetes.io/part-of'] !== 'socat-relay'
    )
      p.push(`${key(o)}: part-of is ${o.metadata.labels['app.kubernetes.io/part-of']}`);
    if (o.kind === 'DaemonSet') {
      const podLabels = o.spec.template.metadata?.labels ?? {};
      if (!matches(o.spec.selector?.matchLabels, podLabels))
        p.push(`${key(o)}: its selector ${json(o.spec.selector)} does not select its own pods ${json(podLabels)}`);
      for (const l of HELM_LABELS)
        if (l !== 'helm.sh/chart' && !podLabels[l]) p.push(`${key(o)}: its pods have no label ${l}`);
      if (podLabels['helm.sh/chart'])
        p.push(`${key(o)}: its pods carry helm.sh/chart, so a chart-only upgrade would restart every one of them`);
      const sa = o.spec.template.spec.serviceAccountName;
      if (sa && !find('ServiceAccount', sa, namespace))
        p.push(`${key(o)} runs as ServiceAccount ${sa}, which is not rendered`);
    }
    if (o.kind === 'ClusterRoleBinding' || o.kind === 'RoleBinding') {
      for (const s of o.subjects ?? []) {
        if (s.kind === 'ServiceAccount' && !find('ServiceAccount', s.name, s.namespace))
          p.push(`${key(o)} binds ServiceAccount ${s.namespace}/${s.name}, which is not rendered`);
      }
      if (!find(o.roleRef.kind, o.roleRef.name))
        p.push(`${key(o)} binds ${o.roleRef.kind} ${o.roleRef.name}, which is not rendered`);
    }
  }

  const controllerDs = daemonSetRunning(objs, 'controller');
  if (!controllerDs) return [...p, 'no DaemonSet runs the controller'];
  const controller = containersOf(controllerDs).find((c) => c.args?.[0] === 'controller')!;
  const config = loadConfig([], { ...envOf(controller), NODE_NAME: 'node-1' });
  const controllerPod = controllerDs.spec.template;
  const agentDs = daemonSetRunning(objs, 'agent');

  // The volume source: what the controller injects must be served.
  const relay = validateRelay({
    apiVersion: 'socat.io/v1alpha1',
    kind: 'Relay',
    metadata: { name: 'kube-scheduler' },
    spec: { target: { host: '127.0.0.1', port: 10259 }, consumers: { namespaces: ['monitoring'] } },
  }).resolved!;
  const volume = sidecarVolume(
    relay,
    defaultInjectOptions({ volumeSource: config.volumeSource, nodeSocketDir: config.socketDir }),
  );
  const csiDrivers = objs.filter((o) => o.kind === 'CSIDriver');
  const plugins = agentDs ? containersOf(agentDs).filter((c) => c.args?.[0] === 'csi') : [];
  if ('csi' in volume) {
    const driver = volume.csi.driver;
    if (!csiDrivers.some((d) => d.metadata.name === driver))
      p.push(
        `${key(controllerDs)} injects ${driver} volumes (volume source ${config.volumeSource}) but no CSIDriver ${driver} is rendered: consumer pods would stay in ContainerCreating`,
      );
    if (agentDs) {
      const served = plugins.filter((c) => parseCsiArgs(c.args!.slice(1), {}, () => 'node-1') !== 'help');
      if (
        !served.some(
          (c) => (parseCsiArgs(c.args!.slice(1), {}, () => 'node-1') as { driverName: string }).driverName === driver,
        )
      ) {
        p.push(`${key(controllerDs)} injects ${driver} volumes but ${key(agentDs)} runs no CSI plugin for ${driver}`);
      }
    }
  } else {
    for (const d of csiDrivers)
      p.push(
        `${key(d)} is rendered but the controller injects hostPath volumes (volume source ${config.volumeSource}): nothing mounts through it`,
      );
    for (const c of plugins)
      p.push(
        `${key(agentDs!)}: container ${c.name} runs a CSI plugin (privileged) that the hostPath volume source never uses`,
      );
  }
  // The CSI plugin's kubelet folder: the path it announces is the path the kubelet sees.
  if (agentDs) {
    const volumes = new Map<string, any>((agentDs.spec.template.spec.volumes ?? []).map((v: any) => [v.name, v]));
    for (const c of plugins) {
      const args = parseCsiArgs(c.args!.slice(1), {}, () => 'node-1');
      if (args === 'help') continue;
      const mount = (c.volumeMounts ?? []).find((m) => m.mountPath === args.kubeletDir);
      if (!mount) {
        p.push(`${key(agentDs)}: ${c.name} --kubelet-dir=${args.kubeletDir} but nothing is mounted there`);
        continue;
      }
      if (mount.mountPropagation !== 'Bidirectional')
        p.push(`${key(agentDs)}: ${c.name}'s mount at ${args.kubeletDir} is not Bidirectional`);
      const hostPath = volumes.get(mount.name)?.hostPath?.path;
      if (hostPath !== args.kubeletDir)
        p.push(
          `${key(agentDs)}: ${c.name} --kubelet-dir=${args.kubeletDir} is mounted from the host's ${hostPath ?? '(no hostPath)'}: the plugin would announce a path the kubelet does not have`,
        );
    }
    const used = new Set(containersOf(agentDs).flatMap((c) => (c.volumeMounts ?? []).map((m) => m.name)));
    for (const name of volumes.keys())
      if (!used.has(name)) p.push(`${key(agentDs)}: volume ${name} is mounted by no container`);
  }

  // The controller's ports and its TLS Secret.
  const ports = new Map((controller.ports ?? []).map((x) => [x.name, x.containerPort]));
  if (ports.get('https') !== config.port)
    p.push(
      `${key(controllerDs)}: container port https is ${ports.get('https')}, the controller listens on ${config.port}`,
    );
  if (ports.get('metrics') !== config.metricsPort)
    p.push(
      `${key(controllerDs)}: container port metrics is ${ports.get('metrics')}, /metrics is on ${config.metricsPort}`,
    );
  for (const probe of [controller.readinessProbe, controller.livenessProbe]) {
    const port = probe?.httpGet?.port;
    if (typeof port === 'string' && !ports.has(port))
      p.push(`${key(controllerDs)}: a probe uses port ${port}, which the container does not name`);
  }
  if (controllerPod.spec.hostNetwork && controllerPod.spec.dnsPolicy !== 'ClusterFirstWithHostNet')
    p.push(`${key(controllerDs)}: hostNetwork without dnsPolicy ClusterFirstWithHostNet`);
  const tlsMount = (controller.volumeMounts ?? []).find((m) => m.mountPath === path.dirname(config.tlsCert));
  const tlsSecret: string | undefined = (controllerPod.spec.volumes ?? []).find((v: any) => v.name === tlsMount?.name)
    ?.secret?.secretName;
  if (config.certificates === 'files' && !tlsSecret)
    p.push(`${key(controllerDs)}: the serving certificate ${config.tlsCert} comes from no Secret volume`);
  if (config.certificates === 'self-managed' && tlsSecret)
    p.push(`${key(controllerDs)}: keeps its own certificates but still mounts Secret ${tlsSecret}`);

  // Webhooks → Service → controller, and the CA they trust.
  const configs = objs.filter((o) => o.kind.endsWith('WebhookConfiguration'));
  if (configs.length !== 2) p.push(`${configs.length} webhook configurations rendered, want 2`);
  let service: KubeObject | undefined;
  for (const wc of configs) {
    for (const w of wc.webhooks) {
      const ref = w.clientConfig.service;
      const svc = find('Service', ref?.name, ref?.namespace);
      if (!svc) {
        p.push(`${key(wc)} ${w.name} calls Service ${ref?.namespace}/${ref?.name}, which is not rendered`);
        continue;
      }
      service = svc;
      const port = svc.spec.ports.find((x: any) => x.port === (ref.port ?? 443));
      if (!port) p.push(`${key(wc)} ${w.name} calls port ${ref.port ?? 443} of ${key(svc)}, which has no such port`);
      else if (
        typeof port.targetPort === 'string'
          ? ports.get(port.targetPort) !== config.port
          : port.targetPort !== config.port
      )
        p.push(`${key(svc)} port ${port.port} forwards to ${port.targetPort}, the webhooks are on ${config.port}`);
      if (!matches(svc.spec.selector, controllerPod.metadata?.labels))
        p.push(`${key(svc)} does not select the controller's pods`);
      const excluded =
        (w.namespaceSelector?.matchExpressions ?? []).find(
          (e: any) => e.key === 'kubernetes.io/metadata.name' && e.operator === 'NotIn',
        )?.values ?? [];
      const admitsPods = (w.rules ?? []).some((r: any) =>
        (r.resources ?? []).some((x: string) => x === 'pods' || x.startsWith('pods/')),
      );
      if (admitsPods && !excluded.includes(namespace))
        p.push(
          `${key(wc)} ${w.name} does not exclude the release namespace ${namespace}: the controller's own pods would depend on it`,
        );
    }
  }
  if (config.certificates === 'self-managed')
    p.push(...selfManagedProblems(objs, namespace, controllerDs, configs, find));
  else p.push(...certManagerProblems(objs, namespace, tlsSecret, configs, serviceHost(service), find));

  // Policies: bound, and matching the pods the pod webhook sees.
  const policies = objs.filter((o) => o.kind === 'ValidatingAdmissionPolicy');
  const bindings = objs.filter((o) => o.kind === 'ValidatingAdmissionPolicyBinding');
  for (const b of bindings)
    if (!policies.some((x) => x.metadata.name === b.spec.policyName))
      p.push(`${key(b)} binds policy ${b.spec.policyName}, which is not rendered`);
  for (const x of policies)
    if (!bindings.some((b) => b.spec.policyName === x.metadata.name))
      p.push(`${key(x)} has no binding: it checks nothing`);
  const podWebhook = configs.flatMap((wc) => wc.webhooks).find((w: any) => w.name === 'pods.socat.io');
  const requireSidecar = policies.find((x) => x.metadata.name === 'socat-relay-require-sidecar');
  if (requireSidecar && podWebhook) {
    for (const field of ['namespaceSelector', 'objectSelector'] as const) {
      if (json(requireSidecar.spec.matchConstraints?.[field]) !== json(podWebhook[field])) {
        p.push(
          `${key(requireSidecar)}: its ${field} ${json(requireSidecar.spec.matchConstraints?.[field])} differs from pods.socat.io's ${json(podWebhook[field])}: it would judge pods the webhook never injects, or miss some`,
        );
      }
    }
    const socketRoot = (requireSidecar.spec.variables ?? []).find((v: any) => v.name === 'socketRoot')?.expression;
    if (socketRoot !== undefined && socketRoot !== `'${config.socketDir}'`)
      p.push(
        `${key(requireSidecar)}: variables.socketRoot is ${socketRoot}, the controller's socket folder is ${config.socketDir}`,
      );
  }

  // The ServiceMonitor scrapes a port that exists, trusting the CA of the certificate served there.
  for (const sm of objs.filter((o) => o.kind === 'ServiceMonitor')) {
    const svc = objs.find(
      (o) =>
        o.kind === 'Service' &&
        matches(sm.spec.selector?.matchLabels, o.metadata.labels) &&
        (sm.spec.namespaceSelector?.matchNames ?? [sm.metadata.namespace]).includes(o.metadata.namespace),
    );
    if (!svc) {
      p.push(`${key(sm)} selects no rendered Service`);
      continue;
    }
    for (const ep of sm.spec.endpoints ?? []) {
      const port = svc.spec.ports.find((x: any) => x.name === ep.port);
      if (!port) {
        p.push(`${key(sm)} scrapes port ${ep.port}, which ${key(svc)} has not`);
        continue;
      }
      if (
        typeof port.targetPort === 'string'
          ? ports.get(port.targetPort) !== config.metricsPort
          : port.targetPort !== config.metricsPort
      )
        p.push(`${key(sm)} scrapes ${key(svc)} port ${ep.port}, which is not /metrics (${config.metricsPort})`);
      const caSecret = config.certificates === 'self-managed' ? SERVING_SECRET : tlsSecret;
      if (ep.tlsConfig?.ca?.secret?.name !== caSecret)
        p.push(
          `${key(sm)} trusts the CA of Secret ${ep.tlsConfig?.ca?.secret?.name}, the controller's CAs are in Secret ${caSecret}`,
        );
      const serverName = ep.tlsConfig?.serverName;
      const names =
        config.certificates === 'self-managed'
          ? SelfManagedCerts.hosts(namespace, config.certHosts)
          : objs.find((o) => o.kind === 'Certificate' && o.spec.secretName === tlsSecret)?.spec.dnsNames;
      if (!names?.includes(serverName))
        p.push(`${key(sm)}: serverName ${serverName} is not on the serving certificate`);
    }
  }
  return p;
}

type Find = (kind: string, name: string | undefined, namespace?: string) => KubeObject | undefined;
const serviceHost = (service: KubeObject | undefined) =>
  service ? `${service.metadata.name}.${service.metadata.namespace}.svc` : undefined;

/** The controller serves a Secret's files: cert-manager's Certificate must make it and inject its CA. */
function certManagerProblems(
  objs: KubeObject[],
  namespace: string,
  tlsSecret: string | undefined,
  configs: KubeObject[],
  host: string | undefined,
  find: Find,
): string[] {
  const p: string[] = [];
  const certificates = objs.filter((o) => o.kind === 'Certificate');
  const serving = certificates.find((c) => c.spec.secretName === tlsSecret);
  const secret = objs.find(
    (o) => o.kind === 'Secret' && o.metadata.name === tlsSecret && o.metadata.namespace === namespace,
  );
  if (serving && secret)
    p.push(
      `both ${key(serving)} and ${key(secret)} make Secret ${tlsSecret}: cert-manager and the chart would overwrite each other`,
    );
  if (!serving) return [...p, `the controller serves Secret ${tlsSecret}, which no Certificate makes`];
  for (const wc of configs) {
    const inject = wc.metadata.annotations?.['cert-manager.io/inject-ca-from'];
    if (inject !== `${namespace}/${serving.metadata.name}`)
      p.push(
        `${key(wc)}: cert-manager.io/inject-ca-from is ${inject ?? '(none)'}, the serving Certificate is ${namespace}/${serving.metadata.name}`,
      );
    for (const w of wc.webhooks)
      if (w.clientConfig.caBundle)
        p.push(`${key(wc)} ${w.name} has a fixed caBundle while cert-manager injects the CA`);
  }
  if (host && !serving.spec.dnsNames?.includes(host)) p.push(`${key(serving)} is not issued for ${host}`);
  for (const c of certificates) {
    const issuer = find(c.spec.issuerRef.kind ?? 'Issuer', c.spec.issuerRef.name, namespace);
    if (!issuer) {
      p.push(`${key(c)} is issued by ${c.spec.issuerRef.kind} ${c.spec.issuerRef.name}, which is not rendered`);
      continue;
    }
    if (issuer.spec.ca && !certificates.some((x) => x.spec.isCA && x.spec.secretName === issuer.spec.ca.secretName))
      p.push(`${key(issuer)} signs with Secret ${issuer.spec.ca.secretName}, which no CA Certificate makes`);
  }
  return p;
}

/**
 * The serving controllers keep the certificates (webhook/certs/): their two Secrets rendered empty
 * (a render generates nothing), the rights to exactly those and to the two webhook configurations
 * bound to the serving controllers' ServiceAccount, and nothing of cert-manager's.
 */
function selfManagedProblems(
  objs: KubeObject[],
  namespace: string,
  controllerDs: KubeObject,
  configs: KubeObject[],
  find: Find,
): string[] {
  const p: string[] = [];
  if (objs.some((o) => o.apiVersion.startsWith('cert-manager.io/')))
    p.push('cert-manager objects are rendered beside the self-managed certificates');
  for (const name of [CA_SECRET, SERVING_SECRET]) {
    const s = find('Secret', name, namespace);
    if (!s) p.push(`the serving controllers keep Secret ${namespace}/${name}, which is not rendered`);
    else if (s.data || s.stringData)
      p.push(`${key(s)} is rendered with data: a render would overwrite the controllers'`);
  }
  for (const wc of configs) {
    if (wc.metadata.annotations?.['cert-manager.io/inject-ca-from'])
      p.push(`${key(wc)} asks cert-manager to inject a CA, but the controllers keep the certificates`);
    for (const w of wc.webhooks)
      if (w.clientConfig.caBundle !== undefined)
        p.push(`${key(wc)} ${w.name} renders a caBundle: an upgrade or a GitOps sync would overwrite the controllers'`);
  }
  const sa = controllerDs.spec.template.spec.serviceAccountName;
  const granted = (kind: 'Role' | 'ClusterRole', resource: string, name: string) =>
    objs.some(
      (b) =>
        b.kind === `${kind}Binding` &&
        b.subjects?.some((s: any) => s.kind === 'ServiceAccount' && s.name === sa && s.namespace === namespace) &&
        find(kind, b.roleRef.name, kind === 'Role' ? b.metadata.namespace : undefined)?.rules?.some(
          (r: any) =>
            r.resources?.includes(resource) &&
            r.resourceNames?.includes(name) &&
            ['get', 'update'].every((v) => r.verbs?.includes(v)),
        ),
    );
  for (const name of [CA_SECRET, SERVING_SECRET])
    if (!granted('Role', 'secrets', name)) p.push(`ServiceAccount ${sa} may not get and update Secret ${name}`);
  for (const r of ['mutatingwebhookconfigurations', 'validatingwebhookconfigurations'])
    if (!granted('ClusterRole', r, WEBHOOK_CONFIGURATION))
      p.push(`ServiceAccount ${sa} may not get and update ${r} ${WEBHOOK_CONFIGURATION}`);
  return p;
}
