// The fleet simulator: ONE process standing for N nodes against the real API server (started by
// bench/fleet/run.ts with a JSON config file as its only argument). For every node it does what a
// kubelet does to the API server: registers the Node (Ready), renews its node Lease in kube-node-lease
// every `heartbeatSeconds` and updates the Node's status every `statusSeconds`. For the nodes without a
// real controller it also does what that node's socat-relay controller writes: its controller Lease
// (socat-relay-controller-<node>, renewed every heartbeat) and, once, its report — a RelayNode (the
// current design) or its own entry in every Relay's status.nodes under its own field manager (the
// design before RelayNodes, `mode: "old"`). Writes go out at a bounded concurrency, spread evenly over
// each period; a line of JSON on stdout reports each phase and, every 10 s, what was sent.
import https from 'node:https';
import { readFileSync } from 'node:fs';
import { forEachLimit } from '../../lib/limit.js';
import { spreadOffsetMs } from './measure.js';

export interface SimulatorConfig {
  server: string;
  ca: string;
  cert: string;
  key: string;
  /** Every simulated node, in order. */
  nodes: string[];
  /** The nodes whose socat-relay controller is simulated too (those without a real one). */
  controllers: string[];
  mode: 'new' | 'old';
  /** The controllers' namespace (their Leases). */
  namespace: string;
  relays: { name: string; uid: string; generation: number }[];
  heartbeatSeconds: number;
  statusSeconds: number;
  concurrency: number;
}

interface Reply {
  status: number;
  body: string;
}

class Api {
  private readonly agent: https.Agent;
  private readonly url: URL;
  sent = 0;
  failed = 0;
  lastError = '';
  constructor(cfg: SimulatorConfig, sockets: number) {
    this.url = new URL(cfg.server);
    this.agent = new https.Agent({ keepAlive: true, maxSockets: sockets, ca: cfg.ca, cert: cfg.cert, key: cfg.key });
  }
  request(method: string, path: string, body?: unknown, contentType = 'application/json'): Promise<Reply> {
    const data = body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body);
    return new Promise((resolve, reject) => {
      const req = https.request(
        {
          host: this.url.hostname,
          port: this.url.port,
          method,
          path,
          agent: this.agent,
          headers: { accept: 'application/json', ...(data ? { 'content-type': contentType } : {}) },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
          res.on('error', reject);
        },
      );
      req.setTimeout(30_000, () => req.destroy(new Error(`${method} ${path}: timeout`)));
      req.on('error', reject);
      req.end(data);
    });
  }
  /** A write that must succeed (2xx; 409 AlreadyExists accepted for creations); failures are counted, not thrown. */
  async write(
    method: string,
    path: string,
    body: unknown,
    contentType?: string,
    accept409 = false,
  ): Promise<Reply | undefined> {
    this.sent++;
    try {
      const r = await this.request(method, path, body, contentType);
      if (r.status >= 200 && r.status < 300) return r;
      if (accept409 && r.status === 409) return r;
      this.failed++;
      this.lastError = `${method} ${path}: ${r.status} ${r.body.slice(0, 200)}`;
    } catch (err) {
      this.failed++;
      this.lastError = `${method} ${path}: ${(err as Error).message}`;
    }
    return undefined;
  }
}

const MERGE = 'application/merge-patch+json';
/** The old design's report, node by node up to this many simulated nodes, by chunks beyond. */
const OLD_PER_NODE_MAX = 200;
const OLD_CHUNK = 100;
const APPLY = 'application/apply-patch+yaml';
const say = (o: Record<string, unknown>): void => void process.stdout.write(JSON.stringify(o) + '\n');
const microTime = (): string => new Date().toISOString().replace('Z', '000Z');

