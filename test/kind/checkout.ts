// A user's checkout for the kind suite: a copy of the repository's manifests/ whose kustomizations a
// user applies carry one `images:` entry each — as docs/install.md tells a user to move the images — and
// the repository's `charts/` and `node_modules/` (for `npx socat-relay`), so the docs' commands run in
// it as written (`kubectl apply -k manifests/no-cert-manager/`, `helm install socat-relay
// charts/socat-relay …`) with the images built here. Host-side commands run with the cluster's
// kubeconfig and .testbin's tools on PATH.
import { cpSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parse, stringify } from 'yaml';
import { DEFAULT_IMAGE, parseImageRef } from '../../lib/image.js';
import { DEFAULT_TESTBIN, REPO_ROOT } from '../harness/binaries.js';
import { collect } from '../harness/processes.js';

/** The repository's kustomizations a user applies (relative to manifests/). */
const KUSTOMIZATIONS = [
  '.',
  'self-managed-certs',
  'no-cert-manager',
  'node-agent',
  'uninstall',
  'examples/kubeadm-control-plane',
];
const EXAMPLE_PROMETHEUS = 'quay.io/prometheus/prometheus';

function moved(from: string, to: string) {
  const ref = parseImageRef(to);
  if (!ref.tag) throw new Error(`image "${to}" must be repository:tag`);
  return { name: from, newName: ref.repository, newTag: ref.tag };
}

/**
 * Writes the checkout into `dir`: manifests/ copied, its applied kustomizations moving the project
 * image to `image` and the examples' Prometheus to `prometheus`.
 */
export function writeCheckout(dir: string, image: string, prometheus: string): void {
  cpSync(path.join(REPO_ROOT, 'manifests'), path.join(dir, 'manifests'), { recursive: true });
  for (const k of KUSTOMIZATIONS) {
    const file = path.join(dir, 'manifests', k, 'kustomization.yaml');
    const kustomization = parse(readFileSync(file, 'utf8')) as { images?: { name: string }[] };
    const images = [
      moved(parseImageRef(DEFAULT_IMAGE).repository, image),
      ...(k.startsWith('examples/') ? [moved(EXAMPLE_PROMETHEUS, prometheus)] : []),
    ];
    kustomization.images = [
      ...(kustomization.images ?? []).filter((i) => !images.some((m) => m.name === i.name)),
      ...images,
    ];
    writeFileSync(file, stringify(kustomization));
  }
  symlinkSync(path.join(REPO_ROOT, 'charts'), path.join(dir, 'charts'));
  symlinkSync(path.join(REPO_ROOT, 'node_modules'), path.join(dir, 'node_modules'));
}

class ShellError extends Error {
  constructor(
    readonly script: string,
    readonly exitCode: number | null,
    readonly output: string,
  ) {
    super(`exit ${exitCode} of:\n${script}\n--- output ---\n${output.trim().split('\n').slice(-40).join('\n')}`);
    this.name = 'ShellError';
  }
}

/**
 * Runs `script` with bash -euo pipefail in `cwd`, `binDirs` then .testbin first on PATH, KUBECONFIG set;
 * its output.
 */
export async function shell(
  script: string,
  cwd: string,
  kubeconfig: string,
  timeoutMs = 10 * 60_000,
  binDirs: string[] = [],
): Promise<string> {
  const env = {
    ...process.env,
    KUBECONFIG: kubeconfig,
    PATH: [...binDirs, DEFAULT_TESTBIN, process.env.PATH ?? ''].join(':'),
  };
  const r = await collect('bash', ['-euo', 'pipefail', '-c', script], { cwd, env, timeoutMs });
  if (r.code !== 0) throw new ShellError(script, r.code, r.output);
  return r.output;
}
