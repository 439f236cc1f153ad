// Benchmark parameters from the environment (BENCH_*), read once at the edge and passed down.

export class BadParameter extends Error {
  constructor(name: string, value: string) {
    super(`${name}=${JSON.stringify(value)} is not a positive number`);
    this.name = 'BadParameter';
  }
}

/** A positive number from env[name], else the default (the quick default when BENCH_QUICK=1). */
export function num(env: NodeJS.ProcessEnv, name: string, def: number, quick?: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return env.BENCH_QUICK === '1' && quick !== undefined ? quick : def;
  const v = Number(raw);
  if (!Number.isFinite(v) || v <= 0) throw new BadParameter(name, raw);
  return v;
}

export function list(env: NodeJS.ProcessEnv, name: string, def: number[], quick?: number[]): number[] {
  const raw = env[name];
  if (raw === undefined || raw === '') return env.BENCH_QUICK === '1' && quick !== undefined ? quick : def;
  const v = raw.split(',').map((s) => Number(s.trim()));
  if (v.some((x) => !Number.isFinite(x) || x <= 0)) throw new BadParameter(name, raw);
  return v;
}

export function str<T extends string>(env: NodeJS.ProcessEnv, name: string, allowed: readonly T[], def: T): T {
  const raw = env[name];
  if (raw === undefined || raw === '') return def;
  if (!(allowed as readonly string[]).includes(raw)) throw new Error(`${name}=${raw}: allowed ${allowed.join('|')}`);
  return raw as T;
}
