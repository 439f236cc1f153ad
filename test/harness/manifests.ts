// The project's real manifests, read from manifests/ and applied to the test API server, with the one
// change a cluster-less test needs: the webhook configurations call a URL on 127.0.0.1 with our test
// CA instead of the in-cluster Service that cert-manager's cainjector would fill.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { parseDocuments } from '../../relay/index.js';
import { REPO_ROOT } from './binaries.js';
import type { KubeClient, KubeObject } from './client.js';
import { waitFor } from './wait.js';

export const MANIFESTS_DIR = path.join(REPO_ROOT, 'manifests');
const WEBHOOK_KINDS = ['MutatingWebhookConfiguration', 'ValidatingWebhookConfiguration'];

function yamlFiles(p: string): string[] {
  if (!statSync(p).isDirectory()) return [p];
  return readdirSync(p)
    .sort()
    .flatMap((e) => {
      const full = path.join(p, e);
      if (statSync(full).isDirectory()) return yamlFiles(full);
      return /\.ya?ml$/.test(e) && !/^kustomization\.ya?ml$/.test(e) ? [full] : [];
    });
}

function isKubeObject(v: unknown): v is KubeObject {
  const o = v as KubeObject;
  return (
    typeof o === 'object' &&
    o !== null &&
    typeof o.apiVersion === 'string' &&
    typeof o.kind === 'string' &&
    typeof o.metadata?.name === 'string'
  );
}

/** Every object in the files or folders given (paths relative to manifests/ or absolute). */
export function readManifests(...paths: string[]): KubeObject[] {
  return paths.flatMap((p) => {
    const abs = path.isAbsolute(p) ? p : path.join(MANIFESTS_DIR, p);
    return yamlFiles(abs).flatMap((f) => parseDocuments(readFileSync(f, 'utf8'), f).filter(isKubeObject));
  });
}

/**
 * manifests/policy/ with the policy's socket folder set to `socketDir` (variables.socketRoot), as a
 * cluster whose controller runs with another --socket-dir patches it; the default leaves it as shipped.
 */
export function policyManifests(socketDir?: string): KubeObject[] {
  const objs = readManifests('policy');
  if (socketDir === undefined) return objs;
  for (const o of objs) {
    const vars = (o as { spec?: { variables?: { name: string; expression: string }[] } }).spec?.variables;
    const root = vars?.find((v) => v.name === 'socketRoot');
    if (root) root.expression = JSON.stringify(socketDir).replace(/^"|"$/g, "'");
  }
  return objs;
}

/**
 * The webhook configurations among `objs`, each webhook's `clientConfig.service` (its path kept)
 * replaced by `url: <baseUrl><path>` and the given caBundle; the cert-manager annotation dropped.
 */
export function webhooksForUrl(objs: KubeObject[], opts: { baseUrl: string; caBundle: string }): KubeObject[] {
  return objs
    .filter((o) => WEBHOOK_KINDS.includes(o.kind))
    .map((o) => {
      const copy = structuredClone(o) as KubeObject & {
        webhooks?: { clientConfig: { service?: { path?: string }; url?: string; caBundle?: string } }[];
      };
      if (copy.metadata.annotations) {
        delete copy.metadata.annotations['cert-manager.io/inject-ca-from'];
      }
      for (const w of copy.webhooks ?? []) {
        const p = w.clientConfig.service?.path ?? '/';
        w.clientConfig = { url: `${opts.baseUrl.replace(/\/$/, '')}${p}`, caBundle: opts.caBundle };
      }
      return copy;
    });
}

/** Server-side applies each object in order. */
export async function applyAll(client: KubeClient, objs: KubeObject[]): Promise<void> {
  for (const o of objs) await client.apply(o);
}

/** Waits until a CRD reports Established (its API is served). */
export async function waitForCrdEstablished(client: KubeClient, name: string, timeoutMs = 20_000): Promise<void> {
  type Crd = {
    spec: { group: string; names: { plural: string }; versions: { name: string; served: boolean }[] };
    status?: { conditions?: { type: string; status: string }[] };
  };
  await waitFor(
    `CRD ${name} Established and served`,
    async () => {
      const crd = await client.get<Crd>('apiextensions.k8s.io/v1', 'CustomResourceDefinition', name);
      if (!(crd.status?.conditions?.some((c) => c.type === 'Established' && c.status === 'True') ?? false))
        return false;
      // Established can come before every handler serves the resource on a loaded machine: ask discovery
      // and list it once, so the first create is decided by the CRD's schema, not answered with a 404.
      for (const v of crd.spec.versions.filter((x) => x.served)) {
        const path = `/apis/${crd.spec.group}/${v.name}`;
        const res = await client.raw('GET', path);
        if (
          res.status !== 200 ||
          !(res.body as { resources?: { name: string }[] }).resources?.some((r) => r.name === crd.spec.names.plural)
        )
          return false;
        if ((await client.raw('GET', `${path}/${crd.spec.names.plural}`)).status !== 200) return false;
      }
      return true;
    },
    { timeoutMs },
  );
}

/** Applies manifests/crd/ and waits for every CRD in it to be Established. */
export async function installCrds(client: KubeClient): Promise<KubeObject[]> {
  const crds = readManifests('crd');
  await applyAll(client, crds);
  for (const c of crds) await waitForCrdEstablished(client, c.metadata.name);
  return crds;
}
