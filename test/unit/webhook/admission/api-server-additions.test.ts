// What the API server's own mutating plugins (and other webhooks) do to an injected pod before our
// webhook is reinvoked, and what the webhook, the sidecar policy and `socat-relay inject` make of it.
// The ServiceAccount plugin is written out here as the API server does it (a literal volume and mount,
// not the product's recogniser), so a change to either side shows.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { main } from '../../../../cli/main.js';
import { parseDocuments } from '../../../../relay/index.js';
import {
  decidePod,
  defaultInjectOptions,
  patchOps,
  type RawContainer,
  type RawPod,
} from '../../../../webhook/admission/index.js';
import { judgeSidecarPolicy } from '../../../harness/policy.js';
import { FIXTURES, applied, context, pod, podRequest } from '../../../harness/admission.js';

const TOKEN_PATH = '/var/run/secrets/kubernetes.io/serviceaccount';

/**
 * The volume kube-apiserver's ServiceAccount plugin adds (plugin/pkg/admission/serviceaccount), as a webhook receives
 * it.
 */
function tokenVolume(name = 'kube-api-access-x7k2q'): Record<string, unknown> {
  return {
    name,
    projected: {
      defaultMode: 420,
      sources: [
        { serviceAccountToken: { expirationSeconds: 3607, path: 'token' } },
        { configMap: { name: 'kube-root-ca.crt', items: [{ key: 'ca.crt', path: 'ca.crt' }] } },
        {
          downwardAPI: {
            items: [{ path: 'namespace', fieldRef: { apiVersion: 'v1', fieldPath: 'metadata.namespace' } }],
          },
        },
      ],
    },
  };
}

/** The plugin's pass: the volume once, and its read-only mount in every container with nothing at the path. */
function serviceAccountPlugin(p: RawPod, volume = tokenVolume()): RawPod {
  const out = structuredClone(p);
  const spec = (out.spec ??= {});
  const name = String(volume.name);
  if (!(spec.volumes ?? []).some((v) => v.name === name)) (spec.volumes ??= []).push(volume);
  for (const c of [...(spec.initContainers ?? []), ...(spec.containers ?? [])]) {
    const mounts = (c.volumeMounts ??= []) as { mountPath: string }[];
    if (!mounts.some((m) => m.mountPath === TOKEN_PATH))
      mounts.push({ name, readOnly: true, mountPath: TOKEN_PATH } as never);
  }
  return out;
}

const sidecarOf = (p: RawPod): RawContainer =>
  [...(p.spec?.initContainers ?? []), ...(p.spec?.containers ?? [])].find((c) => c.name === 'socat-kube-scheduler')!;

/**
 * The API server's order: ServiceAccount plugin, our webhook, the plugin again; then the reinvoked webhook sees the
 * result.
 */
function admittedThenReinvoked(mode: 'native' | 'regular', volumeSource: 'hostPath' | 'csi') {
  const ctx = context({
    options: defaultInjectOptions({ sidecarImage: 'example.com/socat-relay:test', mode, volumeSource }),
  });
  const before = serviceAccountPlugin(pod('basic'));
  const first = decidePod(podRequest(before), ctx);
  assert.equal(first.response.allowed, true, JSON.stringify(first.response.status));
  const reinvoked = serviceAccountPlugin(applied(before, first.response));
  return { ctx, reinvoked };
}

describe("the ServiceAccount plugin's token mount on our sidecar (reinvocation)", () => {
  for (const mode of ['native', 'regular'] as const) {
    for (const source of ['hostPath', 'csi'] as const) {
      test(`${mode} sidecar, ${source} volume: the reinvoked webhook keeps the pod as it is (no patch), and the policy admits it`, () => {
        const { ctx, reinvoked } = admittedThenReinvoked(mode, source);
        assert.deepEqual(
          (sidecarOf(reinvoked).volumeMounts as { mountPath: string }[]).map((m) => m.mountPath),
          ['/run/socat-relay/kube-scheduler', TOKEN_PATH],
        );
        const again = decidePod(podRequest(reinvoked), ctx);
        assert.equal(again.response.allowed, true, JSON.stringify(again.response.status));
        assert.deepEqual(patchOps(again.response), [], 'nothing to change on reinvocation');
        assert.deepEqual(again.injected, []);
        assert.deepEqual(judgeSidecarPolicy(reinvoked), { matched: true });
      });
    }
  }

  // Each a change an attacker (or a careless webhook) could make to the sidecar or the token volume.
  const attacks: [string, (p: RawPod) => void][] = [
    [
      'the token mount writable',
      (p) => {
        mountAt(p, TOKEN_PATH).readOnly = false;
      },
    ],
    [
      'the token mount without readOnly',
      (p) => {
        delete mountAt(p, TOKEN_PATH).readOnly;
      },
    ],
    [
      'the token mount at another path',
      (p) => {
        mountAt(p, TOKEN_PATH).mountPath = '/var/run/secrets/other';
      },
    ],
    [
      'the token mount with a subPath',
      (p) => {
        mountAt(p, TOKEN_PATH).subPath = 'token';
      },
    ],
    [
      'the token mount with mountPropagation',
      (p) => {
        mountAt(p, TOKEN_PATH).mountPropagation = 'HostToContainer';
      },
    ],
    [
      'a second mount at the token path',
      (p) => {
        (sidecarOf(p).volumeMounts as unknown[]).push({ ...mountAt(p, TOKEN_PATH) });
      },
    ],
    [
      'the token volume swapped for a hostPath of that name',
      (p) => {
        p.spec!.volumes![volIndex(p)] = { name: 'kube-api-access-x7k2q', hostPath: { path: '/' } };
      },
    ],
    [
      'the token volume swapped for a Secret of that name',
      (p) => {
        p.spec!.volumes![volIndex(p)] = { name: 'kube-api-access-x7k2q', secret: { secretName: 'admin-token' } };
      },
    ],
    [
      'the token for another audience',
      (p) => {
        tokenSources(p)[0].serviceAccountToken.audience = 'vault';
      },
    ],
    [
      'a fourth projected source',
      (p) => {
        tokenSources(p).push({ secret: { name: 'admin-token' } });
      },
    ],
    [
      'another ConfigMap',
      (p) => {
        tokenSources(p)[1].configMap.name = 'other';
      },
    ],
    [
      'a mount of a volume named otherwise',
      (p) => {
        p.spec!.volumes!.push({ ...tokenVolume('token'), name: 'token' });
        mountAt(p, TOKEN_PATH).name = 'token';
      },
    ],
  ];
  for (const [what, change] of attacks) {
    test(`${what}: the webhook says the sidecar differs in volumeMounts`, () => {
      const { ctx, reinvoked } = admittedThenReinvoked('native', 'csi');
      change(reinvoked);
      const d = decidePod(podRequest(reinvoked), ctx);
      assert.equal(d.response.allowed, false);
      assert.match(
        String(d.response.status?.message),
        /spec\.initContainers\[0\] "socat-kube-scheduler" is not the sidecar socat-relay injects for relay "kube-scheduler" \(differs: volumeMounts\)/,
      );
    });
  }
  // The policy judges the sidecar's mounts, not the volumes' other uses: the changes that reach the mount.
  for (const [what, change] of attacks.filter(([w]) => !/another ConfigMap|fourth/.test(w))) {
    test(`${what}: the sidecar policy refuses it too`, () => {
      const { reinvoked } = admittedThenReinvoked('native', 'csi');
      change(reinvoked);
      assert.match(
        String(judgeSidecarPolicy(reinvoked).denied),
        /socat-relay sidecar socat-kube-scheduler mounts something other than its relay folder/,
      );
    });
  }
});

