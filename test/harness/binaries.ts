// Where the test control plane's binaries live (.testbin/, built by scripts/build-testbin.sh) and
// what a suite needing them does when they are not there: skip saying so, or fail in CI (required()).
import { isExecutable as executable } from '../../lib/fs.js';
import { required } from './required.js';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
/** .testbin/, or TESTBIN_DIR as for scripts/build-testbin.sh. */
export const DEFAULT_TESTBIN = process.env.TESTBIN_DIR || path.join(REPO_ROOT, '.testbin');
/** The release the build script pins; /version must report it. */
export const K8S_VERSION = 'v1.37.2';

export interface Binaries {
  kubeApiserver: string;
  etcd: string;
  /** Runs the controllers every cluster has for pods: default ServiceAccounts and kube-root-ca.crt. */
  kubeControllerManager: string;
}

/** The binaries in `dir`, or undefined when either is missing. */
export function findBinaries(dir: string = DEFAULT_TESTBIN): Binaries | undefined {
  const b = {
    kubeApiserver: path.join(dir, 'kube-apiserver'),
    etcd: path.join(dir, 'etcd'),
    kubeControllerManager: path.join(dir, 'kube-controller-manager'),
  };
  return executable(b.kubeApiserver) && executable(b.etcd) && executable(b.kubeControllerManager) ? b : undefined;
}

export function missingBinariesMessage(dir: string = DEFAULT_TESTBIN): string {
  return `kube-apiserver/kube-controller-manager/etcd not found in ${dir}: install Go (>= 1.24) and run 'npm run build:testbin' (or 'bash scripts/setup.sh') to build them`;
}

/**
 * null when every one of `names` (paths relative to `dir`) is an executable there, else what is missing
 * and the scripts/build-testbin.sh components that build it.
 */
export function missingFromTestbin(names: string[], components: string, dir: string = DEFAULT_TESTBIN): string | null {
  const gone = names.filter((n) => !executable(path.join(dir, n)));
  return gone.length === 0
    ? null
    : `${dir} lacks ${gone.join(', ')} (scripts/build-testbin.sh ${components} builds them)`;
}

/**
 * For `{ skip: skipUnlessControlPlane() }`: false when the binaries are there, else the reason (and,
 * in CI, a failing test: see required()).
 */
export function skipUnlessControlPlane(dir: string = DEFAULT_TESTBIN): string | false {
  return required(findBinaries(dir) ? false : missingBinariesMessage(dir));
}
