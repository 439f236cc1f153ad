// The operator's examples (manifests/examples/*/, one folder = one applicable set) as data: the hook
// every examples check uses. The API-server suite can take `loadExamples()` and server-side dry-run
// each example's `objects` (CRD installed first; kinds whose CRD is absent, like PodMonitor, skipped).
import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { CONSUME_LABEL } from '../../relay/constants.js';
import { loadManifests, MANIFESTS, REPO, type KubeObject, type Loaded } from './manifest-load.js';

const EXAMPLES_DIR = path.join(MANIFESTS, 'examples');

export interface Example {
  /** Folder relative to manifests/examples/, e.g. kubeadm-control-plane/prometheus-operator. */
  name: string;
  dir: string;
  /** Every object of the example's own YAML files (kustomization files aside). */
  objects: KubeObject[];
  /** The same objects with the file (relative to the repository) each came from. */
  loaded: Loaded[];
  relays: KubeObject[];
  /** Pods and workloads whose pod carries the socat.io/consume label. */
  consumers: KubeObject[];
}

const WORKLOADS = ['Pod', 'Deployment', 'DaemonSet', 'StatefulSet', 'ReplicaSet', 'Job', 'CronJob'];

export function podLabels(o: KubeObject): Record<string, string> | undefined {
  if (o.kind === 'Pod') return o.metadata.labels;
  if (o.kind === 'CronJob') return o.spec?.jobTemplate?.spec?.template?.metadata?.labels;
  return o.spec?.template?.metadata?.labels;
}

/** Every folder under manifests/examples/ with a kustomization.yaml; objects of nested examples stay theirs. */
export function loadExamples(): Example[] {
  const dirs: string[] = [];
  const walk = (d: string) => {
    if (existsSync(path.join(d, 'kustomization.yaml'))) dirs.push(d);
    for (const e of readdirSync(d).sort()) if (statSync(path.join(d, e)).isDirectory()) walk(path.join(d, e));
  };
  walk(EXAMPLES_DIR);
  return dirs.map((dir) => {
    const nested = dirs.filter((o) => o !== dir && o.startsWith(`${dir}${path.sep}`));
    const loaded = loadManifests(dir).filter(
      (l) => !nested.some((n) => path.join(REPO, l.file).startsWith(`${n}${path.sep}`)),
    );
    const objects = loaded.map((l) => l.object);
    return {
      name: path.relative(EXAMPLES_DIR, dir),
      dir,
      objects,
      loaded,
      relays: objects.filter((o) => o.kind === 'Relay'),
      consumers: objects.filter((o) => WORKLOADS.includes(o.kind) && podLabels(o)?.[CONSUME_LABEL] !== undefined),
    };
  });
}
