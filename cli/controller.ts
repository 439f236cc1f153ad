// socat-relay controller: the webhook server over the relay catalog, plus the node reconcile.
//   cluster mode: informers over Relays and Namespaces, sidecar mode from /version, startReconcile
//                 (webhook/reconcile) when SOCAT_RELAY_RECONCILE is on; a serving controller stands
//                 for election (webhook/cluster/); SOCAT_RELAY_SERVE_ADMISSION=false runs the
//                 reconcile alone (no webhook port, no serving key, never elected);
//   local mode (--relays FILE [--self-signed DIR]): a static catalog from the file, no cluster, no
//                 reconcile — to try the webhook on a laptop.
// SIGTERM/SIGINT: /readyz fails at once, the servers keep answering for the drain period
// (SOCAT_RELAY_SHUTDOWN_DRAIN_SECONDS), then they and the informers stop and the process exits 0.
import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import type { KubeConfig } from '@kubernetes/client-node';
import { PooledKubeConfig } from '../lib/kube-config.js';
import type { Logger } from '../lib/log.js';
import { readInput } from '../lib/io.js';
import { formatProblem, parseDocuments, validateRelay, ParseError, type Relay } from '../relay/index.js';
import { makeWebhookCerts } from '../certs/selfsigned.js';
import { writeCerts } from '../certs/write.js';
import { HelpRequested, configUsage, loadConfig, type ControllerConfig } from '../webhook/config.js';
import { createMetrics, observeRelays, type ControllerMetrics } from '../webhook/metrics.js';
import { InformerRelayCatalog, NamespaceLabels } from '../webhook/catalog/informer.js';
import { MetricsServer } from '../webhook/server/metrics-server.js';
import { Drain, gracefulShutdown } from '../webhook/server/shutdown.js';
import { startControllerLease } from '../webhook/reconcile/lease-kube.js';
import { MetricsAuthorizer, kubeReviewer } from '../webhook/metrics-auth.js';
import { CertificateError } from '../webhook/server/certwatcher.js';
import type { CertSource } from '../webhook/server/cert-source.js';
import type { SidecarMode } from '../webhook/admission/index.js';
import { runDaemon } from './daemon.js';
import { parseOrExit, type CommandIO } from './io.js';

export class StartupError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StartupError';
  }
}

type StartReconcile = typeof import('../webhook/reconcile/index.js').startReconcile;

/**
 * What only a serving controller (and local mode) runs — the admission server (express), the
 * injection, the self-managed certificates — imported when it is needed, so a reconcile-only
 * controller (the socat-relay-node DaemonSet, on every worker) never loads it: the bundle
 * (scripts/bundle.sh) keeps it in chunks of its own (BENCHMARKS.md, "Image and footprint").
 */
async function loadServing() {
  const [server, lookup, live, admission, sidecar, catalog, certSource, selfManaged] = await Promise.all([
    import('../webhook/server/server.js'),
    import('../webhook/server/catalog-miss.js'),
    import('../webhook/catalog/live.js'),
    import('../webhook/admission/index.js'),
    import('../webhook/catalog/sidecar-mode.js'),
    import('../webhook/catalog/catalog.js'),
    import('../webhook/server/cert-source.js'),
    import('../webhook/certs/self-managed.js'),
  ]);
  return {
    WebhookServer: server.WebhookServer,
    RelayLookup: lookup.RelayLookup,
    liveRelayGetter: live.liveRelayGetter,
    defaultInjectOptions: admission.defaultInjectOptions,
    chooseSidecarMode: sidecar.chooseSidecarMode,
    serverGitVersion: sidecar.serverGitVersion,
    StaticCatalog: catalog.StaticCatalog,
    CertSource: certSource.CertSource,
    SelfManagedCerts: selfManaged.SelfManagedCerts,
  };
}

/** The node reconcile, imported when it is turned on (local mode and the webhook-only mode never load it). */
export async function loadReconcile(): Promise<StartReconcile> {
  try {
    return (await import('../webhook/reconcile/index.js')).startReconcile;
  } catch (e) {
    throw new StartupError(
      `the node reconcile module (webhook/reconcile) cannot be loaded: ${(e as Error).message}; run with SOCAT_RELAY_RECONCILE=false for the webhook only`,
    );
  }
}

