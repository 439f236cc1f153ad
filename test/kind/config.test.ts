// The kind suite's pure parts, run for real everywhere (no kind node needed): the kubeadm
// configurations, the CNI template, the docs' shell blocks, and the user's checkout — the last through the
// real kustomize (kubectl from TESTBIN_DIR) on the real manifests, so a checkout that stops moving an
// image fails here.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parse, parseAllDocuments } from 'yaml';
import { sidecarImageOf } from '../../lib/image.js';
import { REPO_ROOT } from '../harness/binaries.js';
import { runTool, skipWithout } from '../harness/tools.js';
import { writeCheckout } from './checkout.js';
import { helmUninstallCommands, shBlocks, substitute } from './docs.js';
import { cgroupnsFor, cniManifest, joinConfig, KindConfigError, kubeadmConfig } from './node-config.js';
import { operatorFixture } from './operator.js';

const BUILT = 'localhost/socat-relay:src-0123456789ab';

test('kubeadm config: four v1beta4/v1beta1/v1alpha1 documents for one untainted node at the given IP and version', () => {
  const docs = parseAllDocuments(
    kubeadmConfig({ nodeName: 'e2e-control-plane', nodeIp: '10.88.0.7', kubernetesVersion: 'v1.34.0\n' }),
  ).map((d) => d.toJS());
  assert.deepEqual(
    docs.map((d) => d.kind),
    ['InitConfiguration', 'ClusterConfiguration', 'KubeletConfiguration', 'KubeProxyConfiguration'],
  );
  const [init, cluster, kubelet, proxy] = docs;
  assert.equal(init.apiVersion, 'kubeadm.k8s.io/v1beta4');
  assert.deepEqual(init.localAPIEndpoint, { advertiseAddress: '10.88.0.7', bindPort: 6443 });
  assert.equal(init.nodeRegistration.name, 'e2e-control-plane');
  assert.deepEqual(init.nodeRegistration.taints, [], "no control-plane taint: the suite's pods run on the one node");
  assert.deepEqual(
    init.nodeRegistration.kubeletExtraArgs,
    [{ name: 'node-ip', value: '10.88.0.7' }],
    'v1beta4 extra args are a list',
  );
  assert.equal(
    cluster.kubernetesVersion,
    'v1.34.0',
    'the image\'s version, trimmed: kubeadm must not ask the internet for "stable"',
  );
  assert.equal(cluster.controlPlaneEndpoint, '10.88.0.7:6443');
  assert.ok(cluster.apiServer.certSANs.includes('127.0.0.1') && cluster.apiServer.certSANs.includes('10.88.0.7'));
  assert.deepEqual(cluster.networking, {
    podSubnet: '10.244.0.0/16',
    serviceSubnet: '10.96.0.0/16',
    dnsDomain: 'cluster.local',
  });
  assert.equal(kubelet.cgroupDriver, 'systemd');
  assert.equal(kubelet.failCgroupV1, false, 'kubelet 1.34 keeps running on a cgroup v1 host');
  assert.equal(kubelet.evictionHard['nodefs.available'], '0%');
  assert.equal(proxy.conntrack.maxPerCore, 0, 'kube-proxy leaves conntrack sysctls alone inside a container');
});

test('kubeadm config: bad inputs are refused naming the field', () => {
  const ok = { nodeName: 'n', nodeIp: '10.0.0.1', kubernetesVersion: 'v1.34.0' };
  for (const [bad, field] of [
    [{ nodeName: 'Bad_Name' }, 'nodeName'],
    [{ nodeName: 'x\nkind: Evil' }, 'nodeName'],
    [{ nodeIp: '10.0.0.1\n' }, 'nodeIp'],
    [{ kubernetesVersion: 'stable-1' }, 'kubernetesVersion'],
    [{ podSubnet: '10.244.0.0' }, 'podSubnet'],
    [{ serviceSubnet: 'x/16' }, 'serviceSubnet'],
  ] as const) {
    assert.throws(
      () => kubeadmConfig({ ...ok, ...bad }),
      (e: Error) => e instanceof KindConfigError && e.message.startsWith(field),
      JSON.stringify(bad),
    );
  }
});

test("cgroupnsFor: private on cgroup v2, the host's on v1, anything else refused", () => {
  assert.equal(cgroupnsFor('cgroup2fs'), 'private');
  assert.equal(cgroupnsFor('tmpfs'), 'host');
  assert.throws(() => cgroupnsFor('ext4'), /neither cgroup v2/);
});

