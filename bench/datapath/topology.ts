// The three paths a client can take to the node's loopback service, set up with real processes:
//   direct — the client on the node, straight to 127.0.0.1:service
//   hop    — one plain socat TCP→TCP on the node (what a hostNetwork proxy costs)
//   chain  — the relay: sidecar socat in the pod's network namespace → Unix socket → node-side socat
//            (run by the real node agent when it is available, else the same nodeArgv run directly)
// The socat command lines come from relay/socat.ts; only the single-hop baseline is spelled here.
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import {
  LISTEN_BACKLOG,
  TCP_BUFFER,
  nodeArgv,
  sidecarArgv,
  socketPath,
  validateRelay,
  API_VERSION,
  KIND,
  type Relay,
  type ResolvedRelay,
} from '../../relay/index.js';
import { Cleanup, startProcess, type Managed } from '../lib/proc.js';
import { canConnect, waitUntil } from '../lib/net.js';
import { listeningInNetns } from '../lib/netns.js';

export interface Path {
  name: string;
  port: number;
  /** Network namespace the client must run in (the consumer pod's), if any. */
  netns?: string;
}

/** Changes a socat argv (a variant under test, e.g. another buffer size). Identity by default. */
export type ArgvEdit = (argv: string[]) => string[];

/** A relay as written to the node (the object) and as the argv builders take it (resolved). */
export interface BenchRelay {
  relay: Relay;
  resolved: ResolvedRelay;
}

export function benchRelay(
  name: string,
  protocol: 'TCP' | 'UDP',
  targetPort: number,
  extra: Partial<Relay['spec']> = {},
): BenchRelay {
  const relay: Relay = {
    apiVersion: API_VERSION,
    kind: KIND,
    metadata: { name },
    spec: { protocol, target: { host: '127.0.0.1', port: targetPort }, consumers: { namespaces: ['bench'] }, ...extra },
  };
  const v = validateRelay(relay);
  if (!v.resolved) throw new Error(`bench relay ${name} is invalid: ${JSON.stringify(v.problems)}`);
  return { relay, resolved: v.resolved };
}

/** One socat TCP→TCP hop on the node, with the relay's own buffer and backlog. */
export async function startHop(targetPort: number, listenPort: number, cleanup: Cleanup): Promise<Path> {
  startProcess(
    'socat',
    [
      `-b${TCP_BUFFER}`,
      `TCP4-LISTEN:${listenPort},bind=127.0.0.1,fork,reuseaddr,backlog=${LISTEN_BACKLOG}`,
      `TCP4:127.0.0.1:${targetPort}`,
    ],
    cleanup,
  );
  await waitUntil(`single hop on :${listenPort}`, () => canConnect({ port: listenPort }));
  return { name: 'hop', port: listenPort };
}

/** The node half run as the agent runs it: socat with nodeArgv. */
export async function startNodeSideSocat(
  r: ResolvedRelay,
  socketDir: string,
  cleanup: Cleanup,
  edit: ArgvEdit = (a) => a,
): Promise<Managed> {
  await mkdir(path.join(socketDir, r.name), { recursive: true });
  const proc = startProcess('socat', edit(nodeArgv(r, { socketDir })), cleanup);
  await waitForSocket(r, socketDir, proc);
  return proc;
}

export async function waitForSocket(r: ResolvedRelay, socketDir: string, proc?: Managed, ms = 15_000): Promise<void> {
  const sock = socketPath(socketDir, r.name);
  await waitUntil(
    `node-side socket ${sock}${proc ? ` (stderr: ${proc.stderr().slice(-300)})` : ''}`,
    async () => {
      if (r.protocol === 'UDP' && r.udpMode === 'OneWay') {
        const { stat } = await import('node:fs/promises');
        return stat(sock).then(
          (s) => s.isSocket(),
          () => false,
        );
      }
      return canConnect({ path: sock });
    },
    ms,
  );
}

/** The pod half: the injected sidecar's socat, in the consumer's network namespace when there is one. */
export async function startSidecar(
  r: ResolvedRelay,
  socketDir: string,
  netns: string | undefined,
  cleanup: Cleanup,
  edit: ArgvEdit = (a) => a,
  opts: { uid?: number } = {},
): Promise<Path> {
  // As the injected container runs it when `uid` is given: that uid and group, no other group, no new privileges.
  const user =
    opts.uid === undefined
      ? []
      : ['setpriv', `--reuid=${opts.uid}`, `--regid=${opts.uid}`, '--clear-groups', '--no-new-privs'];
  const argv = [...user, 'socat', ...edit(sidecarArgv(r, { socketDir }))];
  const proc = netns
    ? startProcess('ip', ['netns', 'exec', netns, ...argv], cleanup)
    : startProcess(argv[0] as string, argv.slice(1), cleanup);
  const proto = r.protocol === 'TCP' ? 'tcp' : 'udp';
  await waitUntil(`sidecar on :${r.listenPort} (stderr: ${proc.stderr().slice(-300)})`, () =>
    netns ? listeningInNetns(netns, proto, r.listenPort) : Promise.resolve(true),
  );
  return { name: 'chain', port: r.listenPort, ...(netns ? { netns } : {}) };
}

/** Writes a relay's config file as the reconcile would (the Relay object as JSON). */
export async function writeRelayConfig(configDir: string, relay: Relay): Promise<void> {
  await mkdir(configDir, { recursive: true });
  const file = path.join(configDir, `${relay.metadata.name}.json`);
  await writeFile(`${file}.tmp`, JSON.stringify(relay));
  const { rename } = await import('node:fs/promises');
  await rename(`${file}.tmp`, file);
}
