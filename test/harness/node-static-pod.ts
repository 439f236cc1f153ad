// The agent's static pod as users install it (manifests/node-agent/static-pod.yaml), with only what a
// test node needs changed: the image (the one the Dockerfile built, never pulled), the host paths,
// which follow the test's folders and the kubelet's root folder, and optionally the loopback ports of
// its host-network listeners (the agent's 9465, the CSI plugin's 9466), so a test node does not take
// the ports of an agent already running on the machine, or of another test node. Pure: manifest in,
// manifest out.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import type { KubeObject } from './client.js';
import { MANIFESTS_DIR } from './manifests.js';

const STATIC_POD_FILE = path.join(MANIFESTS_DIR, 'node-agent', 'static-pod.yaml');
export const DEFAULT_KUBELET_ROOT = '/var/lib/kubelet';

export interface PathMapping {
  from: string;
  to: string;
  /**
   * The folder is mounted at the same path inside the container (the kubelet's root for the CSI
   * plugin: the paths it is called with must mean the same inside and out), so container paths and
   * arguments move with it.
   */
  samePathInside?: boolean;
}

function mapPath(p: string, mappings: PathMapping[], inside: boolean): string {
  for (const m of mappings) {
    if (inside && !m.samePathInside) continue;
    if (p === m.from || p.startsWith(`${m.from}/`)) return m.to + p.slice(m.from.length);
  }
  return p;
}

type AnyObj = Record<string, any>;

/** The manifest's port → the test's: in `--flag=HOST:PORT` arguments and in the probes' httpGet. */
export type PortMapping = Record<number, number>;

function mapPorts(c: AnyObj, ports: PortMapping): void {
  const to = (p: number): number => (Object.hasOwn(ports, p) ? ports[p]! : p);
  if (c.args)
    c.args = (c.args as string[]).map((a) =>
      a.replace(/^(--[a-z-]+=[^=]*:)(\d+)$/, (_m, pre: string, p: string) => pre + to(Number(p))),
    );
  for (const probe of [c.livenessProbe, c.readinessProbe, c.startupProbe]) {
    if (typeof probe?.httpGet?.port === 'number') probe.httpGet.port = to(probe.httpGet.port);
  }
}

export function rewriteStaticPod(
  pod: KubeObject,
  o: { image: string; paths: PathMapping[]; ports?: PortMapping },
): KubeObject {
  const copy = structuredClone(pod) as KubeObject & { spec: AnyObj };
  for (const c of [...(copy.spec.initContainers ?? []), ...(copy.spec.containers ?? [])] as AnyObj[]) {
    c.image = o.image;
    c.imagePullPolicy = 'Never';
    for (const vm of c.volumeMounts ?? []) vm.mountPath = mapPath(vm.mountPath, o.paths, true);
    if (c.args)
      c.args = (c.args as string[]).map((a) =>
        a.replace(/(^|=)(\/[^\s,]*)/g, (_m, pre: string, p: string) => pre + mapPath(p, o.paths, true)),
      );
    if (o.ports) mapPorts(c, o.ports);
  }
  for (const v of (copy.spec.volumes ?? []) as AnyObj[]) {
    if (v.hostPath?.path) v.hostPath.path = mapPath(v.hostPath.path, o.paths, false);
  }
  return copy;
}

export function readStaticPod(): KubeObject {
  return parse(readFileSync(STATIC_POD_FILE, 'utf8')) as KubeObject;
}
