import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError, HelpRequested, loadConfig, SCHEMA, configUsage } from '../../../webhook/config.js';

test('defaults: every key of the schema has one and they match the shared names', () => {
  const c = loadConfig([], { NODE_NAME: 'node-1' });
  assert.deepEqual(c, {
    port: 8443,
    metricsPort: 9464,
    shutdownDrainSeconds: 5,
    host: '',
    tlsCert: '/tls/tls.crt',
    tlsKey: '/tls/tls.key',
    certificates: 'files',
    caLifetimeMs: 43800 * 3600_000,
    servingLifetimeMs: 2160 * 3600_000,
    certCheckSeconds: 30,
    certHosts: [],
    nodeName: 'node-1',
    namespace: 'socat-relay-system',
    leaseDurationSeconds: 40,
    leaseRenewSeconds: 10,
    leaseGraceSeconds: 80,
    configDir: '/etc/socat-relay/relays.d',
    socketDir: '/run/socat-relay',
    image: 'ghcr.io/socat-relay/socat-relay:0.1.0',
    sidecarImage: 'ghcr.io/socat-relay/socat-relay-sidecar:0.1.0',
    sidecarMode: 'auto',
    volumeSource: 'hostPath',
    reconcile: true,
    serveAdmission: true,
    leaderLeaseSeconds: 15,
    logLevel: 'info',
    kubeconfig: '',
    relaysFile: '',
    selfSignedDir: '',
  });
  assert.equal(SCHEMA.length, Object.keys(c).length);
});

test('reconcile only: SOCAT_RELAY_SERVE_ADMISSION=false needs no key and the reconcile; it cannot be local mode', () => {
  const c = loadConfig([], { NODE_NAME: 'node-1', SOCAT_RELAY_SERVE_ADMISSION: 'false' });
  assert.deepEqual([c.serveAdmission, c.reconcile], [false, true]);
  assert.throws(
    () => loadConfig(['--serve-admission', 'false', '--reconcile', 'false'], { NODE_NAME: 'n' }),
    /nothing to do/,
  );
  assert.throws(
    () => loadConfig(['--serve-admission', 'false', '--relays', 'r.yaml'], {}),
    /cannot be combined with --serve-admission false/,
  );
  assert.throws(
    () => loadConfig([], { NODE_NAME: 'n', SOCAT_RELAY_SERVE_ADMISSION: 'maybe' }),
    /SOCAT_RELAY_SERVE_ADMISSION: must be true or false/,
  );
  assert.throws(
    () => loadConfig([], { NODE_NAME: 'n', SOCAT_RELAY_LEADER_LEASE_SECONDS: '0' }),
    /SOCAT_RELAY_LEADER_LEASE_SECONDS: must be more than 0/,
  );
});

test('flags win over the environment, which wins over defaults', () => {
  const c = loadConfig(['--port', '9443', '--sidecar-mode=regular'], {
    SOCAT_RELAY_PORT: '7443',
    NODE_NAME: 'node-1',
    SOCAT_RELAY_RECONCILE: 'false',
    SOCAT_RELAY_SIDECAR_MODE: 'native',
  });
  assert.equal(c.port, 9443);
  assert.equal(c.nodeName, 'node-1');
  assert.equal(c.reconcile, false);
  assert.equal(c.sidecarMode, 'regular');
});

test('every wrong value is reported at once, naming where it came from', () => {
  assert.throws(
    () =>
      loadConfig(['--port', '70000'], {
        SOCAT_RELAY_SIDECAR_MODE: 'sometimes',
        SOCAT_RELAY_RECONCILE: 'maybe',
        SOCAT_RELAY_CONFIG_DIR: 'relative/dir',
      }),
    (e: unknown) => {
      assert.ok(e instanceof ConfigError);
      assert.deepEqual(e.problems, [
        '--port: must be a port number 0-65535 (0: any free port), got "70000"',
        'SOCAT_RELAY_CONFIG_DIR: must be an absolute path, got "relative/dir"',
        'SOCAT_RELAY_SIDECAR_MODE: must be one of auto, native, regular, got "sometimes"',
        'SOCAT_RELAY_RECONCILE: must be true or false, got "maybe"',
      ]);
      return true;
    },
  );
});

