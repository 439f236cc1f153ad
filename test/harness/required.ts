// The one place that decides what a missing real part (root for network namespaces, socat, the test
// control plane's binaries, podman, helm, kubectl, the kind node image, …) does to a test: on a
// developer's machine the test skips, saying what is missing; in CI it FAILS, naming the part, because
// scripts/setup.sh installs every part there and a silent skip would hide that the check never ran.
//
// Every suite takes its `{ skip }` from required() — directly, or through a helper that says what it
// needs (skipUnlessControlPlane, skipWithoutPodman, skipWithout, skipUnlessCsi) and returns
// required(thatReason). test/unit/harness/required.test.ts runs a test file in a child `node --test` both
// ways, and checks that no test file decides a skip, or reads CI, on its own.
import { test } from 'node:test';

/** The variables that say "this run is CI: nothing may skip". */
const DEMANDING = ['CI', 'REQUIRE_APISERVER'] as const;

/** '' / 'false' / '0' (any case, spaces around) mean "not set"; any other value demands every part. */
function demands(value: string | undefined): boolean {
  if (value === undefined) return false;
  const v = value.trim().toLowerCase();
  return v !== '' && v !== 'false' && v !== '0';
}

/**
 * The `NAME=value` that makes missing parts fail (CI=true as GitHub Actions sets it, CI=1 or any other
 * non-empty value as other CI systems do, REQUIRE_APISERVER=1 as .ci/run sets it), or undefined where
 * a missing part only skips.
 */
export function ciDemand(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const name = DEMANDING.find((n) => demands(env[n]));
  return name === undefined ? undefined : `${name}=${env[name]}`;
}

/** Reasons already turned into a failing test in this file: one failure per missing part. */
const reported = new Set<string>();

/**
 * For `{ skip: required(reasonA, reasonB, …) }`, each reason being what a check found missing (null,
 * undefined, false or '' when its part is there):
 * - nothing missing: false, the test runs;
 * - outside CI: the reasons, joined — the test skips and says why;
 * - in CI (ciDemand): the same reasons (the test itself skips, it cannot run without its part), and a
 *   test named after the missing part is registered that fails — the file, and the run, fail.
 */
export function required(...missing: (string | null | undefined | false)[]): string | false {
  const reasons = missing.filter((m): m is string => typeof m === 'string' && m !== '');
  if (reasons.length === 0) return false;
  const demand = ciDemand();
  for (const why of demand === undefined ? [] : reasons.filter((r) => !reported.has(r))) {
    reported.add(why);
    test(`a part this suite needs is missing, and ${demand} does not allow skipping: ${why}`, () => {
      throw new Error(`missing part (${demand} requires every part; scripts/setup.sh installs them): ${why}`);
    });
  }
  return reasons.join('; ');
}
