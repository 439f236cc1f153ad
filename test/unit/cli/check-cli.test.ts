// socat-relay check's decisions on the API server's answers, and its flags.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { configurationVerdict, dryRunVerdict, parseCheckArgs, probeRelay } from '../../../cli/check.js';
import { validateRelay } from '../../../relay/index.js';
import { runCli } from '../../harness/cli.js';

const status = (code: number, message: string) => ({ status: code, body: { kind: 'Status', message } });

test('dry run: created, or denied by our webhook → answered', () => {
  assert.deepEqual(dryRunVerdict({ status: 201, body: {} }), { ok: true });
  assert.deepEqual(dryRunVerdict(status(400, 'admission webhook "relays.socat.io" denied the request: spec.x: bad')), {
    ok: true,
  });
});

test('dry run: the API server could not call the webhook, or failed → wait', () => {
  const refused = dryRunVerdict(
    status(
      500,
      'Internal error occurred: failed calling webhook "relays.socat.io": dial tcp: connect: connection refused',
    ),
  );
  assert.equal(refused.ok, false);
  assert.ok(!refused.ok && refused.retry && refused.reason.includes('connection refused'));
  const unavailable = dryRunVerdict(status(503, 'the server is currently unable to handle the request'));
  assert.ok(!unavailable.ok && unavailable.retry);
});

test('dry run: refused for another reason (RBAC, another webhook) → stop, naming it', () => {
  const forbidden = dryRunVerdict(status(403, 'relays.socat.io is forbidden: User "x" cannot create'));
  assert.ok(!forbidden.ok && !forbidden.retry);
  assert.match(forbidden.reason, /refused \(HTTP 403\): relays\.socat\.io is forbidden/);
});

test('configurations: missing → wait; no caBundle → wait naming the webhooks; no Relay webhook or not Fail → stop', () => {
  const kind = 'validatingwebhookconfiguration';
  const v = (webhooks: unknown[]) => configurationVerdict(kind, 'socat-relay', { status: 200, body: { webhooks } });
  const missing = configurationVerdict(kind, 'socat-relay', status(404, 'not found'));
  assert.ok(!missing.ok && missing.retry);
  const noCa = v([{ name: 'relays.socat.io', failurePolicy: 'Fail', clientConfig: {} }]);
  assert.ok(!noCa.ok && noCa.retry && noCa.reason.includes('no caBundle yet in relays.socat.io'));
  const other = v([{ name: 'other.example.com', failurePolicy: 'Fail', clientConfig: { caBundle: 'x' } }]);
  assert.ok(!other.ok && !other.retry && other.reason.includes('has no webhook relays.socat.io'));
  const ignore = v([{ name: 'relays.socat.io', failurePolicy: 'Ignore', clientConfig: { caBundle: 'x' } }]);
  assert.ok(!ignore.ok && !ignore.retry && ignore.reason.includes('failurePolicy Ignore'));
  assert.deepEqual(v([{ name: 'relays.socat.io', failurePolicy: 'Fail', clientConfig: { caBundle: 'x' } }]), {
    ok: true,
  });
  const forbidden = configurationVerdict(kind, 'socat-relay', status(403, 'forbidden'));
  assert.ok(!forbidden.ok && !forbidden.retry);
});

test('the probe is a valid Relay without warnings (the webhook must let it pass)', () => {
  const r = probeRelay();
  const v = validateRelay({ ...r, metadata: { name: `${r.metadata.generateName}abcde` } });
  assert.deepEqual(v.problems, []);
  assert.deepEqual(v.warnings ?? [], []);
});

test('flags: --timeout is whole seconds up to an hour; unknown flags and bad values exit 2 naming them', async () => {
  assert.deepEqual(parseCheckArgs([]), { kubeconfig: undefined, timeoutSeconds: 120, name: 'socat-relay' });
  assert.equal(parseCheckArgs(['--help']), 'help');
  for (const bad of ['-1', '1.5', 'x', '3601']) assert.throws(() => parseCheckArgs(['--timeout', bad]), /--timeout/);
  const r = await runCli(['check', '--timeout', 'soon']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /^check: --timeout: a whole number of seconds/);
  assert.equal((await runCli(['check', '--bogus'])).code, 2);
});
