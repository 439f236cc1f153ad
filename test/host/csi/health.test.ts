// The CSI plugin's /healthz (the `csi` container's liveness probe): a CSI Probe over the plugin's own
// Unix socket, through real gRPC and real HTTP. First in-process (the real plugin server and driver
// on a socket in a temp folder, no root needed): healthy, socket deleted, server stopped, a wedged or
// not-ready Probe, and many requests sharing one Probe. Then the `socat-relay csi` command itself, as
// root in a private mount namespace: its --health-listen address, a deleted socket, and a second
// plugin on the same address that exits before touching the running one's sockets.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { silentLogger } from '../../../lib/log.js';
import { Driver } from '../../../node-agent/csi/driver.js';
import { CsiHealth, probeVerdict } from '../../../node-agent/csi/health.js';
import { SystemMounter } from '../../../node-agent/csi/mount.js';
import { PluginServer } from '../../../node-agent/csi/server.js';
import { AgentHttpServer } from '../../../node-agent/http.js';
import { waitFor } from '../../harness/wait.js';
import {
  call,
  clientsFor,
  makeLayout,
  MountNamespace,
  skipUnlessCsi,
  startPlugin,
  type Layout,
  type Plugin,
} from './plugin.js';

interface Answer {
  status: number;
  body: string;
}

