// Every manifest the project ships passes a schema check (the kubernetes-models packages, which carry
// the upstream OpenAPI schemas; the Relay CRD's own schema for Relays), `kubectl kustomize` renders
// both install variants offline with every expected kind, and the security-relevant settings (RBAC,
// webhook failure policies and selectors, the controller's privileges, the sidecar policy's CEL) are
// exactly what README, docs/security.md and docs/install.md say. The real API server's dry-run lives in
// test/apiserver/.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { validateRelay } from '../../relay/validate.js';
import { CONSUME_LABEL, INJECTED_ANNOTATION } from '../../relay/constants.js';
import { DEFAULT_IMAGE, DEFAULT_SIDECAR_IMAGE } from '../../lib/image.js';
import { loadConfig } from '../../webhook/config.js';
import { injectPod } from '../harness/inject.js';
import { kustomize, loadManifests, MANIFESTS, modelFor, REPO, type KubeObject } from '../harness/manifest-load.js';
import { skipWithout } from '../harness/tools.js';
import { celEval, validateAgainst, type Schema } from './openapi.js';
import { judgeSidecarPolicy } from '../harness/policy.js';

const IMAGE = 'ghcr.io/socat-relay/socat-relay:0.1.0';
const NAMESPACE = 'socat-relay-system';
const all = loadManifests();
const one = (kind: string, name?: string): KubeObject => {
  const found = all.filter(
    (l) => l.object.kind === kind && (!name || l.object.metadata.name === name) && !l.file.includes('/examples/'),
  );
  assert.equal(
    found.length,
    1,
    `exactly one ${kind} ${name ?? ''} outside examples/, found ${found.map((f) => f.file).join(', ')}`,
  );
  return found[0]!.object;
};
/** A workload whose pod spec kustomize fills in (the agent DaemonSet): checked as rendered, below. */
const isShell = (o: KubeObject): boolean =>
  o.spec?.template?.spec !== undefined && Object.keys(o.spec.template.spec).length === 0;
async function assertValid(object: KubeObject): Promise<void> {
  const Model = await modelFor(object.apiVersion, object.kind);
  assert.ok(Model, `no schema model for ${object.apiVersion} ${object.kind}: add one to test/harness/manifest-load.ts`);
  assert.doesNotThrow(() => new Model(object).validate(), `${object.kind} ${object.metadata.name}`);
}
const crd = one('CustomResourceDefinition', 'relays.socat.io');
const relaySchema = crd.spec.versions[0].schema.openAPIV3Schema as Schema;

describe('every object under manifests/ passes its schema', () => {
  test('there are manifests to check (the walk found the CRD, the controller and the examples)', () => {
    assert.ok(all.length >= 15, `found ${all.length}`);
    assert.ok(
      all.some((l) => l.file.startsWith('manifests/examples/')),
      'examples found',
    );
  });
  for (const { file, object } of all.filter((l) => !isShell(l.object))) {
    test(`${file}: ${object.kind} ${object.metadata?.name} is valid`, async () => {
      assert.equal(typeof object.apiVersion, 'string');
      assert.equal(typeof object.kind, 'string');
      assert.match(object.metadata?.name ?? '', /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/, 'metadata.name is a DNS subdomain');
      if (object.apiVersion === 'socat.io/v1alpha1' && object.kind === 'Relay') {
        assert.deepEqual(validateRelay(object).problems, [], 'validateRelay');
        assert.deepEqual(validateAgainst(relaySchema, object).problems, [], 'the Relay CRD schema');
        return;
      }
      await assertValid(object);
    });
  }
  test('a broken manifest is caught by the same check (the models do validate)', async () => {
    const ds = structuredClone(one('DaemonSet', 'socat-relay-controller'));
    ds.spec.template.spec.containers[0].ports[0].containerPort = 'https';
    const Model = (await modelFor('apps/v1', 'DaemonSet'))!;
    assert.throws(() => new Model(ds).validate(), /containerPort/);
  });
});

