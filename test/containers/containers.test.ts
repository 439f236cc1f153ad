// The shipped image tested as shipped: the image the Dockerfile builds for the current sources
// (scripts/build-image.sh, podman) is started by testcontainers — through podman's Docker-compatible
// API — as the controller and as the node agent, on the host network with their host folders (temp
// folders here), against the real test API server: the API server calls the containerised webhook
// (a Relay validated, a consumer pod injected with the derived sidecar image, a pod of a namespace
// the relay does not allow denied), the containerised reconcile writes the node file, the
// containerised agent serves the relay's socket, a request through it reaches a loopback-only
// service, and the Relay's status says Running. The metrics port refuses a request without a token.
// The image itself: ≤ 200 MB, no shell or package manager, and the programs the agent and the CSI
// plugin run (setpriv → socat; mount --bind, the read-only remount, umount) work from its own files.
// Both run as the manifests run them: root with every capability dropped (the agent keeps CHOWN).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import http from 'node:http';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { parse } from 'yaml';
import { makeWebhookCerts } from '../../certs/selfsigned.js';
import { writeCerts } from '../../certs/write.js';
import { INJECTED_ANNOTATION, type Relay, type RelayNode } from '../../relay/index.js';
import { buildProjectImage, type ProjectImage } from '../harness/image.js';
import {
  ApiError,
  applyAll,
  freePort,
  installCrds,
  policyManifests,
  registerWebhooks,
  skipUnlessControlPlane,
  startControlPlane,
  waitFor,
  waitUntilWebhookCalled,
  type ControlPlane,
} from '../harness/index.js';
import { skipWithoutPodman, startPodmanService, type PodmanService } from '../harness/podman.js';
import { createNamespace } from '../harness/controlplane.js';
import { findRelaySocket } from '../harness/relay-socket.js';

const skip = skipUnlessControlPlane() || skipWithoutPodman();
const NODE = 'containers-node';

function getViaSocket(socket: string, p: string): Promise<string> {
  return new Promise((resolve, reject) => {
    http
      .get({ socketPath: socket, path: p }, (res) => {
        let body = '';
        res.on('data', (c: Buffer) => {
          body += c.toString();
        });
        res.on('end', () => resolve(body));
      })
      .on('error', reject);
  });
}

/** Runs `command` in `img` to its end (testcontainers, host network) and returns what it printed. */
async function runOnce(img: string, command: string[]): Promise<string> {
  const { GenericContainer, Wait } = await import('testcontainers');
  const c = await new GenericContainer(img)
    .withCommand(command)
    .withNetworkMode('host')
    .withWaitStrategy(Wait.forOneShotStartup())
    .withStartupTimeout(60_000)
    .start();
  try {
    return await streamText(await c.logs());
  } finally {
    await c.stop().catch(() => undefined);
  }
}

/** The text of a log stream until it ends (or a second of silence for a running container). */
function streamText(stream: NodeJS.ReadableStream): Promise<string> {
  return new Promise((resolve) => {
    let text = '';
    let timer = setTimeout(() => resolve(text), 1000);
    stream.on('data', (d: Buffer) => {
      text += d.toString();
      clearTimeout(timer);
      timer = setTimeout(() => resolve(text), 1000);
    });
    stream.on('end', () => {
      clearTimeout(timer);
      resolve(text);
    });
  });
}

