// A daemon's settings as one schema — key, flag, environment variable, default, meaning, parser — read
// once at start from flags > environment > defaults, every problem listed at once, each naming where
// its value came from. The controller, the agent and the CSI plugin each declare their schema with it.
import { parseArgs } from 'node:util';
import { LOG_LEVELS, type LogLevel } from './log.js';

export interface Setting<C, K extends keyof C = keyof C> {
  key: K;
  /** The flag without its dashes. */
  flag: string;
  /** The environment variable read when the flag is absent; none: flag or default only. */
  env?: string;
  default: string;
  meaning: string;
  /** A flag that takes no value (`--no-register`): present reads as "true", absent as the default. */
  boolean?: true;
  /** The value, or a throw of SettingError saying what is wrong (`must be …, got "…"`). */
  parse: (raw: string) => C[K];
}

/** The schema of the settings object C: one entry per key. */
export type Schema<C> = readonly { [K in keyof C]: Setting<C, K> }[keyof C][];

/** Thrown by a parser: the value is wrong; the message says why. */
export class SettingError extends Error {}

/** Every problem found in a daemon's settings. */
export class SettingsError extends Error {
  constructor(
    readonly problems: string[],
    what = 'settings',
  ) {
    super(`invalid ${what}:\n  ${problems.join('\n  ')}`);
    this.name = 'SettingsError';
  }
}

/**
 * Flags > environment > defaults: the settings, or 'help' for --help. A parser's SettingError is listed
 * under `--flag`, the variable's name, or the key (a bad default); an unknown flag is a problem too.
 */
export function readSettings<C>(
  schema: Schema<C>,
  args: string[],
  env: Record<string, string | undefined>,
): { settings: C; problems: string[] } | 'help' {
  const options: Record<string, { type: 'string' | 'boolean'; short?: string }> = {
    help: { type: 'boolean', short: 'h' },
  };
  for (const s of schema) options[s.flag] = { type: s.boolean ? 'boolean' : 'string' };
  let values: Record<string, string | boolean | undefined>;
  try {
    values = parseArgs({ args, options, allowPositionals: false }).values;
  } catch (e) {
    return { settings: {} as C, problems: [(e as Error).message] };
  }
  if (values.help) return 'help';
  const problems: string[] = [];
  const out: Partial<Record<keyof C, unknown>> = {};
  for (const s of schema) {
    const flag = values[s.flag];
    const fromEnv = s.env !== undefined ? env[s.env] : undefined;
    const [raw, from] =
      flag !== undefined
        ? [String(flag), `--${s.flag}`]
        : fromEnv !== undefined
          ? [fromEnv, s.env!]
          : [s.default, String(s.key)];
    try {
      out[s.key] = s.parse(raw);
    } catch (e) {
      if (!(e instanceof SettingError)) throw e;
      problems.push(`${from}: ${e.message}`);
    }
  }
  return { settings: out as C, problems };
}

/** The usage text: a header line, one row per setting (flag, variable, default, meaning), a footer. */
export function settingsUsage<C>(header: string, schema: Schema<C>, footer = ''): string {
  const rows = schema.map(
    (s) =>
      `  --${s.flag.padEnd(14)} ${(s.env ?? '').padEnd(28)} ${(s.default === '' ? '(none)' : s.default).padEnd(38)} ${s.meaning}`,
  );
  return `${header}\n  flag             env var                      default                                meaning\n${rows.join('\n')}\n${footer}`;
}

/** Every daemon's log level: --log-level, else LOG_LEVEL, else info. */
export function logLevelSetting<C extends { logLevel: LogLevel }>(): Setting<C, 'logLevel'> {
  return {
    key: 'logLevel',
    flag: 'log-level',
    env: 'LOG_LEVEL',
    default: 'info',
    meaning: 'trace, debug, info, warn, error, fatal or silent',
    parse: oneOf(LOG_LEVELS),
  };
}

/**
 * Reads a daemon's settings: the values, or 'help'; throws SettingsError with every problem. The
 * controller adds its checks across settings before throwing (webhook/config.ts).
 */
export function loadSettings<C>(
  schema: Schema<C>,
  args: string[],
  env: Record<string, string | undefined>,
  what: string,
): C | 'help' {
  const read = readSettings(schema, args, env);
  if (read === 'help') return 'help';
  if (read.problems.length > 0) throw new SettingsError(read.problems, what);
  return read.settings;
}

// The parsers the schemas share. Each message says what is expected and quotes what it got.

export const port = (raw: string): number => {
  const n = Number(raw);
  if (!/^\d+$/.test(raw) || n > 65535)
    throw new SettingError(`must be a port number 0-65535 (0: any free port), got "${raw}"`);
  return n;
};

export const seconds = (raw: string): number => {
  const n = Number(raw);
  if (!/^\d+(\.\d+)?$/.test(raw) || n > 300) throw new SettingError(`must be a number of seconds 0-300, got "${raw}"`);
  return n;
};

export const positiveSeconds = (raw: string): number => {
  const n = seconds(raw);
  if (n <= 0) throw new SettingError(`must be more than 0 seconds, got "${raw}"`);
  return n;
};

export const integer =
  (min: number, max: number) =>
  (raw: string): number => {
    const n = Number(raw);
    if (!/^\d+$/.test(raw) || n < min || n > max)
      throw new SettingError(`must be an integer from ${min} to ${max}, got "${raw}"`);
    return n;
  };

export const absPath = (raw: string): string => {
  if (!raw.startsWith('/')) throw new SettingError(`must be an absolute path, got "${raw}"`);
  return raw;
};

export const text = (raw: string): string => raw;

export const nonEmpty = (raw: string): string => {
  if (raw.trim() === '') throw new SettingError('must not be empty');
  return raw;
};

export const bool = (raw: string): boolean => {
  if (/^(true|1|yes)$/i.test(raw)) return true;
  if (/^(false|0|no)$/i.test(raw)) return false;
  throw new SettingError(`must be true or false, got "${raw}"`);
};

export const oneOf =
  <T extends string>(values: readonly T[]) =>
  (raw: string): T => {
    if (!(values as readonly string[]).includes(raw))
      throw new SettingError(`must be one of ${values.join(', ')}, got "${raw}"`);
    return raw as T;
  };