describe('kubectl kustomize renders offline', { skip: skipWithout('kubectl') }, () => {
  const expected = [
    'CSIDriver',
    'ClusterRole',
    'ClusterRoleBinding',
    'CustomResourceDefinition',
    'DaemonSet',
    'MutatingWebhookConfiguration',
    'Namespace',
    'Role',
    'RoleBinding',
    'Service',
    'ServiceAccount',
    'ValidatingAdmissionPolicy',
    'ValidatingAdmissionPolicyBinding',
    'ValidatingWebhookConfiguration',
  ];
  const kinds = (objs: KubeObject[]) => [...new Set(objs.map((o) => o.kind))].sort();

  test('manifests/ (with cert-manager): every kind, the CA chain, the CA injection; every object passes its schema', async () => {
    const objs = await kustomize(MANIFESTS);
    assert.deepEqual(kinds(objs), [...expected, 'Certificate', 'Issuer'].sort());
    assert.deepEqual(
      objs
        .filter((o) => o.kind === 'Certificate')
        .map((o) => o.metadata.name)
        .sort(),
      ['socat-relay-ca', 'socat-relay-webhook'],
    );
    for (const o of objs.filter((x) => x.kind.endsWith('WebhookConfiguration'))) {
      assert.equal(o.metadata.annotations?.['cert-manager.io/inject-ca-from'], `${NAMESPACE}/socat-relay-webhook`);
    }
    assert.equal(objs.filter((o) => o.kind === 'DaemonSet')[0]!.spec.template.spec.containers[0].image, IMAGE);
    for (const o of objs.filter((x) => x.kind !== 'CustomResourceDefinition')) await assertValid(o);
  });

  test('manifests/no-cert-manager/: the same without cert-manager objects or annotations', async () => {
    const objs = await kustomize(path.join(MANIFESTS, 'no-cert-manager'));
    assert.deepEqual(kinds(objs), expected);
    assert.ok(objs.every((o) => !o.metadata.annotations?.['cert-manager.io/inject-ca-from']));
  });

  test("manifests/node-agent/: the agent DaemonSet runs exactly the static pod's spec, on every node but the static-pod ones", async () => {
    const objs = await kustomize(path.join(MANIFESTS, 'node-agent'));
    assert.deepEqual(
      objs.map((o) => `${o.kind}/${o.metadata.namespace}/${o.metadata.name}`),
      [`DaemonSet/${NAMESPACE}/socat-relay-agent`],
    );
    const ds = objs[0]!;
    await assertValid(ds);
    const pod = one('Pod', 'socat-relay-agent');
    const { tolerations, affinity, ...spec } = ds.spec.template.spec;
    assert.deepEqual(spec, pod.spec, "the pod spec is the static pod's (copied by kustomize, not a second copy)");
    assert.deepEqual(tolerations, [{ operator: 'Exists' }]);
    assert.deepEqual(affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms, [
      { matchExpressions: [{ key: 'socat.io/agent', operator: 'NotIn', values: ['static-pod'] }] },
    ]);
    assert.deepEqual(ds.spec.selector.matchLabels, ds.spec.template.metadata.labels);
    assert.ok(
      Object.entries(pod.metadata.labels ?? {}).every(([k, v]) => ds.spec.template.metadata.labels[k] === v),
      'the same labels as the static pod',
    );
  });

  test("one image setting: an overlay's images: moves the controller, its sidecar setting and the agent; no upstream name is left", async (t) => {
    const dir = mkdtempSync(path.join(REPO, 'node_modules', '.cache-kz-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const overlay = (base: string) => {
      const d = mkdtempSync(path.join(dir, 'overlay-'));
      writeFileSync(
        path.join(d, 'kustomization.yaml'),
        [
          'apiVersion: kustomize.config.k8s.io/v1beta1',
          'kind: Kustomization',
          `resources: [${path.relative(d, path.join(MANIFESTS, base)) || '.'}]`,
          'images:',
          '  - name: ghcr.io/socat-relay/socat-relay',
          '    newName: registry.example.com/mirror/socat-relay',
          '    newTag: 9.9.9',
          '',
        ].join('\n'),
      );
      return d;
    };
    const moved = 'registry.example.com/mirror/socat-relay:9.9.9';
    for (const base of ['', 'no-cert-manager', 'node-agent']) {
      const objs = await kustomize(overlay(base));
      const text = JSON.stringify(objs);
      assert.doesNotMatch(text, /ghcr\.io\/socat-relay/, `manifests/${base}: an upstream image name is left`);
      for (const ds of objs.filter((o) => o.kind === 'DaemonSet')) {
        for (const c of ds.spec.template.spec.containers) assert.equal(c.image, moved);
      }
      const controller = objs.find((o) => o.kind === 'DaemonSet' && o.metadata.name === 'socat-relay-controller');
      if (base === 'node-agent') continue;
      const env = Object.fromEntries(
        controller!.spec.template.spec.containers[0].env
          .filter((e: any) => 'value' in e)
          .map((e: any) => [e.name, e.value]),
      );
      assert.equal(env.SOCAT_RELAY_IMAGE, moved);
      const config = loadConfig([], { ...env, NODE_NAME: 'n' });
      assert.equal(
        config.sidecarImage,
        'registry.example.com/mirror/socat-relay-sidecar:9.9.9',
        'the controller injects the moved sidecar',
      );
    }
  });
});

describe('the controller manifests', () => {
  test('RBAC is exactly the agreed least privilege', () => {
    const rules = one('ClusterRole', 'socat-relay-controller').rules as {
      apiGroups: string[];
      resources: string[];
      verbs: string[];
    }[];
    const flat = rules
      .flatMap((r) =>
        r.apiGroups.flatMap((g) => r.resources.flatMap((res) => r.verbs.map((v) => `${g || 'core'}/${res}:${v}`))),
      )
      .sort();
    assert.deepEqual(
      flat,
      [
        'core/events:create',
        'core/namespaces:list',
        'core/namespaces:watch',
        'core/nodes:list',
        'core/nodes:watch',
        'socat.io/relays/status:patch',
        'socat.io/relays:get',
        'socat.io/relays:list',
        'socat.io/relays:watch',
        'socat.io/relaynodes:get',
        'socat.io/relaynodes:list',
        'socat.io/relaynodes:watch',
        'socat.io/relaynodes:create',
        'socat.io/relaynodes:patch',
        'authentication.k8s.io/tokenreviews:create',
        'authorization.k8s.io/subjectaccessreviews:create',
      ].sort(),
    );
    // The reconcile-only account: one node's needs — no Relay status, no list or watch of RelayNodes or Leases.
    const nodeRules = one('ClusterRole', 'socat-relay-node').rules as {
      apiGroups: string[];
      resources: string[];
      verbs: string[];
    }[];
    assert.deepEqual(
      nodeRules
        .flatMap((r) =>
          r.apiGroups.flatMap((g) => r.resources.flatMap((res) => r.verbs.map((v) => `${g || 'core'}/${res}:${v}`))),
        )
        .sort(),
      [
        'core/events:create',
        'core/namespaces:list',
        'core/namespaces:watch',
        'core/nodes:list',
        'core/nodes:watch',
        'socat.io/relays:list',
        'socat.io/relays:watch',
        'socat.io/relaynodes:get',
        'socat.io/relaynodes:create',
        'socat.io/relaynodes:patch',
        'authentication.k8s.io/tokenreviews:create',
        'authorization.k8s.io/subjectaccessreviews:create',
      ].sort(),
    );
    assert.deepEqual(one('Role', 'socat-relay-node-leases').rules, [
      { apiGroups: ['coordination.k8s.io'], resources: ['leases'], verbs: ['get', 'create', 'update'] },
    ]);
    for (const b of [one('ClusterRoleBinding', 'socat-relay-node'), one('RoleBinding', 'socat-relay-node-leases')]) {
      assert.deepEqual(b.subjects, [{ kind: 'ServiceAccount', name: 'socat-relay-node', namespace: NAMESPACE }]);
    }
    // The controllers' Leases: a Role in their own namespace, nothing cluster-wide.
    const leases = one('Role', 'socat-relay-controller-leases');
    assert.equal(leases.metadata.namespace, NAMESPACE);
    assert.deepEqual(leases.rules, [
      {
        apiGroups: ['coordination.k8s.io'],
        resources: ['leases'],
        verbs: ['get', 'list', 'watch', 'create', 'update'],
      },
    ]);
    assert.deepEqual(one('RoleBinding', 'socat-relay-controller-leases').subjects, [
      { kind: 'ServiceAccount', name: 'socat-relay-controller', namespace: NAMESPACE },
    ]);
    assert.deepEqual(one('ClusterRole', 'socat-relay-metrics-reader').rules, [
      { nonResourceURLs: ['/metrics'], verbs: ['get'] },
    ]);
    const binding = one('ClusterRoleBinding', 'socat-relay-controller');
    assert.deepEqual(binding.subjects, [
      { kind: 'ServiceAccount', name: 'socat-relay-controller', namespace: NAMESPACE },
    ]);
    assert.equal(binding.roleRef.name, 'socat-relay-controller');
    assert.equal(one('ServiceAccount', 'socat-relay-controller').metadata.namespace, NAMESPACE);
  });

  test('the DaemonSet runs `controller` from the one image, hardened, with the agreed settings and mounts', () => {
    const ds = one('DaemonSet', 'socat-relay-controller');
    const pod = ds.spec.template.spec;
    const c = pod.containers[0];
    assert.equal(ds.metadata.namespace, NAMESPACE);
    assert.equal(pod.serviceAccountName, 'socat-relay-controller');
    assert.equal(c.image, IMAGE);
    assert.equal(IMAGE, DEFAULT_IMAGE, "the controller's default image is the manifests image");
    assert.equal(
      DEFAULT_SIDECAR_IMAGE,
      'ghcr.io/socat-relay/socat-relay-sidecar:0.1.0',
      'and the sidecar default is derived from it',
    );
    assert.deepEqual(c.args, ['controller']);
    assert.equal(c.command, undefined, 'the image entrypoint is used');
    const env = Object.fromEntries(
      c.env.map((e: { name: string; value?: string; valueFrom?: unknown }) => [e.name, e.value ?? e.valueFrom]),
    );
    assert.deepEqual(env, {
      NODE_NAME: { fieldRef: { fieldPath: 'spec.nodeName' } },
      POD_NAMESPACE: { fieldRef: { fieldPath: 'metadata.namespace' } },
      SOCAT_RELAY_PORT: '8443',
      SOCAT_RELAY_METRICS_PORT: '9464',
      SOCAT_RELAY_TLS_CERT: '/tls/tls.crt',
      SOCAT_RELAY_TLS_KEY: '/tls/tls.key',
      SOCAT_RELAY_CONFIG_DIR: '/etc/socat-relay/relays.d',
      SOCAT_RELAY_SOCKET_DIR: '/run/socat-relay',
      SOCAT_RELAY_IMAGE: IMAGE,
      SOCAT_RELAY_SIDECAR_MODE: 'auto',
      SOCAT_RELAY_VOLUME_SOURCE: 'csi',
      SOCAT_RELAY_RECONCILE: 'true',
      SOCAT_RELAY_SERVE_ADMISSION: 'true',
      LOG_LEVEL: 'info',
    });
    const configTs = path.join(REPO, 'webhook', 'config.ts');
    if (existsSync(configTs)) {
      const source = readFileSync(configTs, 'utf8');
      for (const name of Object.keys(env)) assert.ok(source.includes(`'${name}'`), `webhook/config.ts knows ${name}`);
    }
    assert.deepEqual(c.ports, [
      { name: 'https', containerPort: 8443, protocol: 'TCP' },
      { name: 'metrics', containerPort: 9464, protocol: 'TCP' },
    ]);
    assert.deepEqual(
      [c.readinessProbe.httpGet, c.livenessProbe.httpGet],
      [
        { path: '/readyz', port: 'https', scheme: 'HTTPS' },
        { path: '/healthz', port: 'https', scheme: 'HTTPS' },
      ],
    );
    const sc = c.securityContext;
    assert.deepEqual(
      [sc.readOnlyRootFilesystem, sc.allowPrivilegeEscalation, sc.capabilities, sc.seccompProfile, sc.privileged],
      [true, false, { drop: ['ALL'] }, { type: 'RuntimeDefault' }, undefined],
    );
    assert.ok(c.resources.requests.cpu && c.resources.requests.memory && c.resources.limits.memory);
    const mounts = Object.fromEntries(
      c.volumeMounts.map((m: { name: string; mountPath: string; readOnly?: boolean }) => [
        m.mountPath,
        `${m.name}${m.readOnly ? ':ro' : ':rw'}`,
      ]),
    );
    assert.deepEqual(mounts, {
      '/etc/socat-relay': 'config:rw',
      '/run/socat-relay': 'sockets:ro',
      '/tls': 'tls:ro',
      '/tmp': 'tmp:rw',
    });
    const vols = Object.fromEntries(
      pod.volumes.map((v: any) => [
        v.name,
        v.hostPath?.path ?? v.secret?.secretName ?? (v.emptyDir ? 'emptyDir' : '?'),
      ]),
    );
    assert.deepEqual(vols, {
      config: '/etc/socat-relay',
      sockets: '/run/socat-relay',
      tls: 'socat-relay-webhook-tls',
      tmp: 'emptyDir',
    });
    assert.ok(
      pod.tolerations.some((t: any) => t.key === 'node-role.kubernetes.io/control-plane' && t.effect === 'NoSchedule'),
    );
    assert.ok(
      pod.tolerations.some((t: any) => t.key === undefined && t.operator === 'Exists' && t.effect === 'NoSchedule'),
    );
    assert.equal(pod.hostNetwork, undefined, 'the webhook is reached through the pod network, not the node');
    assert.deepEqual(
      pod.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms,
      [{ matchExpressions: [{ key: 'node-role.kubernetes.io/control-plane', operator: 'Exists' }] }],
      'admission is served from control-plane nodes',
    );
  });

  test('the reconcile-only DaemonSet: every other node, its own account, no serving key, no webhook port, probes on the metrics port', () => {
    const serving = one('DaemonSet', 'socat-relay-controller');
    const ds = one('DaemonSet', 'socat-relay-node');
    const pod = ds.spec.template.spec;
    const c = pod.containers[0];
    assert.equal(pod.serviceAccountName, 'socat-relay-node');
    assert.deepEqual(
      pod.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms,
      [{ matchExpressions: [{ key: 'node-role.kubernetes.io/control-plane', operator: 'DoesNotExist' }] }],
      'the complement of the serving nodes',
    );
    const env = Object.fromEntries(
      c.env.map((e: { name: string; value?: string; valueFrom?: unknown }) => [e.name, e.value ?? e.valueFrom]),
    );
    assert.equal(env.SOCAT_RELAY_SERVE_ADMISSION, 'false');
    assert.equal(env.SOCAT_RELAY_RECONCILE, 'true');
    for (const k of ['SOCAT_RELAY_TLS_CERT', 'SOCAT_RELAY_TLS_KEY', 'SOCAT_RELAY_PORT'])
      assert.equal(env[k], undefined, k);
    assert.ok(!JSON.stringify(pod.volumes).includes('socat-relay-webhook-tls'), 'no serving key');
    assert.deepEqual(c.ports, [{ name: 'metrics', containerPort: 9464, protocol: 'TCP' }]);
    assert.deepEqual(
      [c.readinessProbe.httpGet, c.livenessProbe.httpGet],
      [
        { path: '/readyz', port: 'metrics', scheme: 'HTTPS' },
        { path: '/healthz', port: 'metrics', scheme: 'HTTPS' },
      ],
    );
    assert.deepEqual(c.securityContext, serving.spec.template.spec.containers[0].securityContext, 'hardened alike');
    // Not behind the webhook Service.
    const svc = one('Service', 'socat-relay-webhook');
    assert.ok(
      Object.entries(svc.spec.selector as Record<string, string>).some(
        ([k, v]) => ds.spec.template.metadata.labels[k] !== v,
      ),
    );
  });

  test("the Service sends 443 to the controllers' https port", () => {
    const svc = one('Service', 'socat-relay-webhook');
    const ds = one('DaemonSet', 'socat-relay-controller');
    assert.equal(svc.metadata.namespace, NAMESPACE);
    assert.deepEqual(svc.spec.ports, [
      { name: 'https', port: 443, targetPort: 'https', protocol: 'TCP' },
      { name: 'metrics', port: 9464, targetPort: 'metrics', protocol: 'TCP' },
    ]);
    for (const [k, v] of Object.entries(svc.spec.selector as Record<string, string>))
      assert.equal(ds.spec.template.metadata.labels[k], v);
  });

  test("the ServiceMonitor scrapes the Service's metrics port over HTTPS with a token, trusts the webhook CA, and carries the release label", () => {
    const sm = one('ServiceMonitor', 'socat-relay-controller');
    const svc = one('Service', 'socat-relay-webhook');
    for (const [k, v] of Object.entries(sm.spec.selector.matchLabels as Record<string, string>))
      assert.equal(svc.metadata.labels?.[k], v, k);
    assert.deepEqual(sm.spec.namespaceSelector, { matchNames: [NAMESPACE] });
    assert.equal(
      sm.metadata.labels?.release,
      'kube-prometheus-stack',
      "kube-prometheus-stack's default serviceMonitorSelector",
    );
    const [e, ...rest] = sm.spec.endpoints;
    assert.equal(rest.length, 0);
    assert.ok(svc.spec.ports.some((p: { name: string }) => p.name === e.port));
    assert.deepEqual(
      [e.scheme, e.path, e.bearerTokenFile],
      ['https', '/metrics', '/var/run/secrets/kubernetes.io/serviceaccount/token'],
    );
    assert.ok(one('Certificate', 'socat-relay-webhook').spec.dnsNames.includes(e.tlsConfig.serverName));
    assert.deepEqual(e.tlsConfig.ca.secret, {
      name: one('Certificate', 'socat-relay-webhook').spec.secretName,
      key: 'ca.crt',
    });
  });

  test('the serving Certificate covers the Service names and fills the mounted Secret', () => {
    const cert = one('Certificate', 'socat-relay-webhook');
    assert.equal(cert.spec.secretName, 'socat-relay-webhook-tls');
    assert.deepEqual(cert.spec.dnsNames, [
      'socat-relay-webhook',
      `socat-relay-webhook.${NAMESPACE}`,
      `socat-relay-webhook.${NAMESPACE}.svc`,
      `socat-relay-webhook.${NAMESPACE}.svc.cluster.local`,
    ]);
    assert.equal(cert.spec.issuerRef.name, 'socat-relay-ca');
    assert.equal(
      one('Issuer', 'socat-relay-ca').spec.ca.secretName,
      one('Certificate', 'socat-relay-ca').spec.secretName,
    );
    assert.equal(one('Certificate', 'socat-relay-ca').spec.isCA, true);
  });
});

describe('the webhook configurations', () => {
  const excluded = {
    matchExpressions: [{ key: 'kubernetes.io/metadata.name', operator: 'NotIn', values: ['kube-system', NAMESPACE] }],
  };
  test('pods: CREATE; opt-in label, namespaces excluded, mirror pods skipped, fails open, short timeout, reinvoked', () => {
    const [w, , ...rest] = one('MutatingWebhookConfiguration', 'socat-relay').webhooks;
    assert.equal(rest.length, 0);
    assert.equal(w.name, 'pods.socat.io');
    assert.deepEqual(w.clientConfig.service, {
      name: 'socat-relay-webhook',
      namespace: NAMESPACE,
      path: '/mutate-pods',
      port: 443,
    });
    assert.deepEqual(w.rules, [
      { apiGroups: [''], apiVersions: ['v1'], operations: ['CREATE'], resources: ['pods'], scope: 'Namespaced' },
    ]);
    assert.deepEqual(w.objectSelector, { matchExpressions: [{ key: CONSUME_LABEL, operator: 'Exists' }] });
    assert.deepEqual(w.namespaceSelector, excluded);
    assert.deepEqual(
      [w.failurePolicy, w.sideEffects, w.timeoutSeconds, w.reinvocationPolicy, w.admissionReviewVersions],
      ['Ignore', 'None', 5, 'IfNeeded', ['v1']],
    );
    const skipMirror = w.matchConditions[0].expression as string;
    assert.equal(
      celEval(skipMirror, { object: { metadata: { annotations: { 'kubernetes.io/config.mirror': 'x' } } } }),
      false,
      'mirror pod skipped',
    );
    assert.equal(celEval(skipMirror, { object: { metadata: { annotations: { a: 'b' } } } }), true);
    assert.equal(celEval(skipMirror, { object: { metadata: {} } }), true);
  });
  test('ephemeral containers (kubectl debug): UPDATE of pods/ephemeralcontainers of a labeled pod or one that carries socat-* volumes, not selected by the (mutable) label, fails open, never reinvoked', () => {
    const [pods, w] = one('MutatingWebhookConfiguration', 'socat-relay').webhooks;
    assert.equal(w.name, 'ephemeral-containers.socat.io');
    assert.deepEqual(w.clientConfig, pods.clientConfig);
    assert.deepEqual(w.rules, [
      {
        apiGroups: [''],
        apiVersions: ['v1'],
        operations: ['UPDATE'],
        resources: ['pods/ephemeralcontainers'],
        scope: 'Namespaced',
      },
    ]);
    assert.equal(w.objectSelector, undefined);
    assert.deepEqual(w.namespaceSelector, excluded);
    assert.deepEqual(
      [w.failurePolicy, w.sideEffects, w.timeoutSeconds, w.reinvocationPolicy, w.admissionReviewVersions],
      ['Ignore', 'None', 5, 'Never', ['v1']],
    );
    assert.deepEqual(w.matchConditions[0], pods.matchConditions[0]);
    const scope = w.matchConditions[1].expression as string;
    const debug = { operation: 'UPDATE', subResource: 'ephemeralcontainers' };
    const pod = (labels: Record<string, string>, volumes: string[]) => ({
      metadata: { labels },
      spec: { volumes: volumes.map((name) => ({ name, emptyDir: {} })) },
    });
    assert.equal(celEval(scope, { request: debug, object: pod({ [CONSUME_LABEL]: 'sched' }, []) }), true, 'labeled');
    assert.equal(
      celEval(scope, { request: debug, object: pod({}, ['data', 'socat-sched']) }),
      true,
      'label gone, socat-* volume',
    );
    assert.equal(celEval(scope, { request: debug, object: pod({ app: 'x' }, ['data']) }), false, 'neither');
    assert.equal(
      celEval(scope, { request: debug, object: { metadata: {}, spec: {} } }),
      false,
      'no labels, no volumes',
    );
  });
  test('relays: CREATE and UPDATE, fails closed', () => {
    const [w, ...rest] = one('ValidatingWebhookConfiguration', 'socat-relay').webhooks;
    assert.equal(rest.length, 0);
    assert.deepEqual(w.clientConfig.service, {
      name: 'socat-relay-webhook',
      namespace: NAMESPACE,
      path: '/validate-relays',
      port: 443,
    });
    assert.deepEqual(w.rules, [
      {
        apiGroups: ['socat.io'],
        apiVersions: ['v1alpha1'],
        operations: ['CREATE', 'UPDATE'],
        resources: ['relays'],
        scope: 'Cluster',
      },
    ]);
    assert.deepEqual(
      [w.failurePolicy, w.sideEffects, w.timeoutSeconds, w.admissionReviewVersions],
      ['Fail', 'None', 5, ['v1']],
    );
  });
  test('the sidecar policy matches the same pods as the pod webhook (at CREATE)', () => {
    const vap = one('ValidatingAdmissionPolicy', 'socat-relay-require-sidecar');
    const w = one('MutatingWebhookConfiguration', 'socat-relay').webhooks[0];
    assert.deepEqual(vap.spec.matchConstraints.objectSelector, w.objectSelector);
    assert.deepEqual(vap.spec.matchConstraints.namespaceSelector, w.namespaceSelector);
    assert.deepEqual(
      vap.spec.matchConstraints.resourceRules,
      w.rules.map(({ scope: _scope, ...rule }: { scope: string }) => rule),
    );
    const binding = one('ValidatingAdmissionPolicyBinding', 'socat-relay-require-sidecar');
    assert.deepEqual([binding.spec.policyName, binding.spec.validationActions], [vap.metadata.name, ['Deny']]);
  });
  test("the injected-pods policy matches the ephemeral-container webhook's pods, UPDATEs of pods that carry socat-* volumes, and Bindings", () => {
    const vap = one('ValidatingAdmissionPolicy', 'socat-relay-injected-pods');
    const w = one('MutatingWebhookConfiguration', 'socat-relay').webhooks[1];
    assert.equal(vap.spec.matchConstraints.objectSelector, undefined, 'labels are mutable: not selected by the label');
    assert.deepEqual(vap.spec.matchConstraints.namespaceSelector, w.namespaceSelector);
    assert.deepEqual(vap.spec.matchConstraints.resourceRules, [
      {
        apiGroups: [''],
        apiVersions: ['v1'],
        operations: ['UPDATE'],
        resources: ['pods', 'pods/status', 'pods/ephemeralcontainers'],
      },
      // A Binding copies its annotations onto the pod (test/manifests/injected-pods-policy.test.ts).
      { apiGroups: [''], apiVersions: ['v1'], operations: ['CREATE'], resources: ['pods/binding', 'bindings'] },
    ]);
    // For pods the policy's match conditions say what the webhook entry's say; a Binding is always judged.
    assert.deepEqual(
      vap.spec.matchConditions.map((m: { name: string }) => m.name),
      w.matchConditions.map((m: { name: string }) => m.name),
    );
    const pod = { kind: { group: '', version: 'v1', kind: 'Pod' } };
    const withVolumes = { metadata: {}, spec: { volumes: [{ name: 'socat-sched' }] } };
    const without = { metadata: { labels: { [CONSUME_LABEL]: 'sched' } }, spec: { volumes: [{ name: 'data' }] } };
    const mirror = {
      metadata: { annotations: { 'kubernetes.io/config.mirror': 'x' }, labels: { [CONSUME_LABEL]: 'sched' } },
      spec: { volumes: [{ name: 'socat-sched' }] },
    };
    const debug = { ...pod, operation: 'UPDATE', subResource: 'ephemeralcontainers' };
    const inputs: [string, Record<string, unknown>][] = [
      ['kubectl debug of a labeled pod', { request: debug, object: without, oldObject: without }],
      ['kubectl debug of a pod with socat-* volumes', { request: debug, object: withVolumes, oldObject: withVolumes }],
      [
        'kubectl debug of neither',
        { request: debug, object: { metadata: {}, spec: {} }, oldObject: { metadata: {}, spec: {} } },
      ],
      ['kubectl debug of a mirror pod', { request: debug, object: mirror, oldObject: mirror }],
    ];
    for (const [what, input] of inputs) {
      assert.deepEqual(
        vap.spec.matchConditions.map((m: { expression: string }) => celEval(m.expression, input)),
        w.matchConditions.map((m: { expression: string }) => celEval(m.expression, input)),
        what,
      );
    }
    const scope = vap.spec.matchConditions[1].expression as string;
    assert.equal(
      celEval(scope, { request: { ...pod, operation: 'UPDATE' }, oldObject: withVolumes, object: withVolumes }),
      true,
      'UPDATE pods of a pod with socat-* volumes',
    );
    assert.equal(
      celEval(scope, { request: { ...pod, operation: 'UPDATE' }, oldObject: without, object: without }),
      false,
      'UPDATE pods of a labeled pod without socat-* volumes (nothing injected)',
    );
    const bindingWithMirror = {
      request: { kind: { group: '', version: 'v1', kind: 'Binding' }, operation: 'CREATE', subResource: 'binding' },
      object: mirror,
      oldObject: null,
    };
    assert.deepEqual(
      vap.spec.matchConditions.map((m: { expression: string }) => celEval(m.expression, bindingWithMirror)),
      [true, true],
      'a Binding is judged, mirror annotation or not',
    );
    const binding = one('ValidatingAdmissionPolicyBinding', 'socat-relay-injected-pods');
    assert.deepEqual([binding.spec.policyName, binding.spec.validationActions], [vap.metadata.name, ['Deny']]);
  });
});

describe('the sidecar policy (CEL evaluated here; the real API server runs it in test/apiserver/)', () => {
  const judge = (pod: unknown) => judgeSidecarPolicy(pod);
  const relay = {
    apiVersion: 'socat.io/v1alpha1',
    kind: 'Relay',
    metadata: { name: 'kube-scheduler' },
    spec: { target: { host: '127.0.0.1', port: 10259 }, consumers: { namespaces: ['monitoring'] } },
  };
  const consumer = () => ({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'prometheus-0', namespace: 'monitoring', labels: { [CONSUME_LABEL]: 'kube-scheduler' } },
    spec: { containers: [{ name: 'prometheus', image: 'prom/prometheus' }] },
  });

  test('a labeled pod that no controller injected is denied, and the message says the controller did not inject it', () => {
    const r = judge(consumer());
    assert.equal(r.matched, true);
    assert.equal(
      r.denied,
      'pod labeled socat.io/consume=kube-scheduler has no socat-kube-scheduler sidecar: the socat-relay controller did not inject it (is it running? kubectl -n socat-relay-system get pods)',
    );
  });
  for (const mode of ['native', 'regular'] as const) {
    test(`the same pod injected by the real admission (${mode} sidecar) passes`, () => {
      const injected = injectPod(consumer(), [relay], { mode });
      assert.equal(injected.allowed, true, injected.message);
      assert.ok(injected.pod.metadata?.annotations?.[INJECTED_ANNOTATION]);
      assert.deepEqual(judge(injected.pod), { matched: true });
    });
  }
  test('a sidecar by the right name without the injected marker is still denied (a hand-made look-alike)', () => {
    const p = consumer();
    p.spec.containers.push({ name: 'socat-kube-scheduler', image: 'busybox' });
    assert.match(judge(p).denied ?? '', /did not inject it/);
  });
  test('the marker without the sidecar is denied', () => {
    const p: any = consumer();
    p.metadata.annotations = { [INJECTED_ANNOTATION]: 'kube-scheduler' };
    assert.match(judge(p).denied ?? '', /has no socat-kube-scheduler sidecar/);
  });
  test('hostNetwork pods and mirror pods are not judged (the webhook does not inject them)', () => {
    const host: any = consumer();
    host.spec.hostNetwork = true;
    assert.deepEqual(judge(host), { matched: false });
    const notHost: any = consumer();
    notHost.spec.hostNetwork = false;
    assert.equal(judge(notHost).matched, true);
    const mirror: any = consumer();
    mirror.metadata.annotations = { 'kubernetes.io/config.mirror': 'abc' };
    assert.deepEqual(judge(mirror), { matched: false });
  });
});
