// What build is running: the version in the package.json above this file (the source tree, or the
// image's /app above dist/), and the metric every process exports with it, socat_relay_build_info.
// The controller, the agent and the CSI plugin all call buildInfo(), so the name and labels have one home.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Gauge, type Registry } from 'prom-client';

let cached: string | undefined;

/** The package's version ('unknown' when no socat-relay package.json is found within four folders up). */
export function packageVersion(): string {
  if (cached !== undefined) return cached;
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 4; i++, dir = path.dirname(dir)) {
    try {
      const pkg = JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8')) as {
        name?: string;
        version?: string;
      };
      if (pkg.name === 'socat-relay' && typeof pkg.version === 'string' && pkg.version) return (cached = pkg.version);
    } catch {
      // not here: one folder up
    }
  }
  return (cached = 'unknown');
}

const BUILD_INFO = 'socat_relay_build_info';
export type Component = 'controller' | 'agent' | 'csi';

/** Registers socat_relay_build_info{version, component} = 1 on the registry (once per registry). */
export function buildInfo(
  registry: Registry,
  component: Component,
  version = packageVersion(),
): Gauge<'version' | 'component'> {
  const g =
    (registry.getSingleMetric(BUILD_INFO) as Gauge<'version' | 'component'> | undefined) ??
    new Gauge({
      name: BUILD_INFO,
      help: "Always 1: the running build's version (package.json) and which process exports it (controller, agent, csi).",
      labelNames: ['version', 'component'],
      registers: [registry],
    });
  g.set({ version, component }, 1);
  return g;
}