describe(
  'the project image in containers (testcontainers via podman) against a real API server',
  { skip, timeout: 600_000 },
  () => {
    let podman: PodmanService;
    let cp: ControlPlane;
    let image: ProjectImage;
    let dir: string;
    let backend: http.Server;
    let backendPort: number;
    let webhookPort: number;
    let metricsPort: number;
    let ca: string;
    const containers: { stop(): Promise<unknown>; logs(): Promise<NodeJS.ReadableStream> }[] = [];
    const logsOf = async (i: number): Promise<string> => (await streamText(await containers[i]!.logs())).slice(-3000);

    before(async () => {
      image = await buildProjectImage();
      podman = await startPodmanService();
      const { GenericContainer, Wait } = await import('testcontainers');
      cp = await startControlPlane({ namespaces: ['consumers', 'elsewhere'] });
      await installCrds(cp.client);
      dir = mkdtempSync(path.join(os.tmpdir(), 'socat-relay-containers-'));
      for (const d of ['etc/relays.d', 'run', 'tls', 'kube']) mkdirSync(path.join(dir, d), { recursive: true });
      await applyAll(cp.client, policyManifests(path.join(dir, 'run')));
      await cp.client.apply({ apiVersion: 'v1', kind: 'Node', metadata: { name: NODE } });
      for (const ns of ['consumers', 'elsewhere']) {
        await createNamespace(cp.client, ns, { 'pod-security.kubernetes.io/enforce': 'privileged' });
      }
      const certs = await makeWebhookCerts({ extraHosts: ['127.0.0.1', 'localhost'] });
      await writeCerts(path.join(dir, 'tls'), certs);
      ca = certs.ca.cert;
      backend = http.createServer((req, res) => {
        res.end(`loopback-only service: ${req.url}\n`);
      });
      await new Promise<void>((r) => backend.listen(0, '127.0.0.1', r));
      backendPort = (backend.address() as { port: number }).port;
      webhookPort = await freePort();
      metricsPort = await freePort();
      const agentPort = await freePort();

      const controller = await new GenericContainer(image.image)
        .withNetworkMode('host')
        .withUser('0:0')
        .withDroppedCapabilities('ALL')
        .withCommand(['controller'])
        .withEnvironment({
          KUBECONFIG: '/kube/config',
          NODE_NAME: NODE,
          POD_NAMESPACE: 'default',
          SOCAT_RELAY_HOST: '127.0.0.1',
          SOCAT_RELAY_PORT: String(webhookPort),
          SOCAT_RELAY_METRICS_PORT: String(metricsPort),
          SOCAT_RELAY_TLS_CERT: '/tls/tls.crt',
          SOCAT_RELAY_TLS_KEY: '/tls/tls.key',
          SOCAT_RELAY_CONFIG_DIR: '/etc/socat-relay/relays.d',
          SOCAT_RELAY_SOCKET_DIR: path.join(dir, 'run'),
          SOCAT_RELAY_IMAGE: image.image,
          SOCAT_RELAY_SIDECAR_MODE: 'auto',
          SOCAT_RELAY_RECONCILE: 'true',
          SOCAT_RELAY_SHUTDOWN_DRAIN_SECONDS: '0',
          LOG_LEVEL: 'info',
        })
        .withBindMounts([
          { source: cp.kubeconfigPath, target: '/kube/config', mode: 'ro' },
          { source: path.join(dir, 'tls'), target: '/tls', mode: 'ro' },
          { source: path.join(dir, 'etc'), target: '/etc/socat-relay', mode: 'rw' },
          { source: path.join(dir, 'run'), target: path.join(dir, 'run'), mode: 'ro' },
        ])
        .withWaitStrategy(Wait.forLogMessage(/webhook server listening/))
        .withStartupTimeout(120_000)
        .start();
      containers.push(controller);
      const agent = await new GenericContainer(image.image)
        .withNetworkMode('host')
        .withUser('0:0')
        .withDroppedCapabilities('ALL')
        .withAddedCapabilities('CHOWN')
        .withCommand([
          'agent',
          '--config-dir=/etc/socat-relay/relays.d',
          `--socket-dir=${path.join(dir, 'run')}`,
          '--socket-gid=65532',
          `--listen=127.0.0.1:${agentPort}`,
        ])
        .withBindMounts([
          { source: path.join(dir, 'etc', 'relays.d'), target: '/etc/socat-relay/relays.d', mode: 'ro' },
          { source: path.join(dir, 'run'), target: path.join(dir, 'run'), mode: 'rw' },
        ])
        .withWaitStrategy(Wait.forListeningPorts())
        .withStartupTimeout(120_000)
        .start()
        .catch(async (e: Error) => {
          throw new Error(`agent container: ${e.message}`);
        });
      containers.push(agent);
      await registerWebhooks(cp.client, { baseUrl: `https://127.0.0.1:${webhookPort}`, caBundle: certs.caBundle });
      await waitUntilWebhookCalled(
        'the containerised relay webhook',
        async () => {
          const err = await cp.client
            .create(
              {
                apiVersion: 'socat.io/v1alpha1',
                kind: 'Relay',
                metadata: { name: 'probe' },
                spec: {
                  target: { host: '127.0.0.1', port: 1 },
                  nodeSelector: { [`${'a'.repeat(254)}/x`]: 'y' },
                  consumers: { namespaces: ['x'] },
                },
              } as any,
              { dryRun: true },
            )
            .then(
              () => undefined,
              (e: unknown) => e,
            );
          return err instanceof ApiError && err.message.includes('relays.socat.io');
        },
        60_000,
      );
    });
    after(async () => {
      for (const c of containers.reverse()) await c.stop().catch(() => undefined);
      await podman?.stop();
      backend?.close();
      await cp?.stop();
      if (dir) rmSync(dir, { recursive: true, force: true });
    });

    test('a Relay through the webhook → node file by the controller → socket by the agent → a request reaches the loopback service; status Running', async () => {
      await cp.client.create({
        apiVersion: 'socat.io/v1alpha1',
        kind: 'Relay',
        metadata: { name: 'backend' },
        spec: { target: { host: '127.0.0.1', port: backendPort }, consumers: { namespaces: ['consumers'] } },
      } as any);
      const file = path.join(dir, 'etc', 'relays.d', 'backend.json');
      await waitFor('the node file from the controller container', () => existsSync(file), { timeoutMs: 60_000 }).catch(
        async (e: Error) => {
          throw new Error(`${e.message}\n${await logsOf(0)}`);
        },
      );
      assert.equal(JSON.parse(readFileSync(file, 'utf8')).metadata.name, 'backend');
      // The Relay object's own folder, <socket-dir>/<relay>/<uid>/ (the controller's node file carries the
      // uid).
      const socket = await waitFor(
        'the socket from the agent container',
        () => findRelaySocket(path.join(dir, 'run'), 'backend'),
        { timeoutMs: 60_000 },
      ).catch(async (e: Error) => {
        throw new Error(`${e.message}\n${await logsOf(1)}`);
      });
      assert.equal(await getViaSocket(socket, '/through-the-relay'), 'loopback-only service: /through-the-relay\n');
      const relay = await waitFor(
        'status Running (the RelayNode) and Ready (the summary)',
        async () => {
          const rn = await cp.client.getOrUndefined<RelayNode>('socat.io/v1alpha1', 'RelayNode', NODE);
          const r = await cp.client.get<Relay>('socat.io/v1alpha1', 'Relay', 'backend');
          return rn?.status?.relays?.find((e) => e.name === 'backend')?.state === 'Running' &&
            r.status?.readyNodes === 1
            ? r
            : undefined;
        },
        { timeoutMs: 90_000 },
      );
      assert.equal(relay.status?.conditions?.find((c) => c.type === 'Ready')?.status, 'True');
    });

    test('a consumer pod is injected with the sidecar image derived from the one image setting; another namespace is denied', async () => {
      const pod = (ns: string) => ({
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: 'consumer', namespace: ns, labels: { 'socat.io/consume': 'backend' } },
        spec: { containers: [{ name: 'app', image: 'busybox' }] },
      });
      const created = await cp.client.create<any>(pod('consumers'), { dryRun: true });
      assert.ok(created.metadata.annotations?.[INJECTED_ANNOTATION]);
      const sidecar = [...(created.spec.initContainers ?? []), ...created.spec.containers].find(
        (c: { name: string }) => c.name === 'socat-backend',
      );
      assert.equal(
        sidecar?.image,
        image.sidecarImage,
        "the Dockerfile's sidecar target, named <repository>-sidecar:<tag>",
      );
      const err = await cp.client.create(pod('elsewhere') as any, { dryRun: true }).then(
        () => undefined,
        (e: unknown) => e,
      );
      assert.ok(err instanceof ApiError);
      assert.match(err.message, /does not allow namespace "elsewhere"/);
    });

    test('the sidecar image runs socat from its own files (scratch + the libraries ldd named), as 65532', async () => {
      const out = await runOnce(image.sidecarImage, ['-V']);
      assert.match(out, /socat version 1\.\d+/);
      const inspect = JSON.parse(
        execFileSync('podman', ['image', 'inspect', image.sidecarImage], { encoding: 'utf8' }),
      )[0];
      assert.equal(inspect.Config.User, '65532:65532');
      assert.ok(inspect.Size < 30 * 1024 * 1024, `the sidecar image is ${inspect.Size} bytes`);
    });

    test('the controller/agent image: ≤ 200 MB, no shell, and the programs the processes run work from its own files', async () => {
      const inspect = JSON.parse(execFileSync('podman', ['image', 'inspect', image.image], { encoding: 'utf8' }))[0];
      assert.ok(inspect.Size <= 200_000_000, `the image is ${inspect.Size} bytes`);
      assert.equal(inspect.Config.User, '65532:65532');
      // What the CSI plugin runs (node-agent/csi/mount.ts: a bind mount, its read-only remount, umount) and
      // what the agent runs (node-agent/supervisor.ts: setpriv --pdeathsig TERM -- socat), found on PATH.
      const script = `
        const { execFileSync: x, spawnSync } = require('node:child_process');
        const fs = require('node:fs');
        fs.mkdirSync('/tmp/src'); fs.writeFileSync('/tmp/src/f', 'x'); fs.mkdirSync('/tmp/dst');
        x('mount', ['--bind', '/tmp/src', '/tmp/dst']);
        x('mount', ['-o', 'remount,bind,ro,nosuid,nodev,noexec', '/tmp/dst']);
        let ro; try { fs.writeFileSync('/tmp/dst/g', 'y'); ro = 'writable'; } catch (e) { ro = e.code; }
        const line = fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\\n').find((l) => l.split(' ')[4] === '/tmp/dst');
        x('umount', ['/tmp/dst']);
        console.log(JSON.stringify({
          ro, options: line && line.split(' ')[5], after: fs.readdirSync('/tmp/dst'),
          socat: x('setpriv', ['--pdeathsig', 'TERM', '--', 'socat', '-V']).toString().split('\\n')[1],
          shell: ['/bin/sh', '/usr/bin/sh', '/bin/bash'].filter((s) => fs.existsSync(s)),
          apt: ['/usr/bin/apt-get', '/usr/bin/dpkg', '/usr/local/bin/npm'].filter((s) => fs.existsSync(s)),
          user: spawnSync('/usr/local/bin/node', ['-p', 'require("node:os").userInfo({}).username'], { uid: 65532, gid: 65532 }).stdout.toString().trim(),
        }));`;
      const { GenericContainer, Wait } = await import('testcontainers');
      const c = await new GenericContainer(image.image)
        .withEntrypoint(['/usr/local/bin/node'])
        .withCommand(['-e', script])
        .withUser('0:0')
        .withPrivilegedMode()
        .withWaitStrategy(Wait.forOneShotStartup())
        .withStartupTimeout(60_000)
        .start();
      let out: string;
      try {
        out = await streamText(await c.logs());
      } finally {
        await c.stop().catch(() => undefined);
      }
      const r = JSON.parse(out.trim().split('\n').at(-1) ?? '{}') as Record<string, unknown>;
      assert.equal(r.ro, 'EROFS', `the remount made it read-only: ${out}`);
      assert.match(String(r.options), /^ro,nosuid,nodev,noexec/);
      assert.deepEqual(r.after, [], 'umount took the bind mount away');
      assert.match(String(r.socat), /^socat version 1\.\d+/, 'setpriv → socat');
      assert.deepEqual(r.shell, [], 'no shell');
      assert.deepEqual(r.apt, [], 'no package manager, no npm');
      assert.equal(r.user, 'nonroot', 'uid 65532 has a name (/etc/passwd)');
    });

    test('`static-pod --image` in the image prints the agent manifest it carries, with that image', async () => {
      const out = await runOnce(image.image, ['static-pod', '--image', 'registry.example.com/socat-relay:9.9.9']);
      const pod = parse(out);
      assert.equal(pod.kind, 'Pod');
      assert.ok(
        pod.spec.containers.every((x: { image: string }) => x.image === 'registry.example.com/socat-relay:9.9.9'),
        out,
      );
    });

    test('the metrics port of the container refuses a request without a bearer token', async () => {
      const status = await new Promise<number>((resolve, reject) => {
        https
          .get(`https://127.0.0.1:${metricsPort}/metrics`, { ca }, (res) => {
            res.resume();
            resolve(res.statusCode ?? 0);
          })
          .on('error', reject);
      });
      assert.equal(status, 401);
    });
  },
);