/** A Node as a kubelet registers it: Ready, addresses, capacity, node info (no image list). */
function nodeObject(name: string, i: number): unknown {
  const now = new Date().toISOString();
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: {
      name,
      labels: {
        'kubernetes.io/hostname': name,
        'kubernetes.io/os': 'linux',
        'kubernetes.io/arch': 'amd64',
        'fleet-bench': 'simulated',
      },
    },
    spec: {},
    status: {
      conditions: [
        {
          type: 'Ready',
          status: 'True',
          reason: 'KubeletReady',
          message: 'kubelet is posting ready status',
          lastHeartbeatTime: now,
          lastTransitionTime: now,
        },
      ],
      addresses: [
        { type: 'InternalIP', address: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}` },
        { type: 'Hostname', address: name },
      ],
      capacity: { cpu: '4', memory: '16Gi', pods: '110', 'ephemeral-storage': '100Gi' },
      allocatable: { cpu: '4', memory: '16Gi', pods: '110', 'ephemeral-storage': '100Gi' },
      nodeInfo: {
        machineID: '0',
        systemUUID: '0',
        bootID: '0',
        kernelVersion: '6.1.0',
        osImage: 'Debian GNU/Linux 12',
        containerRuntimeVersion: 'containerd://1.7.24',
        kubeletVersion: 'v1.37.2',
        kubeProxyVersion: '',
        operatingSystem: 'linux',
        architecture: 'amd64',
      },
    },
  };
}

function leaseObject(
  name: string,
  namespace: string,
  holder: string,
  seconds: number,
  labels?: Record<string, string>,
): unknown {
  const t = microTime();
  return {
    apiVersion: 'coordination.k8s.io/v1',
    kind: 'Lease',
    metadata: { name, namespace, ...(labels ? { labels } : {}) },
    spec: { holderIdentity: holder, leaseDurationSeconds: seconds, renewTime: t, acquireTime: t },
  };
}

const CONTROLLER_LABELS = { 'app.kubernetes.io/name': 'socat-relay', 'app.kubernetes.io/component': 'controller' };

async function register(api: Api, cfg: SimulatorConfig): Promise<Map<string, string>> {
  const uids = new Map<string, string>();
  const t0 = Date.now();
  await forEachLimit(cfg.nodes, cfg.concurrency, async (name) => {
    const i = cfg.nodes.indexOf(name);
    const r = await api.write('POST', '/api/v1/nodes', nodeObject(name, i), undefined, true);
    let uid =
      r?.status === 409 ? undefined : (JSON.parse(r?.body ?? '{}') as { metadata?: { uid?: string } }).metadata?.uid;
    if (!uid) {
      const g = await api.request('GET', `/api/v1/nodes/${name}`);
      uid = (JSON.parse(g.body) as { metadata?: { uid?: string } }).metadata?.uid;
    }
    if (uid) uids.set(name, uid);
    await api.write(
      'POST',
      '/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases',
      leaseObject(name, 'kube-node-lease', name, 40),
      undefined,
      true,
    );
  });
  say({
    phase: 'nodes',
    nodes: cfg.nodes.length,
    ms: Date.now() - t0,
    sent: api.sent,
    failed: api.failed,
    lastError: api.lastError,
  });
  return uids;
}

/** What the simulated socat-relay controllers write once: their Lease and their report. */
async function reports(api: Api, cfg: SimulatorConfig, uids: Map<string, string>): Promise<void> {
  const t0 = Date.now();
  const ns = cfg.namespace;
  const now = new Date().toISOString();
  const entry = (r: SimulatorConfig['relays'][number]) => ({
    name: r.name,
    uid: r.uid,
    ready: true,
    state: 'Running',
    restarts: 0,
    observedGeneration: r.generation,
    lastTransitionTime: now,
  });
  await forEachLimit(cfg.controllers, cfg.concurrency, async (node) => {
    await api.write(
      'POST',
      `/apis/coordination.k8s.io/v1/namespaces/${ns}/leases`,
      leaseObject(`socat-relay-controller-${node}`, ns, node, 40, CONTROLLER_LABELS),
      undefined,
      true,
    );
    const manager = encodeURIComponent(`socat-relay/${node}`);
    if (cfg.mode === 'new') {
      const relays = cfg.relays.map(entry);
      const body = {
        apiVersion: 'socat.io/v1alpha1',
        kind: 'RelayNode',
        metadata: {
          name: node,
          labels: { 'app.kubernetes.io/name': 'socat-relay', 'app.kubernetes.io/component': 'node-status' },
          ownerReferences: [{ apiVersion: 'v1', kind: 'Node', name: node, uid: uids.get(node) ?? '' }],
        },
        status: {
          relays,
          relayCount: relays.length,
          readyRelays: relays.length,
          ready: `${relays.length}/${relays.length}`,
        },
      };
      // RelayNodes have no status subresource: the node's controller applies the whole object.
      await api.write(
        'PATCH',
        `/apis/socat.io/v1alpha1/relaynodes/${node}?fieldManager=${manager}&force=true`,
        JSON.stringify(body),
        APPLY,
      );
    } else if (cfg.controllers.length <= OLD_PER_NODE_MAX) {
      // The design before RelayNodes: each node applies its own entry into every Relay's status.nodes.
      for (const r of cfg.relays) {
        const body = {
          apiVersion: 'socat.io/v1alpha1',
          kind: 'Relay',
          metadata: { name: r.name },
          status: { nodes: [{ ...entry(r), uid: undefined, name: node }] },
        };
        await api.write(
          'PATCH',
          `/apis/socat.io/v1alpha1/relays/${r.name}/status?fieldManager=${manager}&force=true`,
          JSON.stringify(body),
          APPLY,
        );
      }
    }
  });
  if (cfg.mode === 'old' && cfg.controllers.length > OLD_PER_NODE_MAX) {
    // Beyond OLD_PER_NODE_MAX nodes, N applies on Relays that grow with each one take O(N²) time on this
    // machine: the same entries go in by chunks of OLD_CHUNK nodes, one field manager per chunk — the
    // stored Relay is then smaller than the old design's (one managedFields entry per node there).
    for (let i = 0; i < cfg.controllers.length; i += OLD_CHUNK) {
      const chunk = cfg.controllers.slice(i, i + OLD_CHUNK);
      const manager = encodeURIComponent(`socat-relay/${chunk[0]}`);
      for (const r of cfg.relays) {
        const nodes = chunk.map((name) => ({ ...entry(r), uid: undefined, name }));
        const body = { apiVersion: 'socat.io/v1alpha1', kind: 'Relay', metadata: { name: r.name }, status: { nodes } };
        await api.write(
          'PATCH',
          `/apis/socat.io/v1alpha1/relays/${r.name}/status?fieldManager=${manager}&force=true`,
          JSON.stringify(body),
          APPLY,
        );
      }
    }
  }
  say({
    phase: 'reports',
    controllers: cfg.controllers.length,
    ms: Date.now() - t0,
    sent: api.sent,
    failed: api.failed,
    lastError: api.lastError,
  });
}

/**
 * Calls `fn(item)` for every item once per period, spread evenly: a tick every `periodMs / slots` takes
 * the items whose offset falls in it. A tick still running when the next comes counts as late.
 */
function periodic<T>(
  items: readonly T[],
  periodMs: number,
  concurrency: number,
  fn: (item: T) => Promise<unknown>,
): { late(): number; stop(): void } {
  const slots = Math.max(1, Math.min(items.length, Math.round(periodMs / 100)));
  const bySlot: T[][] = Array.from({ length: slots }, () => []);
  items.forEach((item, i) =>
    bySlot[Math.floor((spreadOffsetMs(i, items.length, periodMs) * slots) / periodMs)]!.push(item),
  );
  let slot = 0;
  let inFlight = 0;
  let late = 0;
  const timer = setInterval(() => {
    const batch = bySlot[slot]!;
    slot = (slot + 1) % slots;
    if (inFlight > concurrency * 4) {
      late += batch.length;
      return;
    }
    for (const item of batch) {
      inFlight++;
      void fn(item).finally(() => inFlight--);
    }
  }, periodMs / slots);
  return { late: () => late, stop: () => clearInterval(timer) };
}

async function main(file: string): Promise<void> {
  const cfg = JSON.parse(readFileSync(file, 'utf8')) as SimulatorConfig;
  const api = new Api(cfg, Math.max(4, cfg.concurrency));
  const uids = await register(api, cfg);
  await reports(api, cfg, uids);
  const hb = cfg.heartbeatSeconds * 1000;
  const renew = (ns: string, name: string) =>
    api.write(
      'PATCH',
      `/apis/coordination.k8s.io/v1/namespaces/${ns}/leases/${name}`,
      { spec: { renewTime: microTime() } },
      MERGE,
    );
  const loops = [
    periodic(cfg.nodes, hb, cfg.concurrency, (n) => renew('kube-node-lease', n)),
    periodic(cfg.controllers, hb, cfg.concurrency, (n) => renew(cfg.namespace, `socat-relay-controller-${n}`)),
    periodic(cfg.nodes, cfg.statusSeconds * 1000, cfg.concurrency, (n) => {
      const now = new Date().toISOString();
      const patch = {
        status: {
          conditions: [
            {
              type: 'Ready',
              status: 'True',
              reason: 'KubeletReady',
              message: 'kubelet is posting ready status',
              lastHeartbeatTime: now,
            },
          ],
        },
      };
      return api.write('PATCH', `/api/v1/nodes/${n}/status`, patch, 'application/strategic-merge-patch+json');
    }),
  ];
  say({ phase: 'running' });
  const t0 = Date.now();
  let last = { sent: api.sent, t: t0 };
  const stats = setInterval(() => {
    const t = Date.now();
    const late = loops.reduce((s, l) => s + l.late(), 0);
    say({
      phase: 'stats',
      writesPerSecond: ((api.sent - last.sent) * 1000) / (t - last.t),
      sent: api.sent,
      failed: api.failed,
      late,
      lastError: api.lastError,
    });
    last = { sent: api.sent, t };
  }, 10_000);
  const stop = () => {
    for (const l of loops) l.stop();
    clearInterval(stats);
    process.exit(0);
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

if (process.argv[2]) {
  main(process.argv[2]).catch((err: unknown) => {
    process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(1);
  });
}