function httpCall(address: string, urlPath: string, method = 'GET'): Promise<Answer> {
  const [host, port] = [
    address.slice(0, address.lastIndexOf(':')),
    Number(address.slice(address.lastIndexOf(':') + 1)),
  ];
  return new Promise((resolve, reject) => {
    const req = request({ host, port, path: urlPath, method, timeout: 20_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => {
        body += d;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('timeout', () => req.destroy(new Error(`${method} ${urlPath}: no answer in 20 s`)));
    req.on('error', reject);
    req.end();
  });
}

test('probeVerdict: ready, ready absent (= ready), not ready (false arrives as an empty BoolValue), gRPC errors by name', () => {
  assert.equal(probeVerdict('/s', { response: { ready: { value: true } } }), null);
  assert.equal(probeVerdict('/s', { response: {} }), null);
  assert.equal(probeVerdict('/s', { response: undefined }), null);
  assert.match(probeVerdict('/s', { response: { ready: {} } }) ?? '', /unix:\/s: the plugin answered not ready/);
  assert.match(probeVerdict('/s', { response: { ready: { value: false } } }) ?? '', /not ready/);
  assert.equal(
    probeVerdict('/s', { error: { code: 14, details: 'connect ENOENT /s' } }),
    'CSI Probe over unix:/s failed: UNAVAILABLE: connect ENOENT /s',
  );
  assert.match(probeVerdict('/s', { error: { code: 4, details: '' } }) ?? '', /DEADLINE_EXCEEDED: \(no details\)/);
});

describe('/healthz in-process: the real plugin server on a real Unix socket', () => {
  const root = mkdtempSync(path.join(os.tmpdir(), 'csi-health-'));
  const socket = path.join(root, 'kubelet', 'plugins', 'csi.socat.io', 'csi.sock');
  mkdirSync(path.join(root, 'kubelet', 'pods'), { recursive: true });
  // This process's mount table need not have the kubelet folder on a shared mount (what Probe checks,
  // and a pod's Bidirectional mount gives the plugin): a mountinfo where it is. Nothing is mounted here.
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
  const realProbe = driver.probe.bind(driver);
  let probes = 0;
  // The seam: what the driver's Probe answers (the gRPC server and its socket stay real).
  let answer: () => unknown = realProbe;
  driver.probe = (() => {
    probes++;
    return answer();
  }) as typeof driver.probe;
  const newServer = () =>
    new PluginServer({
      driver,
      driverName: 'csi.socat.io',
      csiSocket: socket,
      log: silentLogger,
      onRegistrationFailed: () => undefined,
    });
  let server = newServer();
  const checker = new CsiHealth({ socket: server.endpoint, timeoutMs: 1000 });
  const http = new AgentHttpServer({ host: '127.0.0.1', port: 0, unhealthy: () => checker.check() });
  let addr = '';
  const healthz = () => httpCall(addr, '/healthz');

  before(async () => {
    await server.start();
    const a = await http.start();
    addr = `127.0.0.1:${a.port}`;
  });
  after(async () => {
    await http.stop();
    await server.stop(100);
    rmSync(root, { recursive: true, force: true });
  });

  test('serving: 200 ok; nothing but /healthz is served (404), other methods 405', async () => {
    assert.deepEqual(await healthz(), { status: 200, body: 'ok\n' });
    assert.deepEqual(await httpCall(addr, '/healthz?verbose'), { status: 200, body: 'ok\n' });
    for (const p of ['/metrics', '/', '/healthz/', '/readyz']) assert.equal((await httpCall(addr, p)).status, 404, p);
    assert.equal((await httpCall(addr, '/healthz', 'POST')).status, 405);
  });

  test('the socket file deleted while the server still runs: 503 naming the socket (the kubelet could not dial it either); served again: 200', async () => {
    rmSync(socket);
    const r = await healthz();
    assert.equal(r.status, 503);
    assert.match(r.body, new RegExp(`^CSI Probe over unix:${socket} failed: UNAVAILABLE: .*`));
    await server.stop(100);
    server = newServer();
    await server.start();
    assert.equal((await healthz()).status, 200);
  });

  test('the server stopped: 503', async () => {
    await server.stop(100);
    const r = await healthz();
    assert.equal(r.status, 503);
    assert.match(r.body, /UNAVAILABLE/);
    server = newServer();
    await server.start();
    assert.equal((await healthz()).status, 200);
  });

  test('Probe answers not ready: 503 saying so', async (t) => {
    t.after(() => {
      answer = realProbe;
    });
    answer = () => ({ ready: { value: false } });
    assert.deepEqual(await healthz(), {
      status: 503,
      body: `CSI Probe over unix:${socket}: the plugin answered not ready\n`,
    });
  });

  test('a wedged Probe: 503 DEADLINE_EXCEEDED after the deadline; the requests meanwhile share that one call', async (t) => {
    const pending: (() => void)[] = [];
    t.after(() => {
      answer = realProbe;
      for (const p of pending) p();
    });
    answer = () => new Promise((resolve) => pending.push(() => resolve({ ready: { value: true } })));
    const before = probes;
    const t0 = Date.now();
    const answers = await Promise.all(Array.from({ length: 10 }, () => healthz()));
    const took = Date.now() - t0;
    assert.equal(probes - before, 1, 'one Probe reached the plugin for 10 requests');
    for (const r of answers) {
      assert.equal(r.status, 503);
      assert.match(r.body, /DEADLINE_EXCEEDED/);
    }
    assert.ok(took >= 900, `answered after the 1 s deadline, not before (${took} ms)`);
    assert.ok(took < 15_000, `answered within the deadline plus slack (${took} ms)`);
  });

  test('many requests at once while a Probe runs: one Probe, every request answered 200', async (t) => {
    t.after(() => {
      answer = realProbe;
    });
    answer = () => new Promise((resolve) => setTimeout(() => resolve(realProbe()), 300));
    const before = probes;
    const answers = await Promise.all(Array.from({ length: 25 }, () => healthz()));
    assert.deepEqual(new Set(answers.map((r) => r.status)), new Set([200]));
    assert.ok(probes - before <= 2, `${probes - before} Probe calls for 25 requests`);
    // Sequential requests each make their own call: no stale answer is kept.
    const seq = probes;
    await healthz();
    await healthz();
    assert.equal(probes - seq, 2);
  });
});

describe(
  'socat-relay csi --health-listen (the command, as root in a private mount namespace)',
  { skip: skipUnlessCsi() },
  () => {
    let ns: MountNamespace;
    let l: Layout;
    let plugin: Plugin;

    before(async () => {
      l = makeLayout('csi-health');
      ns = await MountNamespace.create(path.join(l.logDir, 'ns.log'));
      plugin = await startPlugin(ns, l);
    });
    after(async () => {
      await plugin?.proc.stop();
      await ns?.destroy();
    });

    test('the plugin serves /healthz on its --health-listen address: 200 while it serves; /metrics beside it counts its calls', async () => {
      assert.ok(plugin.health, `the plugin logged the address it serves /healthz on:\n${plugin.proc.logTail()}`);
      assert.match(plugin.health, /^127\.0\.0\.1:\d+$/);
      const probes = async (): Promise<number> => {
        const m = await httpCall(plugin.health!, '/metrics');
        assert.equal(m.status, 200);
        assert.match(m.body, /^socat_relay_build_info\{version="[^"]+",component="csi"\} 1$/m);
        assert.match(m.body, /^process_resident_memory_bytes \d+/m);
        return Number(/^socat_relay_csi_calls_total\{method="Probe",code="OK"\} (\d+)$/m.exec(m.body)?.[1] ?? 0);
      };
      const before = await probes();
      assert.deepEqual(await httpCall(plugin.health, '/healthz'), { status: 200, body: 'ok\n' });
      assert.equal(await probes(), before + 1, "the health check's Probe went over the CSI socket and was counted");
    });

    test("a second plugin on the same health address (a rollout's new pod) takes both sockets over; the first, stopped, leaves them in place", async () => {
      const inodes = () => [statSync(plugin.csiSocket).ino, statSync(plugin.registrationSocket).ino];
      const before = inodes();
      const first = plugin;
      // startPlugin returns once the sockets answer, which the first plugin does: the second's own start is
      // seen at the sockets' inodes. They share the health address.
      const second = { ...(await startPlugin(ns, l, ['--health-listen', first.health!])), health: first.health! };
      await waitFor('the second plugin took both sockets over', () => inodes().every((ino, i) => ino !== before[i]), {
        timeoutMs: 10_000,
      });
      const taken = inodes();
      assert.deepEqual(
        await httpCall(first.health!, '/healthz'),
        { status: 200, body: 'ok\n' },
        'the address is shared',
      );
      await first.proc.stop();
      assert.equal((await first.proc.exited).code, 0, first.proc.logTail());
      assert.match(first.proc.logTail(200), /socket taken over by another plugin: left in place/);
      assert.deepEqual(inodes(), taken, "the first plugin's exit left the second's sockets alone");
      plugin = second; // the next tests run against the successor
      const c = clientsFor(second);
      try {
        assert.equal((await call(c.registration, 'GetInfo', {}, 2000)).name, 'csi.socat.io');
      } finally {
        c.close();
      }
      await waitFor(
        'the second plugin alone answers /healthz 200',
        async () => {
          const r = await httpCall(second.health, '/healthz').catch(() => undefined);
          return r?.status === 200;
        },
        { timeoutMs: 10_000 },
      );
    });

    test('its socket file deleted: 503 naming the socket, and the plugin says so in its log once', async () => {
      rmSync(plugin.csiSocket);
      const r = await httpCall(plugin.health!, '/healthz');
      assert.equal(r.status, 503);
      assert.ok(r.body.startsWith(`CSI Probe over unix:${plugin.csiSocket} failed: UNAVAILABLE`), r.body);
      await httpCall(plugin.health!, '/healthz');
      await waitFor('the log line', () => plugin.proc.logTail(200).includes('health check: unhealthy'), {
        timeoutMs: 5000,
      });
      assert.equal(
        plugin.proc
          .logTail(200)
          .split('\n')
          .filter((x) => x.includes('health check: unhealthy')).length,
        1,
        'logged on the change, not per request',
      );
    });
  },
);