export interface RunningController {
  address: AddressInfo;
  /** The metrics server's address (its own port). */
  metricsAddress: AddressInfo;
  /** Begun on SIGTERM: /readyz fails while the servers still answer (webhook/server/shutdown.ts). */
  drain: Drain;
  stop(): Promise<void>;
}

async function loadRelaysFile(file: string): Promise<Relay[]> {
  const docs = parseDocuments(await readInput(file), file);
  const problems: string[] = [];
  for (const [i, doc] of docs.entries()) {
    const name = (doc as Relay)?.metadata?.name ?? `#${i + 1}`;
    for (const p of validateRelay(doc).problems) problems.push(`${file}: relay ${name}: ${formatProblem(p)}`);
  }
  if (problems.length > 0) throw new StartupError(`invalid relays:\n  ${problems.join('\n  ')}`);
  if (docs.length === 0) throw new StartupError(`${file}: no relay found`);
  return docs as Relay[];
}

/** Local mode: static catalog, optional self-signed certificate, no cluster. */
/** Local mode's serving certificate: the configured files, or a self-signed one written to selfSignedDir. */
async function localCertificate(
  c: ControllerConfig,
  say: (s: string) => void,
): Promise<{ certFile: string; keyFile: string }> {
  if (!c.selfSignedDir) return { certFile: c.tlsCert, keyFile: c.tlsKey };
  const certs = await makeWebhookCerts({ extraHosts: ['localhost', '127.0.0.1', '::1'] });
  const files = await writeCerts(c.selfSignedDir, certs);
  say(
    `socat-relay controller (local mode): self-signed certificate in ${c.selfSignedDir}; caBundle (CA certificate): ${path.resolve(files.ca!)}\n`,
  );
  return { certFile: files.cert!, keyFile: files.key! };
}

async function startLocal(c: ControllerConfig, log: Logger, say: (s: string) => void): Promise<RunningController> {
  const { StaticCatalog, WebhookServer, defaultInjectOptions } = await loadServing();
  const catalog = new StaticCatalog(await loadRelaysFile(c.relaysFile));
  const { certFile, keyFile } = await localCertificate(c, say);
  const mode: SidecarMode = c.sidecarMode === 'auto' ? 'native' : c.sidecarMode;
  const injectOptions = defaultInjectOptions({
    sidecarImage: c.sidecarImage,
    mode,
    nodeSocketDir: c.socketDir,
    volumeSource: c.volumeSource,
  });
  const metrics = createMetrics({ defaultMetrics: true });
  const drain = new Drain();
  const server = new WebhookServer({
    port: c.port,
    host: c.host || '127.0.0.1',
    certFile,
    keyFile,
    metrics,
    log,
    ready: drain.readiness(),
    catalog,
    namespaceLabels: (ns) => ({ 'kubernetes.io/metadata.name': ns }),
    injectOptions: () => injectOptions,
  });
  // The metrics port first: /readyz (the webhook's port) answers 200 only once both listen.
  const metricsServer = new MetricsServer({
    port: c.metricsPort,
    host: '127.0.0.1',
    certFile,
    keyFile,
    registry: metrics.registry,
    auth: 'none',
    log,
  });
  const metricsAddress: AddressInfo = await metricsServer.start();
  let address: AddressInfo;
  try {
    address = await server.start();
  } catch (e) {
    await metricsServer.stop();
    throw e;
  }
  log.info(
    { relays: catalog.list().map((r) => r.metadata.name), sidecarMode: mode },
    'local mode: serving relays from file, no reconcile',
  );
  say(
    `socat-relay controller (local mode): https://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port} — POST AdmissionReviews to /mutate-pods and /validate-relays; /healthz /readyz; metrics: https://127.0.0.1:${metricsAddress.port}/metrics\n`,
  );
  return {
    address,
    metricsAddress,
    drain,
    stop: async () => {
      await metricsServer.stop();
      await server.stop();
    },
  };
}

