// The kind suite's pure parts, run for real everywhere (no kind node needed): the kubeadm
// configuration, kind's CNI template, and the image rewriting — the last through the real kustomize
// (kubectl from TESTBIN_DIR) on the real manifests, so an overlay that stops moving an image fails here.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parse, parseAllDocuments } from 'yaml';
import { DEFAULT_IMAGE, sidecarImageOf } from '../../lib/image.js';
import { REPO_ROOT } from '../harness/binaries.js';
import { runTool, skipWithout } from '../manifests/tools.js';
import {
  cgroupnsFor,
  cniManifest,
  helmImageValues,
  KindConfigError,
  kubeadmConfig,
  overlayKustomization,
  replaceImages,
} from './node-config.js';

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

test("replaceImages: the fixture's pods run the built image; other images and fields untouched; nothing to replace is an error", () => {
  const fixture = readFileSync(path.join(REPO_ROOT, 'test', 'fixtures', 'kind', 'node-metrics.yaml'), 'utf8');
  const docs = parseAllDocuments(replaceImages(fixture, DEFAULT_IMAGE, BUILT)).map((d) => d.toJS());
  const pods = docs.filter((d) => d.kind === 'Pod');
  assert.equal(pods.length, 2);
  for (const p of pods)
    assert.deepEqual(
      p.spec.containers.map((c: { image: string }) => c.image),
      [BUILT],
    );
  assert.deepEqual(
    docs.map((d) => d.kind),
    ['Pod', 'Relay', 'Namespace', 'Pod'],
  );
  assert.equal(pods[1].spec.containers[0].imagePullPolicy, 'Never');
  const deploy =
    'kind: Deployment\nspec:\n  template:\n    spec:\n      initContainers: [{name: a, image: x:1}]\n      containers: [{name: b, image: other:2}]\n';
  assert.deepEqual(parse(replaceImages(deploy, 'x:1', BUILT)).spec.template.spec, {
    initContainers: [{ name: 'a', image: BUILT }],
    containers: [{ name: 'b', image: 'other:2' }],
  });
  assert.throws(() => replaceImages(deploy, 'nothing:1', BUILT), /no container runs nothing:1/);
  assert.throws(() => replaceImages(deploy, 'x:1', 'localhost/socat-relay'), /must be repository:tag/);
});

test('helmImageValues: repository and tag of the built image', () => {
  assert.deepEqual(helmImageValues(BUILT), {
    'image.repository': 'localhost/socat-relay',
    'image.tag': 'src-0123456789ab',
  });
  assert.throws(() => helmImageValues('localhost/socat-relay@sha256:' + 'a'.repeat(64)), KindConfigError);
});

test(
  'overlayKustomization over manifests/no-cert-manager (real kustomize): every image is the built one, the sidecar derived from it',
  { skip: skipWithout('kubectl') },
  async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'socat-relay-kind-overlay-'));
    try {
      writeFileSync(
        path.join(dir, 'kustomization.yaml'),
        overlayKustomization(path.relative(dir, path.join(REPO_ROOT, 'manifests', 'no-cert-manager')), BUILT),
      );
      const rendered = await runTool('kubectl', ['kustomize', dir]);
      assert.ok(!rendered.includes('ghcr.io/socat-relay'), 'no upstream name left');
      const images = [...rendered.matchAll(/^\s*-?\s*image: (\S+)$/gm)].map((m) => m[1]);
      assert.ok(images.length > 0 && images.every((i) => i === BUILT), images.join(', '));
      // The controller derives the sidecar (<repository>-sidecar:<tag>) from SOCAT_RELAY_IMAGE.
      assert.match(rendered, /- name: SOCAT_RELAY_IMAGE\n\s+value: localhost\/socat-relay:src-0123456789ab\n/);
      assert.ok(!rendered.includes('SOCAT_RELAY_SIDECAR_IMAGE'), 'no override pins the sidecar elsewhere');
      assert.equal(sidecarImageOf(BUILT), 'localhost/socat-relay-sidecar:src-0123456789ab');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
);
