// lib/settings.ts: the one way the daemons read their settings — flags > environment > defaults, every
// problem at once naming where its value came from.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  SettingsError,
  bool,
  integer,
  loadSettings,
  logLevelSetting,
  readSettings,
  settingsUsage,
  text,
  type Schema,
} from '../../../lib/settings.js';
import type { LogLevel } from '../../../lib/log.js';

interface S {
  dir: string;
  count: number;
  quiet: boolean;
  logLevel: LogLevel;
}

const SCHEMA: Schema<S> = [
  { key: 'dir', flag: 'dir', env: 'APP_DIR', default: '/d', meaning: 'a folder', parse: text },
  { key: 'count', flag: 'count', default: '3', meaning: 'how many', parse: integer(1, 10) },
  { key: 'quiet', flag: 'quiet', boolean: true, default: 'false', meaning: 'say less', parse: bool },
  logLevelSetting<S>(),
];

test('defaults, then the environment, then flags', () => {
  assert.deepEqual(loadSettings(SCHEMA, [], {}, 'app settings'), {
    dir: '/d',
    count: 3,
    quiet: false,
    logLevel: 'info',
  });
  assert.deepEqual(loadSettings(SCHEMA, [], { APP_DIR: '/env', LOG_LEVEL: 'debug' }, 'app settings'), {
    dir: '/env',
    count: 3,
    quiet: false,
    logLevel: 'debug',
  });
  assert.deepEqual(
    loadSettings(
      SCHEMA,
      ['--dir', '/flag', '--quiet', '--log-level=warn'],
      { APP_DIR: '/env', LOG_LEVEL: 'debug' },
      'x',
    ),
    { dir: '/flag', count: 3, quiet: true, logLevel: 'warn' },
  );
});

test('a setting without an environment variable ignores the environment', () => {
  const s = loadSettings(SCHEMA, [], { count: '7', COUNT: '7' }, 'x');
  assert.ok(s !== 'help');
  assert.equal(s.count, 3);
});

test('every problem at once, each naming the flag or the variable it came from', () => {
  assert.throws(
    () => loadSettings(SCHEMA, ['--count', '11'], { LOG_LEVEL: 'loud' }, 'app settings'),
    (e: unknown) => {
      assert.ok(e instanceof SettingsError);
      assert.deepEqual(e.problems, [
        '--count: must be an integer from 1 to 10, got "11"',
        'LOG_LEVEL: must be one of trace, debug, info, warn, error, fatal, silent, got "loud"',
      ]);
      assert.equal(
        e.message,
        'invalid app settings:\n  --count: must be an integer from 1 to 10, got "11"\n  LOG_LEVEL: must be one of trace, debug, info, warn, error, fatal, silent, got "loud"',
      );
      return true;
    },
  );
});

test('an unknown flag or a missing value is a problem; --help and -h are help', () => {
  const bogus = readSettings(SCHEMA, ['--bogus'], {});
  assert.ok(bogus !== 'help');
  assert.equal(bogus.problems.length, 1);
  assert.match(bogus.problems[0]!, /bogus/);
  assert.throws(() => loadSettings(SCHEMA, ['--dir'], {}, 'x'), /--dir/);
  assert.equal(loadSettings(SCHEMA, ['--help'], {}, 'x'), 'help');
  assert.equal(loadSettings(SCHEMA, ['-h', '--count', 'nonsense'], {}, 'x'), 'help');
});

test('the usage lists each flag with its variable, default and meaning', () => {
  const u = settingsUsage('usage: app [options]', SCHEMA, 'footer line\n');
  const lines = u.split('\n');
  assert.equal(lines[0], 'usage: app [options]');
  assert.match(u, /^ {2}--dir\s+APP_DIR\s+\/d\s+a folder$/m);
  assert.match(u, /^ {2}--count\s+3\s+how many$/m);
  assert.match(u, /^ {2}--log-level\s+LOG_LEVEL\s+info\s+trace, debug/m);
  assert.ok(u.endsWith('footer line\n'));
});
