// socat-relay static-pod [--image IMG]: prints the node agent's static-pod manifest
// (manifests/node-agent/static-pod.yaml, the one agent manifest; the image carries a copy of it) with
// every container running IMG, comments kept — to write into /etc/kubernetes/manifests/.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { isMap, isSeq, parseDocument } from 'yaml';
import { DEFAULT_IMAGE, ImageRefError, parseImageRef } from '../lib/image.js';
import type { CommandIO } from './io.js';

const USAGE = `usage: socat-relay static-pod [--image IMG] [--manifest FILE]
  --image IMG       the controller/agent image <repository>:<tag> (default ${DEFAULT_IMAGE})
  --manifest FILE   the agent manifest to start from (default: manifests/node-agent/static-pod.yaml
                    of this checkout or image)
Writes the manifest to stdout: sudo socat-relay static-pod --image IMG > /etc/kubernetes/manifests/socat-relay-agent.yaml
`;

export const STATIC_POD_RELATIVE = path.join('manifests', 'node-agent', 'static-pod.yaml');

/**
 * manifests/node-agent/static-pod.yaml above this module (cli/ in a checkout, dist/cli/ when built, /app/dist/cli/ in
 * the image).
 */
export function findStaticPodManifest(from = path.dirname(fileURLToPath(import.meta.url))): string | undefined {
  for (let dir = from; ; dir = path.dirname(dir)) {
    const candidate = path.join(dir, STATIC_POD_RELATIVE);
    if (existsSync(candidate)) return candidate;
    if (path.dirname(dir) === dir) return undefined;
  }
}

export class ManifestError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ManifestError';
  }
}

/** The manifest text with the image of every container and init container set to `image`; comments kept. */
export function staticPodManifest(text: string, image: string): string {
  parseImageRef(image);
  const doc = parseDocument(text);
  if (doc.errors.length > 0) throw new ManifestError(`the agent manifest does not parse: ${doc.errors[0]!.message}`);
  if (doc.get('kind') !== 'Pod')
    throw new ManifestError(`the agent manifest is a ${String(doc.get('kind'))}, not a Pod`);
  let count = 0;
  for (const list of ['containers', 'initContainers']) {
    const seq = doc.getIn(['spec', list]);
    if (seq === undefined) continue;
    if (!isSeq(seq)) throw new ManifestError(`spec.${list} is not a list`);
    for (const c of seq.items) {
      if (!isMap(c)) throw new ManifestError(`spec.${list} holds a non-object`);
      c.set('image', image);
      count++;
    }
  }
  if (count === 0) throw new ManifestError('the agent manifest has no container');
  return doc.toString({ lineWidth: 0 });
}

export async function run(args: string[], io: CommandIO): Promise<number> {
  let image: string;
  let file: string | undefined;
  try {
    const { values } = parseArgs({
      args,
      options: {
        image: { type: 'string', default: DEFAULT_IMAGE },
        manifest: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    });
    if (values.help) {
      io.stdout.write(USAGE);
      return 0;
    }
    image = values.image!;
    file = values.manifest ?? findStaticPodManifest();
    if (!file)
      throw new Error(
        `cannot find ${STATIC_POD_RELATIVE} above ${path.dirname(fileURLToPath(import.meta.url))}; give --manifest FILE`,
      );
  } catch (e) {
    io.stderr.write(`static-pod: ${(e as Error).message}\n${USAGE}`);
    return 2;
  }
  try {
    io.stdout.write(staticPodManifest(readFileSync(file, 'utf8'), image));
    return 0;
  } catch (e) {
    if (e instanceof ImageRefError) {
      io.stderr.write(`static-pod: --image: ${e.message}\n`);
      return 2;
    }
    if (e instanceof ManifestError || (e as NodeJS.ErrnoException).code) {
      io.stderr.write(`static-pod: ${file}: ${(e as Error).message}\n`);
      return 1;
    }
    throw e;
  }
}