/** Cluster mode: informers, sidecar mode detection, server, reconcile. */
function loadKubeConfig(c: ControllerConfig): PooledKubeConfig {
  const kc = new PooledKubeConfig();
  try {
    if (c.kubeconfig) kc.loadFromFile(c.kubeconfig);
    else kc.loadFromCluster();
  } catch (e) {
    throw new StartupError(
      `cannot load the Kubernetes client configuration (${c.kubeconfig || 'in-cluster'}): ${(e as Error).message}`,
    );
  }
  if (!kc.getCurrentCluster())
    throw new StartupError(
      `no current cluster in ${c.kubeconfig || 'the in-cluster configuration'} (is this running in a pod? else set KUBECONFIG)`,
    );
  return kc;
}

/** The sidecar mode: as configured, or from the API server's version (native sidecars from 1.29). */
async function sidecarMode(c: ControllerConfig, kc: KubeConfig, log: Logger): Promise<SidecarMode> {
  const { chooseSidecarMode, serverGitVersion } = await loadServing();
  let gitVersion: string | undefined;
  if (c.sidecarMode === 'auto') {
    try {
      gitVersion = await serverGitVersion(kc);
    } catch (err) {
      log.warn({ err: (err as Error).message }, 'cannot read the API server version');
    }
  }
  const { mode, why } = chooseSidecarMode(c.sidecarMode, gitVersion);
  log.info({ sidecarMode: mode, why }, 'sidecar mode');
  return mode;
}

/** What cluster mode's parts share: the client, the caches, the metrics, the logger. */
interface ClusterParts {
  kc: KubeConfig;
  relays: InformerRelayCatalog;
  namespaces: NamespaceLabels;
  metrics: ControllerMetrics;
  log: Logger;
}

/**
 * The node side of the cluster controller: this node's Lease (renewed while it runs; only the elected
 * controller watches them: webhook/cluster/leases.ts) and the reconcile, which writes this node's
 * files and its RelayNode. Each stop is pushed to `stops` as soon as its part runs.
 */
async function startNodeSide(c: ControllerConfig, d: ClusterParts, stops: (() => Promise<void>)[]): Promise<void> {
  const { kc, relays, namespaces, metrics, log } = d;
  const lease = await startControllerLease({
    kc,
    namespace: c.namespace,
    nodeName: c.nodeName,
    log: log.child({ component: 'lease' }),
    durationSeconds: c.leaseDurationSeconds,
    renewSeconds: c.leaseRenewSeconds,
    graceSeconds: c.leaseGraceSeconds,
  });
  stops.push(() => lease.stop());
  const startReconcile = await loadReconcile();
  const reconcile = await startReconcile({
    kc,
    catalog: relays,
    namespaces,
    nodeName: c.nodeName,
    configDir: c.configDir,
    socketDir: c.socketDir,
    registry: metrics.registry,
    log: log.child({ component: 'reconcile' }),
  });
  stops.push(() => reconcile.stop());
  log.info({ node: c.nodeName, configDir: c.configDir }, 'node reconcile started');
}

/**
 * A serving controller stands for election (the Lease socat-relay-leader); the one elected watches
 * every RelayNode, the controllers' Leases and the Nodes, and writes the Relays' summaries
 * (webhook/cluster/). Its identity is unique per process: <node>/<hostname> (the pod's name).
 */
async function startElected(
  c: ControllerConfig,
  d: {
    kc: KubeConfig;
    relays: InformerRelayCatalog;
    log: Logger;
    onRestart: (resource: string) => void;
    registry: ControllerMetrics['registry'];
  },
  stops: (() => Promise<void>)[],
): Promise<void> {
  const { startElection } = await import('../webhook/cluster/election.js');
  const { startClusterStatus } = await import('../webhook/cluster/index.js');
  const { ClusterMetrics } = await import('../webhook/cluster/metrics.js');
  const metrics = new ClusterMetrics(d.registry);
  const log = d.log.child({ component: 'cluster' });
  const identity = c.nodeName ? `${c.nodeName}/${os.hostname()}` : os.hostname();
  const election = startElection({
    kc: d.kc,
    namespace: c.namespace,
    identity,
    log,
    leaseSeconds: c.leaderLeaseSeconds,
    onLeading: (leading) => metrics.elected.set(leading ? 1 : 0),
    lead: () =>
      startClusterStatus({
        onWrite: (result) => metrics.summaryWrites.inc({ result }),
        kc: d.kc,
        catalog: d.relays,
        namespace: c.namespace,
        log,
        onRestart: d.onRestart,
        sweepMs: Math.min(60, c.leaseRenewSeconds) * 1000,
        leaseDurationSeconds: c.leaseDurationSeconds,
        leaseGraceSeconds: c.leaseGraceSeconds,
      }),
  });
  stops.push(() => election.stop());
}

