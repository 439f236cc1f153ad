// socat-relay inject -f POD.yaml --relays RELAYS.yaml: offline preview of the webhook, like
// `istioctl kube-inject`. Runs the same pure admission on each Pod or workload pod template and prints
// the injected objects as YAML; on any denial prints why to stderr, prints nothing, exits 1.
import { parseArgs } from 'node:util';
import { stringify } from 'yaml';
import { readInput } from '../lib/io.js';
import { parseDocuments, ParseError, isLabelKey, type Relay } from '../relay/index.js';
import { StaticCatalog } from '../webhook/catalog/catalog.js';
import {
  defaultInjectOptions,
  DEFAULT_SIDECAR_IMAGE,
  injectWorkload,
  VOLUME_SOURCES,
  type SidecarMode,
  type VolumeSource,
} from '../webhook/admission/index.js';
import type { CommandIO } from './io.js';

const USAGE = `usage: socat-relay inject -f FILE --relays FILE [options]
  -f, --file FILE          Pod, Deployment, DaemonSet, StatefulSet, ReplicaSet, Job or CronJob (- = stdin;
                           several documents allowed; other kinds pass through unchanged); repeatable
  --relays FILE            the Relay objects to decide from (several documents allowed); repeatable
  -n, --namespace NS       namespace of objects that name none (default: default)
  --namespace-labels K=V,… labels of that namespace, for namespaceSelector consumers
  --mode native|regular    sidecar as a native sidecar (initContainer, API server >= 1.29; default) or a container
  --image IMG              sidecar image (default ${DEFAULT_SIDECAR_IMAGE})
  --socket-dir DIR         the node's socket root, the hostPath (default /run/socat-relay)
  --volume-source hostPath|csi
                           the relay folder as a hostPath (default) or a csi.socat.io volume (restricted-level)
Prints the injected objects as YAML; exit 1 with the reasons on stderr when admission denies one.
`;

class Usage extends Error {}

function parseLabels(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of text
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)) {
    const eq = part.indexOf('=');
    const [k, v] = eq < 0 ? [part, ''] : [part.slice(0, eq), part.slice(eq + 1)];
    if (!isLabelKey(k)) throw new Usage(`--namespace-labels: "${k}" is not a label key`);
    out[k] = v;
  }
  return out;
}

interface InjectArgs {
  files: string[];
  relays: string[];
  namespace: string;
  labels: Record<string, string>;
  mode: SidecarMode;
  image: string;
  socketDir: string;
  volumeSource: VolumeSource;
}

/** The flags, checked; 'help' for -h. Throws Usage naming the flag. */
function parseInjectArgs(args: string[]): InjectArgs | 'help' {
  const v = parseArgs({
    args,
    options: {
      file: { type: 'string', short: 'f', multiple: true },
      relays: { type: 'string', multiple: true },
      namespace: { type: 'string', short: 'n', default: 'default' },
      'namespace-labels': { type: 'string', default: '' },
      mode: { type: 'string', default: 'native' },
      image: { type: 'string', default: DEFAULT_SIDECAR_IMAGE },
      'socket-dir': { type: 'string', default: '/run/socat-relay' },
      'volume-source': { type: 'string', default: 'hostPath' },
      help: { type: 'boolean', short: 'h' },
    },
  }).values;
  if (v.help) return 'help';
  if (!v.file?.length) throw new Usage('-f FILE is required');
  if (!v.relays?.length) throw new Usage('--relays FILE is required');
  if (v.mode !== 'native' && v.mode !== 'regular') throw new Usage(`--mode must be native or regular, got "${v.mode}"`);
  if (!v['socket-dir'].startsWith('/')) throw new Usage('--socket-dir must be an absolute path');
  if (!(VOLUME_SOURCES as readonly string[]).includes(v['volume-source']))
    throw new Usage(`--volume-source must be ${VOLUME_SOURCES.join(' or ')}, got "${v['volume-source']}"`);
  return {
    files: v.file,
    relays: v.relays,
    namespace: v.namespace,
    labels: parseLabels(v['namespace-labels']),
    mode: v.mode,
    image: v.image,
    socketDir: v['socket-dir'],
    volumeSource: v['volume-source'] as VolumeSource,
  };
}

/** Runs admission on every document; the objects to print, or undefined when one was denied (reasons on stderr). */
function injectAll(
  docs: { file: string; doc: unknown }[],
  relays: Relay[],
  a: InjectArgs,
  io: CommandIO,
): unknown[] | undefined {
  const ctx = {
    catalog: new StaticCatalog(relays),
    namespaceLabels: (ns: string) => ({ ...a.labels, 'kubernetes.io/metadata.name': ns }),
    options: defaultInjectOptions({
      mode: a.mode,
      sidecarImage: a.image,
      nodeSocketDir: a.socketDir,
      volumeSource: a.volumeSource,
    }),
  };
  const out: unknown[] = [];
  let denied = false;
  for (const { file, doc } of docs) {
    const r = injectWorkload(doc, a.namespace, ctx);
    const resp = r.decision?.response;
    for (const w of resp?.warnings ?? []) io.stderr.write(`${file}: ${r.label}: warning: ${w}\n`);
    if (resp && !resp.allowed) {
      denied = true;
      io.stderr.write(`${file}: ${r.label}: denied: ${resp.status?.message ?? 'no reason given'}\n`);
      continue;
    }
    if (r.decision?.skip && r.decision.skip.code === 'no-label')
      io.stderr.write(`${file}: ${r.label}: not injected: ${r.decision.skip.reason}\n`);
    out.push(r.object);
  }
  return denied ? undefined : out;
}

export async function run(args: string[], io: CommandIO): Promise<number> {
  let a: InjectArgs;
  try {
    const parsed = parseInjectArgs(args);
    if (parsed === 'help') {
      io.stdout.write(USAGE);
      return 0;
    }
    a = parsed;
  } catch (e) {
    io.stderr.write(`inject: ${(e as Error).message}\n${USAGE}`);
    return 2;
  }
  if ([...a.files, ...a.relays].filter((f) => f === '-').length > 1) {
    io.stderr.write('inject: only one input may be - (stdin)\n');
    return 2;
  }

  const relays: Relay[] = [];
  const docs: { file: string; doc: unknown }[] = [];
  try {
    for (const f of a.relays) relays.push(...(parseDocuments(await readInput(f, io.stdin), f) as Relay[]));
    for (const f of a.files)
      for (const doc of parseDocuments(await readInput(f, io.stdin), f)) docs.push({ file: f, doc });
  } catch (e) {
    io.stderr.write(`inject: ${e instanceof ParseError ? e.message : (e as Error).message}\n`);
    return 1;
  }
  const named = relays.filter((r) => typeof r?.metadata?.name === 'string');
  if (named.length < relays.length)
    io.stderr.write(`inject: ${relays.length - named.length} relay document(s) without metadata.name ignored\n`);

  const out = injectAll(docs, named, a, io);
  if (!out) return 1;
  io.stdout.write(out.map((o) => stringify(o, { lineWidth: 0 })).join('---\n'));
  return 0;
}