describe('other mutations clusters commonly run, after our webhook', () => {
  test("LimitRanger's default requests and limits on the sidecar are accepted (sizing, not power)", () => {
    const { ctx, reinvoked } = admittedThenReinvoked('native', 'hostPath');
    sidecarOf(reinvoked).resources = {
      requests: { cpu: '100m', memory: '64Mi' },
      limits: { cpu: '1', memory: '256Mi' },
    };
    const d = decidePod(podRequest(reinvoked), ctx);
    assert.equal(d.response.allowed, true);
    assert.deepEqual(patchOps(d.response), []);
  });
  test('a webhook that adds an env var to every container (a proxy setting) is accepted', () => {
    const { ctx, reinvoked } = admittedThenReinvoked('native', 'hostPath');
    sidecarOf(reinvoked).env = [{ name: 'HTTPS_PROXY', value: 'http://proxy:3128' }];
    const d = decidePod(podRequest(reinvoked), ctx);
    assert.equal(d.response.allowed, true);
    assert.deepEqual(patchOps(d.response), []);
  });
  test('a webhook that adds a mount to every container (a CA bundle) is refused, naming volumeMounts: exclude socat-* containers there', () => {
    const { ctx, reinvoked } = admittedThenReinvoked('native', 'hostPath');
    reinvoked.spec!.volumes!.push({ name: 'trust-bundle', configMap: { name: 'trust-bundle' } });
    (sidecarOf(reinvoked).volumeMounts as unknown[]).push({
      name: 'trust-bundle',
      mountPath: '/etc/ssl/certs',
      readOnly: true,
    });
    const d = decidePod(podRequest(reinvoked), ctx);
    assert.equal(d.response.allowed, false);
    assert.match(String(d.response.status?.message), /differs: volumeMounts/);
    assert.match(String(judgeSidecarPolicy(reinvoked).denied), /mounts something other than its relay folder/);
  });
});

test('socat-relay inject of an injected pod to which the token volume and mount were added prints it unchanged', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'inject-token-'));
  try {
    const relays = path.join(FIXTURES, 'admission/relays.yaml');
    const first = await run(['inject', '-f', path.join(FIXTURES, 'pods/basic.yaml'), '--relays', relays]);
    assert.equal(first.code, 0, first.stderr);
    const withToken = serviceAccountPlugin(parseDocuments(first.stdout)[0] as RawPod);
    const file = path.join(dir, 'pod.json');
    writeFileSync(file, JSON.stringify(withToken));
    const again = await run(['inject', '-f', file, '--relays', relays]);
    assert.equal(again.code, 0, again.stderr);
    assert.deepEqual(parseDocuments(again.stdout)[0], withToken);
    // and a writable token mount is still refused
    mountAt(withToken, TOKEN_PATH).readOnly = false;
    writeFileSync(file, JSON.stringify(withToken));
    const bad = await run(['inject', '-f', file, '--relays', relays]);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /differs: volumeMounts/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

function mountAt(p: RawPod, mountPath: string): Record<string, unknown> {
  const m = (sidecarOf(p).volumeMounts as Record<string, unknown>[]).find((x) => x.mountPath === mountPath);
  assert.ok(m, `a mount at ${mountPath}`);
  return m;
}
const volIndex = (p: RawPod) => p.spec!.volumes!.findIndex((v) => v.name === 'kube-api-access-x7k2q');

const tokenSources = (p: RawPod): any[] => (p.spec!.volumes![volIndex(p)] as any).projected.sources;

async function run(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const code = await main(args, {
    stdin: Readable.from(['']),
    stdout: {
      write: (s: string) => {
        stdout += s;
      },
    },
    stderr: {
      write: (s: string) => {
        stderr += s;
      },
    },
    env: {},
  });
  return { code, stdout, stderr };
}
