// socat-relay sidecars: the consumer pods (label socat.io/consume) whose injected sidecar differs from
// what the webhook injects now — after an upgrade they keep the old image until they are re-created
// (docs/upgrade.md). Reads pods and Relays through the API (kubeconfig as kubectl finds it, or
// --kubeconfig) and the controller's settings from its DaemonSet, each overridable by a flag; the
// comparison is the admission code's own (cli/sidecar-drift.ts).
import { parseArgs } from 'node:util';
import { KubeConfig } from '@kubernetes/client-node';
import { CONSUME_LABEL, DEFAULT_SOCKET_DIR, validateRelay, type ResolvedRelay } from '../relay/index.js';
import { DEFAULT_IMAGE, ImageRefError, parseImageRef, sidecarImageOf } from '../lib/image.js';
import {
  defaultInjectOptions,
  VOLUME_SOURCES,
  type InjectOptions,
  type RawPod,
  type SidecarMode,
  type VolumeSource,
} from '../webhook/admission/index.js';
import { chooseSidecarMode, serverGitVersion } from '../webhook/catalog/sidecar-mode.js';
import { podDrift, type Drift } from './sidecar-drift.js';
import { parseOrExit, UsageError, type CommandIO } from './io.js';
import { requestJson, type KubeResponse } from './kube-http.js';

const USAGE = `usage: socat-relay sidecars [options]
Lists the consumer pods (label ${CONSUME_LABEL}) whose socat-* sidecar or its volume differs from what the
webhook injects now (image, command, placement, ...). Exit 0 when the listing worked (even if it lists pods).
  --kubeconfig FILE            kubeconfig (default: $KUBECONFIG, ~/.kube/config, or in-cluster)
  -n, --namespace NS           only this namespace (default: all namespaces)
  -o, --output table|json      output format (default: table)
  --controller-namespace NS    where the controller DaemonSet is (default: socat-relay-system)
  --controller-daemonset NAME  the controller DaemonSet whose env gives the settings (default: socat-relay-controller)
  --sidecar-image IMG          the sidecar image injected now (default: from the DaemonSet's env)
  --image IMG                  the controller's image; the sidecar image is <repository>-sidecar:<tag> of it
  --mode auto|native|regular   sidecar mode (default: from the DaemonSet's env; auto asks the API server's version)
  --volume-source hostPath|csi how consumers mount their relay folder (default: from the DaemonSet's env)
  --socket-dir DIR             the node's socket root (default: from the DaemonSet's env, else ${DEFAULT_SOCKET_DIR})
The DaemonSet is read only when --sidecar-image (or --image), --mode and --volume-source are not all given.
`;

type ModeSetting = SidecarMode | 'auto';

interface SidecarsArgs {
  kubeconfig?: string;
  namespace?: string;
  output: 'table' | 'json';
  controllerNamespace: string;
  controllerDaemonSet: string;
  sidecarImage?: string;
  image?: string;
  mode?: ModeSetting;
  volumeSource?: VolumeSource;
  socketDir?: string;
}

function checkedImage(flag: string, raw: string | undefined): string | undefined {
  if (raw === undefined) return undefined;
  try {
    parseImageRef(raw);
  } catch (e) {
    if (e instanceof ImageRefError) throw new UsageError(`${flag}: ${e.message}`);
    throw e;
  }
  return raw;
}

