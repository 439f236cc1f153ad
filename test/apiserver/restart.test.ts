// The API server restarted under a running controller (webhook + node reconcile, its own process):
// etcd keeps every object; while the API server is down the relay files stay (none lost); once it is
// back the watches resume — relays created and deleted after the restart reach the config folder,
// each exactly once — and the webhook is ready again.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import {
  installCrds,
  skipUnlessControlPlane,
  startControlPlane,
  startController,
  waitFor,
  type ControlPlane,
  type RunningController,
} from '../harness/index.js';

const skip = skipUnlessControlPlane();
const NODE = 'restart-node';
let cp: ControlPlane | undefined;
let ctl: RunningController | undefined;
let configDir = '';

const relay = (name: string, port: number) => ({
  apiVersion: 'socat.io/v1alpha1',
  kind: 'Relay',
  metadata: { name },
  spec: { target: { host: '127.0.0.1', port }, consumers: { namespaces: ['monitoring'] } },
});

function folder(): string[] {
  return readdirSync(configDir)
    .filter((n) => !n.startsWith('.'))
    .sort();
}

before(async () => {
  if (skip) return;
  cp = await startControlPlane({ startTimeoutMs: 120_000 });
  await installCrds(cp.client);
  await cp.client.apply({
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name: NODE, labels: { 'kubernetes.io/hostname': NODE } },
  });
  configDir = path.join(cp.dir, 'node', 'relays.d');
  mkdirSync(configDir, { recursive: true });
  ctl = await startController({
    kubeconfigPath: cp.kubeconfigPath,
    dir: cp.dir,
    nodeName: NODE,
    reconcile: true,
    configDir,
    socketDir: path.join(cp.dir, 'node', 'run'),
    env: { LOG_LEVEL: 'info' },
  });
});

after(async () => {
  await ctl?.stop();
  await cp?.stop();
});

test(
  'API server restarted under the controller: no relay file lost while it is down, watches resume, nothing duplicated',
  { skip, timeout: 300_000 },
  async () => {
    const first = Array.from({ length: 10 }, (_, i) => `before-${i}`);
    for (const [i, n] of first.entries()) await cp!.client.create(relay(n, 10_000 + i));
    const want1 = first.map((n) => `${n}.json`).sort();
    await waitFor('10 relay files', () => JSON.stringify(folder()) === JSON.stringify(want1), { timeoutMs: 60_000 });

    // Watch the folder through the restart: its smallest size must stay 10.
    let minFiles = Infinity;
    let polls = 0;
    const poll = setInterval(() => {
      minFiles = Math.min(minFiles, folder().length);
      polls++;
    }, 50);
    const { downMs, readyAfterMs } = await cp!.restartApiserver(3000);
    // Give the reconcile's resync and watch restarts a few seconds of a live API server.
    await new Promise((r) => setTimeout(r, 3000));
    clearInterval(poll);

    // After the restart: 5 new relays, 2 deleted. The watch must deliver both.
    const t0 = Date.now();
    const added = Array.from({ length: 5 }, (_, i) => `after-${i}`);
    for (const [i, n] of added.entries()) await cp!.client.create(relay(n, 11_000 + i));
    for (const n of first.slice(0, 2)) await cp!.client.delete('socat.io/v1alpha1', 'Relay', n);
    const want2 = [...first.slice(2), ...added].map((n) => `${n}.json`).sort();
    await waitFor(
      'the folder to follow the changes made after the restart',
      () => JSON.stringify(folder()) === JSON.stringify(want2),
      { timeoutMs: 90_000 },
    ).catch((e: Error) => {
      throw new Error(`${e.message}\nfolder: ${folder().join(' ')}\n${ctl!.process.logTail(15)}`);
    });
    const convergedMs = Date.now() - t0;
    for (const f of folder()) {
      const doc = JSON.parse(readFileSync(path.join(configDir, f), 'utf8')) as { metadata: { name: string } };
      assert.equal(`${doc.metadata.name}.json`, f, `file ${f} names relay ${doc.metadata.name}`);
    }
    const ready = await ctl!.get('/readyz');
    console.log(
      `[apiserver-restart] API server down ${downMs} ms, ready ${readyAfterMs} ms after its start; folder polled ${polls}× through the restart, never fewer than ${minFiles}/10 files; changes made after the restart in the folder ${convergedMs} ms later (${folder().length} files, each once); controller /readyz ${ready.status}`,
    );
    assert.equal(minFiles, 10, 'a relay file disappeared while the API server was down');
    assert.equal(ready.status, 200);
    assert.ok(ctl!.process.running(), 'the controller died');
  },
);
