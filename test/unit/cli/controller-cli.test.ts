// `socat-relay controller` in local mode: a real child process with a self-signed certificate, asked
// over real TLS, stopped with SIGTERM (exit 0). Startup failures are checked in-process.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { run } from '../../../cli/controller.js';
import { patchOps } from '../../../webhook/admission/index.js';
import { FIXTURES, pod, podRequest } from '../../harness/admission.js';
import { httpsRequest as get } from '../../harness/https.js';

const ROOT = path.resolve(FIXTURES, '..', '..');
const VALID = path.join(FIXTURES, 'admission/valid-relays.yaml');

test(
  'local mode serves the relays of a file over a self-signed certificate and exits 0 on SIGTERM',
  { timeout: 60_000 },
  async (t) => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'socat-relay-ctl-'));
    t.after(() => rm(dir, { recursive: true, force: true }));
    const child = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        'cli/main.ts',
        'controller',
        '--relays',
        VALID,
        '--self-signed',
        path.join(dir, 'tls'),
        '--port',
        '0',
        '--metrics-port',
        '0',
        '--shutdown-drain-seconds',
        '0',
        '--log-level',
        'warn',
      ],
      {
        cwd: ROOT,
        stdio: ['ignore', 'pipe', 'pipe'],
        env: { ...process.env, SOCAT_RELAY_SIDECAR_MODE: 'regular' },
      },
    );
    const exited = once(child, 'exit');
    t.after(() => {
      if (child.exitCode === null) child.kill('SIGKILL');
    });
    let stderr = '';
    const url = await new Promise<string>((resolve, reject) => {
      child.stderr.setEncoding('utf8');
      child.stderr.on('data', (s: string) => {
        stderr += s;
        const m = /(https:\/\/127\.0\.0\.1:\d+) .*metrics: (https:\/\/127\.0\.0\.1:\d+\/metrics)/.exec(stderr);
        if (m) resolve(m[1]!);
      });
      child.on('exit', (code) => reject(new Error(`controller exited ${code}: ${stderr}`)));
    });
    assert.match(
      stderr,
      new RegExp(
        `caBundle \\(CA certificate\\): ${path.join(dir, 'tls', 'ca.crt').replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`,
      ),
    );
    const ca = await readFile(path.join(dir, 'tls', 'ca.crt'), 'utf8');

    assert.deepEqual(await get(`${url}/readyz`, ca), { status: 200, text: 'ok\n' });
    const req = podRequest(pod('basic'));
    const res = await get(`${url}/mutate-pods`, ca, {
      apiVersion: 'admission.k8s.io/v1',
      kind: 'AdmissionReview',
      request: req,
    });
    assert.equal(res.status, 200);
    const review = JSON.parse(res.text);
    assert.equal(review.response.uid, req.uid);
    const add = patchOps(review.response).find((op) => op.path === '/spec/containers/1') as
      { value: { name: string; restartPolicy?: string } } | undefined;
    assert.equal(add?.value.name, 'socat-kube-scheduler', 'regular mode from the environment');
    assert.equal((await get(`${url}/metrics`, ca)).status, 404, 'not on the webhook port');
    const metricsUrl = /metrics: (https:\/\/127\.0\.0\.1:\d+\/metrics)/.exec(stderr)![1]!;
    const metrics = await get(metricsUrl, ca);
    assert.match(metrics.text, /socat_relay_injections_total\{relay="kube-scheduler"\} 1/);

    child.kill('SIGTERM');
    const [code, signal] = await exited;
    assert.equal(signal, null);
    assert.equal(code, 0);
  },
);

async function runInProcess(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number; stderr: string }> {
  let stderr = '';
  const io = {
    stdin: Readable.from([]),
    stdout: { write: () => true },
    stderr: {
      write: (s: string) => {
        stderr += s;
      },
    },
    env,
  };
  const code = await run(args, io, () => new Promise(() => {}));
  return { code, stderr };
}

const failures: { name: string; args: string[]; env?: Record<string, string>; code: number; message: RegExp }[] = [
  {
    name: 'a bad setting',
    args: ['--relays', VALID],
    env: { SOCAT_RELAY_SIDECAR_MODE: 'sometimes' },
    code: 2,
    message: /SOCAT_RELAY_SIDECAR_MODE: must be one of auto, native, regular, got "sometimes"/,
  },
  { name: 'cluster mode without a node name', args: [], code: 2, message: /NODE_NAME \(--node-name\) is required/ },
  {
    name: 'an invalid relay in the file',
    args: ['--relays', path.join(FIXTURES, 'admission/relays.yaml'), '--port', '0'],
    code: 1,
    message: /relay broken: spec\.target\.host: 10\.0\.0\.1 is not a loopback address/,
  },
  {
    name: 'a missing relays file',
    args: ['--relays', '/nonexistent/relays.yaml', '--port', '0'],
    code: 1,
    message: /ENOENT/,
  },
  {
    name: 'missing certificate files',
    args: ['--relays', VALID, '--port', '0', '--tls-cert', '/nonexistent/tls.crt'],
    code: 1,
    message: /ENOENT.*tls\.crt/,
  },
  {
    name: 'a kubeconfig that does not exist',
    args: ['--kubeconfig', '/nonexistent/kubeconfig', '--reconcile', 'false'],
    code: 1,
    message: /cannot load the Kubernetes client configuration \(\/nonexistent\/kubeconfig\)/,
  },
];
for (const f of failures) {
  test(`controller start fails clearly: ${f.name} → exit ${f.code}`, async () => {
    const r = await runInProcess(f.args, f.env);
    assert.equal(r.code, f.code, r.stderr);
    assert.match(r.stderr, f.message);
  });
}

test('the node reconcile module loads through the lazy import the controller uses', async () => {
  const { loadReconcile } = await import('../../../cli/controller.js');
  assert.equal(typeof (await loadReconcile()), 'function');
});