/** The flags, checked; 'help' for -h. Throws UsageError naming the flag. */
export function parseSidecarsArgs(args: string[]): SidecarsArgs | 'help' {
  const v = parseArgs({
    args,
    options: {
      kubeconfig: { type: 'string' },
      namespace: { type: 'string', short: 'n' },
      output: { type: 'string', short: 'o', default: 'table' },
      'controller-namespace': { type: 'string', default: 'socat-relay-system' },
      'controller-daemonset': { type: 'string', default: 'socat-relay-controller' },
      'sidecar-image': { type: 'string' },
      image: { type: 'string' },
      mode: { type: 'string' },
      'volume-source': { type: 'string' },
      'socket-dir': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  }).values;
  if (v.help) return 'help';
  if (v.output !== 'table' && v.output !== 'json')
    throw new UsageError(`--output must be table or json, got "${v.output}"`);
  if (v.mode !== undefined && !['auto', 'native', 'regular'].includes(v.mode))
    throw new UsageError(`--mode must be auto, native or regular, got "${v.mode}"`);
  if (v['volume-source'] !== undefined && !(VOLUME_SOURCES as readonly string[]).includes(v['volume-source'])) {
    throw new UsageError(`--volume-source must be ${VOLUME_SOURCES.join(' or ')}, got "${v['volume-source']}"`);
  }
  if (v['socket-dir'] !== undefined && !v['socket-dir'].startsWith('/'))
    throw new UsageError('--socket-dir must be an absolute path');
  return {
    kubeconfig: v.kubeconfig,
    namespace: v.namespace,
    output: v.output,
    controllerNamespace: v['controller-namespace'],
    controllerDaemonSet: v['controller-daemonset'],
    sidecarImage: checkedImage('--sidecar-image', v['sidecar-image']),
    image: checkedImage('--image', v.image),
    mode: v.mode as ModeSetting | undefined,
    volumeSource: v['volume-source'] as VolumeSource | undefined,
    socketDir: v['socket-dir'],
  };
}

const getJson = (kc: KubeConfig, path: string): Promise<KubeResponse> => requestJson(kc, 'GET', path);

async function listAll(kc: KubeConfig, path: string, query: Record<string, string>): Promise<unknown[]> {
  const items: unknown[] = [];
  let cont = '';
  do {
    const q = new URLSearchParams({ ...query, limit: '500', ...(cont ? { continue: cont } : {}) });
    const { status, body } = await getJson(kc, `${path}?${q.toString()}`);
    const b = body as { items?: unknown[]; metadata?: { continue?: string }; message?: string };
    if (status !== 200) throw new Error(`GET ${path}: HTTP ${status}: ${b.message ?? ''}`);
    items.push(...(b.items ?? []));
    cont = b.metadata?.continue ?? '';
  } while (cont);
  return items;
}

/** The controller container's literal env (valueFrom entries are not settings) and image, or why not. */
async function controllerEnv(kc: KubeConfig, a: SidecarsArgs): Promise<{ env: Record<string, string>; image: string }> {
  const where = `DaemonSet ${a.controllerNamespace}/${a.controllerDaemonSet}`;
  const { status, body } = await getJson(
    kc,
    `/apis/apps/v1/namespaces/${encodeURIComponent(a.controllerNamespace)}/daemonsets/${encodeURIComponent(a.controllerDaemonSet)}`,
  );
  if (status === 404)
    throw new Error(
      `${where} not found: name it with --controller-namespace/--controller-daemonset, or give --sidecar-image, --mode and --volume-source`,
    );
  if (status !== 200)
    throw new Error(`reading ${where}: HTTP ${status}: ${(body as { message?: string }).message ?? ''}`);
  const containers =
    (
      body as {
        spec?: {
          template?: {
            spec?: { containers?: { name?: string; image?: string; env?: { name: string; value?: string }[] }[] };
          };
        };
      }
    ).spec?.template?.spec?.containers ?? [];
  const c = containers.find((x) => x.name === 'controller') ?? containers[0];
  if (!c) throw new Error(`${where} has no container`);
  const env: Record<string, string> = {};
  for (const e of c.env ?? []) if (typeof e.value === 'string') env[e.name] = e.value;
  return { env, image: c.image ?? '' };
}

/** The injector's options as the controller has them now: flags > the DaemonSet's env > the controller's defaults. */
async function injectOptions(kc: KubeConfig, a: SidecarsArgs): Promise<{ options: InjectOptions; from: string }> {
  const needCluster =
    (a.sidecarImage === undefined && a.image === undefined) || a.mode === undefined || a.volumeSource === undefined;
  const ds = needCluster ? await controllerEnv(kc, a) : { env: {} as Record<string, string>, image: '' };
  const image = a.image ?? ds.env.SOCAT_RELAY_IMAGE ?? (ds.image || DEFAULT_IMAGE);
  const sidecarImage =
    a.sidecarImage ??
    (a.image === undefined ? ds.env.SOCAT_RELAY_SIDECAR_IMAGE || undefined : undefined) ??
    sidecarImageOf(image);
  const setting = a.mode ?? (ds.env.SOCAT_RELAY_SIDECAR_MODE as ModeSetting | undefined) ?? 'auto';
  if (!['auto', 'native', 'regular'].includes(setting))
    throw new Error(
      `SOCAT_RELAY_SIDECAR_MODE of the controller DaemonSet is "${setting}", not auto, native or regular`,
    );
  const mode =
    setting === 'auto' ? chooseSidecarMode('auto', await serverGitVersion(kc).catch(() => undefined)).mode : setting;
  const volumeSource = a.volumeSource ?? (ds.env.SOCAT_RELAY_VOLUME_SOURCE as VolumeSource | undefined) ?? 'hostPath';
  if (!VOLUME_SOURCES.includes(volumeSource))
    throw new Error(
      `SOCAT_RELAY_VOLUME_SOURCE of the controller DaemonSet is "${volumeSource}", not ${VOLUME_SOURCES.join(' or ')}`,
    );
  const nodeSocketDir = a.socketDir ?? ds.env.SOCAT_RELAY_SOCKET_DIR ?? DEFAULT_SOCKET_DIR;
  const from = needCluster ? `DaemonSet ${a.controllerNamespace}/${a.controllerDaemonSet} and flags` : 'flags';
  return { options: defaultInjectOptions({ sidecarImage, mode, volumeSource, nodeSocketDir }), from };
}

function table(rows: Drift[]): string {
  const head = ['NAMESPACE', 'POD', 'CONTAINER', 'DIFFERS', 'IMAGE', 'INJECTED NOW'];
  const cells = [
    head,
    ...rows.map((d) => [d.namespace, d.pod, d.container, d.differs.join(','), d.image || '-', d.expectedImage || '-']),
  ];
  const widths = head.map((_, i) => Math.max(...cells.map((r) => r[i]!.length)));
  return (
    cells.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ')).join('\n') + '\n'
  );
}

export async function run(args: string[], io: CommandIO): Promise<number> {
  const a = parseOrExit('sidecars', USAGE, io, () => parseSidecarsArgs(args));
  if (typeof a === 'number') return a;
  const kc = new KubeConfig();
  try {
    if (a.kubeconfig) kc.loadFromFile(a.kubeconfig);
    else kc.loadFromDefault();
    const { options, from } = await injectOptions(kc, a);
    const relays = new Map<string, ResolvedRelay | string>();
    for (const item of await listAll(kc, '/apis/socat.io/v1alpha1/relays', {})) {
      const name = (item as { metadata?: { name?: unknown } }).metadata?.name;
      if (typeof name !== 'string') continue;
      const v = validateRelay(item);
      relays.set(name, v.resolved ?? `relay invalid (${v.problems.length} problem(s))`);
    }
    const podsPath = a.namespace ? `/api/v1/namespaces/${encodeURIComponent(a.namespace)}/pods` : '/api/v1/pods';
    const pods = await listAll(kc, podsPath, { labelSelector: CONSUME_LABEL });
    const lookUp = (name: string) => relays.get(name) ?? 'relay not found';
    const drifts = pods.flatMap((p) => podDrift(p as RawPod, lookUp, options));
    if (a.output === 'json') {
      const settings = {
        sidecarImage: options.sidecarImage,
        mode: options.mode,
        volumeSource: options.volumeSource,
        socketDir: options.nodeSocketDir,
        from,
      };
      io.stdout.write(`${JSON.stringify({ settings, podsChecked: pods.length, sidecars: drifts }, null, 2)}\n`);
    } else if (drifts.length === 0) {
      io.stdout.write(
        `all ${pods.length} consumer pod(s) run the sidecar injected now (${options.sidecarImage}, ${options.mode}, ${options.volumeSource})\n`,
      );
    } else {
      io.stdout.write(table(drifts));
    }
    return 0;
  } catch (e) {
    io.stderr.write(`sidecars: ${(e as Error).message}\n`);
    return 1;
  }
}