/** A reconcile-only controller's metrics port: a certificate of its own (it holds no serving key), probes there. */
async function reconcileOnlyCerts(log: Logger): Promise<{ certFile: string; keyFile: string }> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'socat-relay-metrics-'));
  const files = await writeCerts(dir, await makeWebhookCerts({ extraHosts: ['localhost', '127.0.0.1'] }));
  log.info({ dir }, 'reconcile only: no webhook port, metrics served with a self-signed certificate of this process');
  return { certFile: files.cert!, keyFile: files.key! };
}

/**
 * A serving controller's certificate: the files (cert-manager's Secret, your own), or with
 * SOCAT_RELAY_CERTIFICATES=self-managed the Secrets this controller keeps with the other serving ones
 * (webhook/certs/): the servers then wait for the first pair the loop reads or makes.
 */
async function servingTls(
  c: ControllerConfig,
  kc: KubeConfig,
  log: Logger,
  stops: (() => Promise<void>)[],
): Promise<{ certFile: string; keyFile: string } | { certSource: CertSource }> {
  if (c.certificates !== 'self-managed') return { certFile: c.tlsCert, keyFile: c.tlsKey };
  const { CertSource, SelfManagedCerts } = await loadServing();
  const certSource = new CertSource();
  const loop = new SelfManagedCerts({
    kc,
    namespace: c.namespace,
    policy: {
      caLifetimeMs: c.caLifetimeMs,
      servingLifetimeMs: c.servingLifetimeMs,
      hosts: SelfManagedCerts.hosts(c.namespace, c.certHosts),
    },
    checkMs: c.certCheckSeconds * 1000,
    log: log.child({ component: 'certificates' }),
    serve: (pair) => {
      try {
        certSource.set(pair);
      } catch (err) {
        log.warn({ err: (err as Error).message }, 'webhook certificates: the serving Secret holds an unusable pair');
      }
    },
  });
  loop.start();
  stops.push(() => loop.stop());
  log.info({ namespace: c.namespace }, 'webhook certificates: self-managed (Secrets socat-relay-webhook-ca, -serving)');
  return { certSource };
}

/** Runs the stops pushed so far, last first; a failing stop is logged and the rest still run. */
function stopInReverse(stops: (() => Promise<void>)[], log: Logger): () => Promise<void> {
  return async () => {
    for (const stop of stops.reverse()) {
      try {
        await stop();
      } catch (err) {
        log.warn({ err }, 'error while stopping');
      }
    }
  };
}

/** A serving controller's webhook port: the sidecar mode from the cluster, then the admission server. */
async function startWebhook(
  c: ControllerConfig,
  d: ClusterParts & {
    ready: () => { ok: boolean; reason?: string };
    tls: { certFile: string; keyFile: string } | { certSource: CertSource };
  },
  stops: (() => Promise<void>)[],
): Promise<AddressInfo> {
  const { kc, relays, namespaces, metrics, log } = d;
  const { WebhookServer, RelayLookup, liveRelayGetter, defaultInjectOptions } = await loadServing();
  const mode = await sidecarMode(c, kc, log);
  const injectOptions = defaultInjectOptions({
    sidecarImage: c.sidecarImage,
    mode,
    nodeSocketDir: c.socketDir,
    volumeSource: c.volumeSource,
  });
  const server = new WebhookServer({
    port: c.port,
    ...d.tls,
    metrics,
    log,
    ...(c.host ? { host: c.host } : {}),
    catalog: relays,
    namespaceLabels: (ns) => namespaces.labels(ns),
    injectOptions: () => injectOptions,
    relayLookup: new RelayLookup(liveRelayGetter(kc)),
    ready: d.ready,
  });
  const address = await server.start();
  stops.push(() => server.stop());
  return address;
}