test('an unknown flag is a ConfigError; --self-signed needs --relays; --help is HelpRequested', () => {
  assert.throws(() => loadConfig(['--bogus'], {}), ConfigError);
  assert.throws(
    () => loadConfig(['--self-signed', '/tmp/x'], {}),
    /--self-signed is for local mode: also give --relays FILE/,
  );
  assert.throws(() => loadConfig(['--help'], {}), HelpRequested);
  assert.throws(() => loadConfig([], {}), /NODE_NAME \(--node-name\) is required for the node reconcile/);
  assert.equal(loadConfig(['--reconcile', 'false'], {}).reconcile, false);
  assert.equal(loadConfig(['--relays', '/tmp/r.yaml'], {}).relaysFile, '/tmp/r.yaml', 'local mode needs no node name');
  for (const s of SCHEMA) assert.ok(configUsage().includes(`--${s.flag}`) && configUsage().includes(s.env));
});

test('the sidecar image follows the image setting (<repository>-sidecar:<tag>) unless set; a digest-only image needs it set', () => {
  const env = { NODE_NAME: 'n' };
  assert.equal(
    loadConfig([], { ...env, SOCAT_RELAY_IMAGE: 'registry.example.com:5000/mirror/socat-relay:1.2.3' }).sidecarImage,
    'registry.example.com:5000/mirror/socat-relay-sidecar:1.2.3',
  );
  assert.equal(
    loadConfig(['--sidecar-image', 'own/socat:1'], { ...env, SOCAT_RELAY_IMAGE: 'x/y:2' }).sidecarImage,
    'own/socat:1',
  );
  const digest = `sha256:${'a'.repeat(64)}`;
  assert.equal(loadConfig([], { ...env, SOCAT_RELAY_IMAGE: `x/y:2@${digest}` }).sidecarImage, 'x/y-sidecar:2');
  assert.throws(
    () => loadConfig([], { ...env, SOCAT_RELAY_IMAGE: `x/y@${digest}` }),
    /SOCAT_RELAY_SIDECAR_IMAGE \(--sidecar-image\): cannot derive the sidecar image from "x\/y@sha256:a+": it has no tag \(a digest belongs to one image only\)/,
  );
  assert.throws(
    () => loadConfig([], { ...env, SOCAT_RELAY_IMAGE: 'Upper/Case:1' }),
    /SOCAT_RELAY_IMAGE: "Upper\/Case:1": repository/,
  );
  assert.throws(() => loadConfig([], { ...env, SOCAT_RELAY_SIDECAR_IMAGE: 'a b' }), /SOCAT_RELAY_SIDECAR_IMAGE: /);
});

test('self-managed certificates: lifetimes as <n>h/<n>m/<n>s, the serving one at most a third of the CA, extra hosts checked', () => {
  const c = loadConfig([], {
    NODE_NAME: 'n',
    SOCAT_RELAY_CERTIFICATES: 'self-managed',
    SOCAT_RELAY_CA_LIFETIME: '60s',
    SOCAT_RELAY_CERT_LIFETIME: '20s',
    SOCAT_RELAY_CERT_HOSTS: '127.0.0.1, webhook.example.com',
  });
  assert.deepEqual(
    [c.certificates, c.caLifetimeMs, c.servingLifetimeMs, c.certHosts],
    ['self-managed', 60_000, 20_000, ['127.0.0.1', 'webhook.example.com']],
  );
  const problems = (env: Record<string, string>) => {
    try {
      loadConfig([], { NODE_NAME: 'n', SOCAT_RELAY_CERTIFICATES: 'self-managed', ...env });
      return '';
    } catch (e) {
      assert.ok(e instanceof ConfigError);
      return e.message;
    }
  };
  assert.match(problems({ SOCAT_RELAY_CERT_LIFETIME: '20000h' }), /SOCAT_RELAY_CERT_LIFETIME .* at most a third of/);
  assert.match(problems({ SOCAT_RELAY_CA_LIFETIME: '5y' }), /SOCAT_RELAY_CA_LIFETIME: must be a duration/);
  assert.match(problems({ SOCAT_RELAY_CERT_LIFETIME: '5s' }), /SOCAT_RELAY_CERT_LIFETIME: must be a duration from 10s/);
  assert.match(problems({ SOCAT_RELAY_CERT_HOSTS: 'a b' }), /SOCAT_RELAY_CERT_HOSTS: must be DNS names or IP/);
  assert.match(problems({ SOCAT_RELAY_CERTIFICATES: 'cert-manager' }), /must be one of files, self-managed/);
  assert.equal(problems({ SOCAT_RELAY_CERT_LIFETIME: '20000h', SOCAT_RELAY_CERTIFICATES: 'files' }), '');
});
