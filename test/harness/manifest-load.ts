// Reading the project's manifests for the schema checks: every object of every YAML file under
// manifests/ (kustomization files aside), each with the file it came from, and `kubectl kustomize`
// (kubectl from TESTBIN_DIR, see tools.ts).
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseDocuments } from '../../relay/load.js';
import { runTool } from './tools.js';

export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const MANIFESTS = path.join(REPO, 'manifests');

export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  [key: string]: any;
}

export interface Loaded {
  file: string;
  object: KubeObject;
}

function yamlFiles(dir: string): string[] {
  return readdirSync(dir)
    .sort()
    .flatMap((e) => {
      const full = path.join(dir, e);
      if (statSync(full).isDirectory()) return yamlFiles(full);
      return /\.ya?ml$/.test(e) ? [full] : [];
    });
}

/** Helm values files beside an example (e.g. kube-prometheus-stack-values.yaml): not Kubernetes objects. */
export const isHelmValues = (file: string): boolean => /(^|-)values\.ya?ml$/.test(path.basename(file));

/** Every object under `dir` (default manifests/), kustomization and Helm values files left out. */
export function loadManifests(dir = MANIFESTS): Loaded[] {
  return yamlFiles(dir)
    .filter((f) => !/^kustomiz(ation|econfig)\.ya?ml$/.test(path.basename(f)) && !isHelmValues(f))
    .flatMap((f) =>
      parseDocuments(readFileSync(f, 'utf8'), f).map((object) => ({
        file: path.relative(REPO, f),
        object: object as KubeObject,
      })),
    );
}

/** `kubectl kustomize DIR` (offline, kubectl from TESTBIN_DIR) parsed into objects. */
export async function kustomize(dir: string): Promise<KubeObject[]> {
  return parseDocuments(
    await runTool('kubectl', ['kustomize', dir], { timeoutMs: 60_000 }),
    `kustomize ${dir}`,
  ) as KubeObject[];
}

/** The class that kubernetes-models (or its cert-manager / prometheus-operator packages) has for a kind. */
export async function modelFor(
  apiVersion: string,
  kind: string,
): Promise<(new (o: unknown) => { validate(): void }) | undefined> {
  const group = apiVersion.includes('/') ? apiVersion.split('/')[0]! : '';
  let spec: string;
  if (group === 'cert-manager.io') spec = `@kubernetes-models/cert-manager/${apiVersion}`;
  else if (group === 'monitoring.coreos.com') spec = `@kubernetes-models/prometheus-operator/${apiVersion}`;
  else spec = `kubernetes-models/${apiVersion}`;
  try {
    const mod = (await import(spec)) as Record<string, unknown>;
    return mod[kind] as (new (o: unknown) => { validate(): void }) | undefined;
  } catch {
    return undefined;
  }
}