async function startCluster(c: ControllerConfig, log: Logger): Promise<RunningController> {
  const kc = loadKubeConfig(c);
  const metrics = createMetrics({ defaultMetrics: true });
  const onRestart = (resource: string): void => metrics.watchRestarts.inc({ resource });
  const relays = new InformerRelayCatalog({ kc, log, onRestart });
  observeRelays(metrics.registry, relays); // socat_relay_relay_ready{relay}, read from this cache at scrape time
  const namespaces = new NamespaceLabels({ kc, log, onRestart });

  const drain = new Drain();
  const stops: (() => Promise<void>)[] = [];
  const stopAll = stopInReverse(stops, log);
  stops.push(() => kc.close()); // the last to stop: every API client before it has finished
  try {
    await Promise.all([relays.start(), namespaces.start()]);
    stops.push(
      () => relays.stop(),
      () => namespaces.stop(),
    );
    const readiness = drain.readiness(() =>
      namespaces.synced() ? { ok: true } : { ok: false, reason: 'namespace cache not synced' },
    );
    // The metrics port first: /readyz (the webhook's port) answers 200 only once both listen. A
    // reconcile-only controller holds no serving key: its metrics port has a certificate of its own.
    const tls = c.serveAdmission ? await servingTls(c, kc, log, stops) : await reconcileOnlyCerts(log);
    const metricsServer = new MetricsServer({
      port: c.metricsPort,
      ...tls,
      registry: metrics.registry,
      log,
      ...(c.host ? { host: c.host } : {}),
      auth: new MetricsAuthorizer(kubeReviewer(kc)),
      ...(c.serveAdmission
        ? {}
        : { health: () => (relays.synced() ? readiness() : { ok: false, reason: 'relay cache not synced' }) }),
    });
    const metricsAddress = await metricsServer.start();
    stops.push(() => metricsServer.stop());
    const address = c.serveAdmission
      ? await startWebhook(c, { kc, relays, namespaces, metrics, log, ready: readiness, tls }, stops)
      : undefined;
    if (c.reconcile) await startNodeSide(c, { kc, relays, namespaces, metrics, log }, stops);
    else log.info('node reconcile off (SOCAT_RELAY_RECONCILE=false)');
    if (c.serveAdmission) await startElected(c, { kc, relays, log, onRestart, registry: metrics.registry }, stops);
    else log.info('reconcile only (SOCAT_RELAY_SERVE_ADMISSION=false): no webhook, not a candidate for the election');
    return { address: address ?? metricsAddress, metricsAddress, drain, stop: stopAll };
  } catch (e) {
    await stopAll();
    throw e;
  }
}

export async function startController(
  c: ControllerConfig,
  log: Logger,
  say: (s: string) => void = () => {},
): Promise<RunningController> {
  return c.relaysFile ? startLocal(c, log, say) : startCluster(c, log);
}

export async function run(args: string[], io: CommandIO, until?: () => Promise<string>): Promise<number> {
  const config = parseOrExit<ControllerConfig>('controller', configUsage(), io, () => {
    try {
      return loadConfig(args, io.env);
    } catch (e) {
      if (e instanceof HelpRequested) return 'help';
      throw e;
    }
  });
  if (typeof config === 'number') return config;
  return runDaemon({
    command: 'controller',
    io,
    logLevel: config.logLevel,
    ...(until ? { until } : {}),
    // What a user can get wrong (files, certificates, the cluster's address); anything else is a bug.
    expected: (e) =>
      e instanceof StartupError ||
      e instanceof CertificateError ||
      e instanceof ParseError ||
      (e as NodeJS.ErrnoException).code !== undefined,
    start: async (log) => {
      const running = await startController(config, log, (s) => io.stderr.write(s));
      // A signal: readiness fails at once, the servers answer for the drain period, then everything stops.
      return {
        stop: () =>
          gracefulShutdown({
            drain: running.drain,
            drainMs: config.shutdownDrainSeconds * 1000,
            stop: () => running.stop(),
            log,
          }),
      };
    },
  });
}
