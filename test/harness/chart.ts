// Rendering the Helm chart (charts/socat-relay) with helm from TESTBIN_DIR, for the chart tests.
import path from 'node:path';
import { parseDocuments } from '../../relay/load.js';
import { K8S_VERSION } from './binaries.js';
import { REPO, type KubeObject } from './manifest-load.js';
import { runTool } from './tools.js';

export const CHART = path.join(REPO, 'charts', 'socat-relay');
/** The Kubernetes version helm renders for by default: the test API server's (the newest supported release). */
export const KUBE_VERSION = K8S_VERSION.replace(/^v/, '');
/** Labels the chart adds to every object (and its DaemonSets' pods); everything else is the manifests'. */
export const HELM_LABELS = [
  'app.kubernetes.io/instance',
  'app.kubernetes.io/managed-by',
  'app.kubernetes.io/part-of',
  'app.kubernetes.io/version',
  'helm.sh/chart',
];

export interface RenderOptions {
  namespace?: string;
  /** `--set` pairs (helm parses the value: numbers and booleans become numbers and booleans). */
  set?: Record<string, string>;
  values?: string;
  /** `--kube-version`; null renders with helm's own default capabilities (no flag). */
  kubeVersion?: string | null;
}

export function templateArgs(opts: RenderOptions = {}): string[] {
  const args = ['template', 'socat-relay', CHART, '--namespace', opts.namespace ?? 'socat-relay-system'];
  if (opts.kubeVersion !== null) args.push('--kube-version', opts.kubeVersion ?? KUBE_VERSION);
  for (const [k, v] of Object.entries(opts.set ?? {})) args.push('--set', `${k}=${v}`);
  if (opts.values) args.push('--values', opts.values);
  return args;
}

export async function helmTemplate(opts: RenderOptions = {}): Promise<KubeObject[]> {
  return parseDocuments(await runTool('helm', templateArgs(opts), { timeoutMs: 120_000 }), 'helm template').filter(
    (o) => o !== null,
  ) as KubeObject[];
}

/**
 * The object without Helm's bookkeeping: its labels (and its pod template's) and the CRD's keep annotation (crds.keep).
 */
export function withoutHelmLabels(o: KubeObject): KubeObject {
  const c = structuredClone(o);
  const metas = [c.metadata, c.spec?.template?.metadata].filter(Boolean) as KubeObject['metadata'][];
  for (const m of metas) for (const l of HELM_LABELS) delete m.labels?.[l];
  delete c.metadata.annotations?.['helm.sh/resource-policy'];
  for (const meta of metas)
    for (const m of ['labels', 'annotations'] as const)
      if (meta[m] && Object.keys(meta[m]).length === 0) delete meta[m];
  return c;
}

export const key = (o: KubeObject): string => `${o.kind}/${o.metadata.namespace ?? ''}/${o.metadata.name}`;
