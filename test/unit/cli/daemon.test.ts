// cli/daemon.ts: the daemons' common shell — start, wait for a signal or the daemon's own end, stop — and
// the one log-level setting.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { listenAddress, listenThenStart, runDaemon, type RunningDaemon } from '../../../cli/daemon.js';
import { SettingError } from '../../../lib/settings.js';
import { silentLogger } from '../../../lib/log.js';
import type { CommandIO } from '../../../cli/io.js';

function io(): CommandIO & { err: () => string } {
  let err = '';
  return {
    stdin: process.stdin,
    stdout: { write: () => true },
    stderr: {
      write: (s: string) => {
        err += s;
        return true;
      },
    },
    env: {},
    err: () => err,
  };
}

/** A daemon that records its stop; `ended` and the stop's failure as asked. */
function daemon(o: { ended?: Promise<number>; stopFails?: boolean } = {}) {
  const calls: string[] = [];
  const running: RunningDaemon = {
    stop: async () => {
      calls.push('stop');
      if (o.stopFails) throw new Error('cannot close');
    },
    ...(o.ended ? { ended: o.ended } : {}),
  };
  return { calls, start: async () => running };
}

const never = (): Promise<string> => new Promise(() => undefined);

test('a signal stops the daemon: exit 0', async () => {
  const d = daemon();
  const code = await runDaemon({
    command: 'agent',
    io: io(),
    logLevel: 'silent',
    start: d.start,
    until: () => Promise.resolve('SIGTERM'),
  });
  assert.equal(code, 0);
  assert.deepEqual(d.calls, ['stop']);
});

test('a daemon that ends by itself is stopped and exits with its code', async () => {
  const d = daemon({ ended: Promise.resolve(1) });
  const code = await runDaemon({ command: 'csi', io: io(), logLevel: 'silent', start: d.start, until: never });
  assert.equal(code, 1);
  assert.deepEqual(d.calls, ['stop']);
});

test('a failing stop exits 1', async () => {
  const d = daemon({ stopFails: true });
  const code = await runDaemon({
    command: 'agent',
    io: io(),
    logLevel: 'silent',
    start: d.start,
    until: () => Promise.resolve('SIGINT'),
  });
  assert.equal(code, 1);
});

test('a failing start exits 1 with the reason on stderr, and nothing is waited for', async () => {
  const out = io();
  const code = await runDaemon({
    command: 'agent',
    io: out,
    logLevel: 'silent',
    start: () => Promise.reject(new Error('listen EADDRINUSE 127.0.0.1:9465')),
    until: never,
  });
  assert.equal(code, 1);
  assert.equal(out.err(), 'agent: listen EADDRINUSE 127.0.0.1:9465\n');
});

test('a start failure the daemon does not expect (a bug) is thrown, not turned into exit 1', async () => {
  await assert.rejects(
    runDaemon({
      command: 'controller',
      io: io(),
      logLevel: 'silent',
      expected: (e) => e instanceof RangeError,
      start: () => Promise.reject(new TypeError('x is undefined')),
      until: never,
    }),
    TypeError,
  );
});

test('a node daemon listen setting: HOST:PORT or [V6]:PORT, off or empty for none, else a SettingError', () => {
  const listen = listenAddress('127.0.0.1:9465');
  assert.deepEqual(listen('127.0.0.1:19465'), { host: '127.0.0.1', port: 19465 });
  assert.deepEqual(listen('[::1]:9465'), { host: '::1', port: 9465 });
  assert.equal(listen('off'), undefined);
  assert.equal(listen(''), undefined);
  assert.throws(
    () => listen('localhost'),
    (e: Error) =>
      e instanceof SettingError &&
      e.message === `expected HOST:PORT, e.g. 127.0.0.1:9465 ('' or 'off' disables), got "localhost"`,
  );
});

/** An endpoint that records its calls and can refuse to listen (the address is taken). */
function endpoint(calls: string[], taken = false) {
  return {
    start: async () => {
      calls.push('listen');
      if (taken) throw new Error('listen EADDRINUSE');
      return { address: '127.0.0.1', family: 'IPv4', port: 9465 };
    },
    stop: async () => {
      calls.push('endpoint stop');
    },
  };
}

test('listenThenStart: the endpoint listens before the daemon starts', async () => {
  const calls: string[] = [];
  await listenThenStart(endpoint(calls), silentLogger, async () => {
    calls.push('start');
  });
  assert.deepEqual(calls, ['listen', 'start']);
});

test('listenThenStart: a taken address stops it before the daemon starts (a second copy on the node)', async () => {
  const calls: string[] = [];
  await assert.rejects(
    listenThenStart(
      endpoint(calls, true),
      silentLogger,
      async () => {
        calls.push('start');
      },
      async () => {
        calls.push('undo');
      },
    ),
    /EADDRINUSE/,
  );
  assert.deepEqual(calls, ['listen', 'undo', 'endpoint stop']);
});

test('listenThenStart: a failing start is undone and the endpoint stopped', async () => {
  const calls: string[] = [];
  await assert.rejects(
    listenThenStart(
      endpoint(calls),
      silentLogger,
      () => Promise.reject(new Error('no config folder')),
      async () => {
        calls.push('undo');
      },
    ),
    /no config folder/,
  );
  assert.deepEqual(calls, ['listen', 'undo', 'endpoint stop']);
});