test("kind's CNI template: the pod subnet filled in; a template without it, or with another placeholder, refused", () => {
  const template = 'env:\n  - name: POD_SUBNET\n    value: {{ .PodSubnet }}\n';
  assert.equal(parse(cniManifest(template)).env[0].value, '10.244.0.0/16');
  assert.throws(() => cniManifest('kind: DaemonSet\n'), /no \{\{ \.PodSubnet \}\}/);
  assert.throws(() => cniManifest(`${template}  x: {{ .Other }}\n`), /does not fill: \{\{ \.Other \}\}/);
});

test('kubeadm config for a multi-node cluster: the control-plane taint kept, the bootstrap token, etcd and CoreDNS tags set', () => {
  const [init, cluster] = parseAllDocuments(
    kubeadmConfig({
      nodeName: 'e2e-control-plane',
      nodeIp: '10.89.0.4',
      kubernetesVersion: 'v1.37.2',
      controlPlaneTaint: true,
      bootstrapToken: 'abcdef.0123456789abcdef',
      etcdImageTag: '3.6.16-0',
      corednsImageTag: 'v1.14.6',
    }),
  ).map((d) => d.toJS());
  assert.equal(
    init.nodeRegistration.taints,
    undefined,
    "kubeadm's default taint (node-role.kubernetes.io/control-plane)",
  );
  assert.deepEqual(init.bootstrapTokens, [{ token: 'abcdef.0123456789abcdef', ttl: '2h0m0s' }]);
  assert.deepEqual(cluster.etcd, { local: { imageTag: '3.6.16-0' } });
  assert.deepEqual(cluster.dns, { imageTag: 'v1.14.6' });
  for (const [bad, field] of [
    [{ bootstrapToken: 'abc.def' }, 'bootstrapToken'],
    [{ etcdImageTag: 'x y' }, 'etcdImageTag'],
    [{ corednsImageTag: ':latest' }, 'corednsImageTag'],
  ] as const) {
    assert.throws(
      () => kubeadmConfig({ nodeName: 'n', nodeIp: '10.0.0.1', kubernetesVersion: 'v1.37.2', ...bad }),
      (e: Error) => e instanceof KindConfigError && e.message.startsWith(field),
    );
  }
});

test('joinConfig: a worker joins the control plane with the token, its own name and IP; bad inputs refused naming the field', () => {
  const join = parse(
    joinConfig({
      nodeName: 'w1',
      nodeIp: '10.89.0.2',
      apiServerEndpoint: '10.89.0.4:6443',
      bootstrapToken: 'abcdef.0123456789abcdef',
    }),
  );
  assert.equal(join.kind, 'JoinConfiguration');
  assert.equal(join.apiVersion, 'kubeadm.k8s.io/v1beta4');
  assert.deepEqual(join.nodeRegistration.kubeletExtraArgs, [{ name: 'node-ip', value: '10.89.0.2' }]);
  assert.equal(join.nodeRegistration.name, 'w1');
  assert.deepEqual(join.discovery.bootstrapToken, {
    apiServerEndpoint: '10.89.0.4:6443',
    token: 'abcdef.0123456789abcdef',
    unsafeSkipCAVerification: true,
  });
  const ok = {
    nodeName: 'w1',
    nodeIp: '10.89.0.2',
    apiServerEndpoint: '10.89.0.4:6443',
    bootstrapToken: 'abcdef.0123456789abcdef',
  };
  for (const [bad, field] of [
    [{ nodeName: 'W1' }, 'nodeName'],
    [{ nodeIp: 'w1' }, 'nodeIp'],
    [{ apiServerEndpoint: 'cp:6443' }, 'apiServerEndpoint'],
    [{ bootstrapToken: 'ABCDEF.0123456789abcdef' }, 'bootstrapToken'],
  ] as const) {
    assert.throws(
      () => joinConfig({ ...ok, ...bad }),
      (e: Error) => e instanceof KindConfigError && e.message.startsWith(field),
    );
  }
});

test("the node image's CNI manifest fills in as kind's does", () => {
  const manifest = readFileSync(path.join(REPO_ROOT, 'scripts', 'kind-node', 'default-cni.yaml'), 'utf8');
  const ds = parseAllDocuments(cniManifest(manifest, '10.244.0.0/16'))
    .map((d) => d.toJS())
    .find((d) => d.kind === 'DaemonSet');
  const env = ds.spec.template.spec.containers[0].env as { name: string; value?: string }[];
  assert.equal(env.find((e) => e.name === 'POD_SUBNET')?.value, '10.244.0.0/16');
});

