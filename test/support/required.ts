// Real parts a suite needs (root for network namespaces, socat, Prometheus, kube-scheduler, …): on a
// developer's machine a missing part skips the test with the reason; in CI (CI=true or
// REQUIRE_APISERVER=1, as .ci/run sets) it is an error, because scripts/setup.sh installs every part
// and a silent skip would hide that the check never ran.

/** True where missing parts must fail instead of skip. */
export function partsRequired(env: NodeJS.ProcessEnv = process.env): boolean {
  return env.CI === 'true' || env.CI === '1' || env.REQUIRE_APISERVER === '1';
}

/**
 * For `{ skip: required(reason1 ?? reason2 ?? null) }`: false when nothing is missing; the reason to
 * skip otherwise; throws in CI (the test file then fails, naming what is missing).
 */
export function required(missing: string | null | undefined, env: NodeJS.ProcessEnv = process.env): string | false {
  if (!missing) return false;
  if (partsRequired(env)) throw new Error(`a part this suite needs is missing, and CI does not allow skipping: ${missing}`);
  return missing;
}
