// socat_relay_csi_calls_total{method, code}: the real plugin server on a real Unix socket, called by a
// real gRPC client, counts each answer by method and gRPC code (OK, a validation refusal, an internal
// error), and the health listener serves them at /metrics beside /healthz.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { credentials, type Client, type ServiceError } from '@grpc/grpc-js';
import { silentLogger } from '../../../lib/log.js';
import { Driver } from '../../../node-agent/csi/driver.js';
import { CsiMetrics } from '../../../node-agent/csi/metrics.js';
import { SystemMounter } from '../../../node-agent/csi/mount.js';
import { loadServices } from '../../../node-agent/csi/proto.js';
import { PluginServer } from '../../../node-agent/csi/server.js';
import { AgentHttpServer } from '../../../node-agent/http.js';

function get(port: number, urlPath: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    request({ host: '127.0.0.1', port, path: urlPath }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => {
        body += d;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    })
      .on('error', reject)
      .end();
  });
}

function call(client: Client, method: string, req: object): Promise<ServiceError | null> {
  return new Promise((resolve) => {
    (client as unknown as Record<string, (r: object, cb: (e: ServiceError | null) => void) => void>)[method]!(
      req,
      (e) => resolve(e),
    );
  });
}

test("every answered CSI call is counted by method and code, and served at the health listener's /metrics", async (t) => {
  const root = mkdtempSync(path.join(os.tmpdir(), 'csi-metrics-'));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  mkdirSync(path.join(root, 'kubelet', 'pods'), { recursive: true });
  const mountInfoPath = path.join(root, 'mountinfo');
  writeFileSync(mountInfoPath, '1 0 254:0 / / rw,relatime shared:1 - ext4 /dev/root rw\n');
  const driver = new Driver({
    driverName: 'csi.socat.io',
    nodeId: 'n',
    version: 't',
    configDir: path.join(root, 'relays.d'),
    socketDir: path.join(root, 'run'),
    kubeletDir: path.join(root, 'kubelet'),
    mounter: new SystemMounter({ mountInfoPath }),
    log: silentLogger,
  });
  // The seam: a driver method that throws something that is not a CsiError (a bug) → INTERNAL.
  driver.nodeGetCapabilities = () => {
    throw new Error('boom');
  };
  const metrics = new CsiMetrics();
  const socket = path.join(root, 'kubelet', 'plugins', 'csi.socat.io', 'csi.sock');
  const server = new PluginServer({
    driver,
    driverName: 'csi.socat.io',
    csiSocket: socket,
    log: silentLogger,
    onRegistrationFailed: () => undefined,
    metrics,
  });
  await server.start();
  t.after(() => server.stop(100));
  const http = new AgentHttpServer({ host: '127.0.0.1', port: 0, registry: metrics.registry, unhealthy: () => null });
  const { port } = await http.start();
  t.after(() => http.stop());
  const svc = loadServices();
  const identity = new svc.Identity(`unix:${socket}`, credentials.createInsecure());
  const node = new svc.Node(`unix:${socket}`, credentials.createInsecure());
  t.after(() => {
    identity.close();
    node.close();
  });

  assert.equal(await call(identity, 'Probe', {}), null);
  assert.equal(await call(identity, 'Probe', {}), null);
  assert.equal((await call(node, 'NodePublishVolume', {}))?.code, 3, 'INVALID_ARGUMENT: no volume id');
  assert.equal((await call(node, 'NodeGetCapabilities', {}))?.code, 13, 'INTERNAL');

  const m = await get(port, '/metrics');
  assert.equal(m.status, 200);
  const count = (method: string, code: string): number | undefined => {
    const line = m.body
      .split('\n')
      .find((l) => l.startsWith(`socat_relay_csi_calls_total{method="${method}",code="${code}"} `));
    return line === undefined ? undefined : Number(line.split(' ')[1]);
  };
  assert.equal(count('Probe', 'OK'), 2);
  assert.equal(count('NodePublishVolume', 'INVALID_ARGUMENT'), 1);
  assert.equal(count('NodeGetCapabilities', 'INTERNAL'), 1);
  assert.equal(count('NodePublishVolume', 'OK'), undefined);
  assert.match(m.body, /^socat_relay_build_info\{version="[^"]+",component="csi"\} 1$/m);
  assert.equal((await get(port, '/healthz')).status, 200);
});
