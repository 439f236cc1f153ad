// Rendering the Helm chart (charts/socat-relay) with helm from TESTBIN_DIR, for the chart tests.
import path from 'node:path';
import { parseDocuments } from '../../relay/load.js';
import { REPO, type KubeObject } from './load.js';
import { runTool } from './tools.js';

export const CHART = path.join(REPO, 'charts', 'socat-relay');
/** The Kubernetes version helm renders for (the chart's kubeVersion needs ≥ 1.30; the test API server's). */
export const KUBE_VERSION = '1.34.4';
/** Labels the chart adds to every object for Helm's bookkeeping; everything else is the manifests'. */
export const HELM_LABELS = ['app.kubernetes.io/instance', 'app.kubernetes.io/managed-by', 'helm.sh/chart'];

export async function helmTemplate(opts: { namespace?: string; set?: Record<string, string>; values?: string } = {}): Promise<KubeObject[]> {
  const args = ['template', 'socat-relay', CHART, '--namespace', opts.namespace ?? 'socat-relay-system', '--kube-version', KUBE_VERSION];
  for (const [k, v] of Object.entries(opts.set ?? {})) args.push('--set', `${k}=${v}`);
  if (opts.values) args.push('--values', opts.values);
  return parseDocuments(await runTool('helm', args, { timeoutMs: 120_000 }), 'helm template').filter((o) => o !== null) as KubeObject[];
}

/** The object without Helm's bookkeeping: its labels and the CRD's keep annotation (crds.keep). */
export function withoutHelmLabels(o: KubeObject): KubeObject {
  const c = structuredClone(o);
  for (const l of HELM_LABELS) delete c.metadata.labels?.[l];
  delete c.metadata.annotations?.['helm.sh/resource-policy'];
  for (const m of ['labels', 'annotations'] as const) if (c.metadata[m] && Object.keys(c.metadata[m]!).length === 0) delete c.metadata[m];
  return c;
}

export const key = (o: KubeObject): string => `${o.kind}/${o.metadata.namespace ?? ''}/${o.metadata.name}`;