test('shBlocks: the sh blocks under a heading, up to the next heading of its level; substitute refuses what is not there', () => {
  const md =
    '# A\n```sh\na1\n```\n## B\ntext\n```sh\nb1\n```\n### C\n```bash\nc1\n```\n```yaml\nno\n```\n## D\n```sh\nd1\n```\n';
  assert.deepEqual(shBlocks(md, 'B'), ['b1', 'c1']);
  assert.deepEqual(shBlocks(md, 'A'), ['a1', 'b1', 'c1', 'd1']);
  assert.throws(() => shBlocks(md, 'E'), /no heading "E"/);
  assert.throws(() => shBlocks('## X\ntext\n', 'X'), /no sh block/);
  assert.equal(substitute('helm install x --set a=1', [['--set a=1', '--set a=2']]), 'helm install x --set a=2');
  assert.throws(() => substitute('helm install x', [['--set a=1', '']]), /no longer contain --set a=1/);
  const install = readFileSync(path.join(REPO_ROOT, 'docs', 'install.md'), 'utf8');
  assert.ok(shBlocks(install, 'Uninstall')[0]!.includes('kubectl delete relays --all'));
});

test(
  "the user's checkout (real kustomize): every kustomization a user applies runs the built images only, the sidecar derived from them",
  { skip: skipWithout('kubectl') },
  async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'socat-relay-kind-checkout-'));
    try {
      writeCheckout(dir, BUILT, 'localhost/prometheus:v3.16.0');
      for (const k of ['no-cert-manager', 'node-agent', 'uninstall', 'examples/kubeadm-control-plane']) {
        const rendered = await runTool('kubectl', ['kustomize', path.join(dir, 'manifests', k)]);
        const images = [...rendered.matchAll(/^\s*-?\s*image: (\S+)$/gm)].map((m) => m[1]);
        const want = k.startsWith('examples/') ? ['localhost/prometheus:v3.16.0'] : [BUILT];
        assert.ok(images.length > 0 && images.every((i) => want.includes(i!)), `${k}: ${images.join(', ')}`);
        assert.ok(
          !rendered.includes('ghcr.io/socat-relay') && !rendered.includes('quay.io/'),
          `${k}: no upstream name left`,
        );
      }
      const controller = await runTool('kubectl', ['kustomize', path.join(dir, 'manifests', 'no-cert-manager')]);
      // The controller derives the sidecar (<repository>-sidecar:<tag>) from SOCAT_RELAY_IMAGE.
      assert.match(controller, /- name: SOCAT_RELAY_IMAGE\n\s+value: localhost\/socat-relay:src-0123456789ab\n/);
      assert.ok(!controller.includes('SOCAT_RELAY_SIDECAR_IMAGE'), 'no override pins the sidecar elsewhere');
      assert.equal(sidecarImageOf(BUILT), 'localhost/socat-relay-sidecar:src-0123456789ab');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
);

test("the prometheus-operator fixture: Prometheus moved to the image built here (its version the tag), selecting the example's PodMonitor; an untagged image refused", () => {
  const text = readFileSync(path.join(REPO_ROOT, 'test', 'fixtures', 'kind', 'prometheus-operator.yaml'), 'utf8');
  const docs = parseAllDocuments(operatorFixture(text, 'localhost/prometheus:v3.16.0')).map((d) => d.toJS());
  const prometheus = docs.find((d) => d.kind === 'Prometheus');
  assert.equal(prometheus.spec.image, 'localhost/prometheus:v3.16.0');
  assert.equal(prometheus.spec.version, 'v3.16.0');
  const podMonitor = parse(
    readFileSync(
      path.join(REPO_ROOT, 'manifests', 'examples', 'kubeadm-control-plane', 'prometheus-operator', 'podmonitor.yaml'),
      'utf8',
    ),
  );
  const { matchLabels } = prometheus.spec.podMonitorSelector as { matchLabels: Record<string, string> };
  assert.ok(
    Object.entries(matchLabels).every(([k, v]) => podMonitor.metadata.labels[k] === v),
    `the PodMonitor's labels ${JSON.stringify(podMonitor.metadata.labels)} match ${JSON.stringify(matchLabels)}`,
  );
  assert.deepEqual(prometheus.spec.podMonitorNamespaceSelector, {}, 'every namespace, as kube-prometheus-stack');
  assert.throws(() => operatorFixture(text, 'localhost/prometheus'), /must be repository:tag/);
});

test("helmUninstallCommands: docs/install.md's Helm uninstall, in order; a changed paragraph refused", () => {
  const installMd = readFileSync(path.join(REPO_ROOT, 'docs', 'install.md'), 'utf8');
  assert.deepEqual(helmUninstallCommands(installMd), [
    'helm uninstall socat-relay -n socat-relay-system',
    'kubectl delete crd relays.socat.io relaynodes.socat.io',
    'kubectl delete namespace socat-relay-system',
  ]);
  assert.throws(
    () => helmUninstallCommands(installMd.replace(/its\s+post-delete\s+hook/, 'its hook')),
    /Helm uninstall paragraph changed/,
  );
});
