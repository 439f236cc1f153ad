// The HTTPS server: express over https.createServer (TLS 1.2+), the certificate from files reloaded in
// place with setSecureContext. start() → the bound address (port 0 in tests); stop() closes it all.
import { X509Certificate } from 'node:crypto';
import { EventEmitter } from 'node:events';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import type { SecureContextOptions } from 'node:tls';
import type { Logger } from '../../lib/log.js';
import { recordCertificate, type ControllerMetrics } from '../metrics.js';
import { createApp, type AppDeps } from './app.js';
import type { CertSource } from './cert-source.js';
import { servingCerts, type CertPair, type ServingCerts } from './certwatcher.js';
import { close, listen } from './listen.js';

export interface WebhookServerOptions extends Omit<AppDeps, 'ready'> {
  port: number;
  /** Default: all interfaces (in a pod); tests use 127.0.0.1. */
  host?: string;
  /** The certificate files (cert-manager's Secret, your own), reloaded when they change… */
  certFile?: string;
  keyFile?: string;
  certPollMs?: number;
  /** …or the self-managed certificates (webhook/certs/). */
  certSource?: CertSource;
  /** Extra readiness (namespaces synced …); the certificate is checked here. */
  ready?: AppDeps['ready'];
  metrics: ControllerMetrics;
  log: Logger;
}

const TLS_OPTIONS: SecureContextOptions = { minVersion: 'TLSv1.2' };

export class WebhookServer {
  /** 'certificate-reloaded' (fingerprint-free: the new pair is in use) and 'certificate-rejected' (err). */
  readonly events = new EventEmitter();
  private server: https.Server | undefined;
  private readonly certs: ServingCerts;

  constructor(private readonly o: WebhookServerOptions) {
    this.certs = servingCerts(
      o,
      o.certSource,
      (pair) => {
        this.server?.setSecureContext({ ...TLS_OPTIONS, cert: pair.cert, key: pair.key });
        this.recordValidity(pair);
        o.metrics.certReloads.inc({ result: 'ok' });
        this.events.emit('certificate-reloaded');
      },
      (err) => {
        o.metrics.certReloads.inc({ result: 'rejected' });
        this.events.emit('certificate-rejected', err);
      },
    );
  }

  /** Loads the certificate (fatal when unusable), listens, starts watching the files. */
  async start(): Promise<AddressInfo> {
    const pair: CertPair = await this.certs.load();
    this.recordValidity(pair);
    const app = createApp({
      ...this.o,
      ready: () => {
        if (!this.certs.current()) return { ok: false, reason: 'no serving certificate' };
        return this.o.ready?.() ?? { ok: true };
      },
    });
    const server = https.createServer({ ...TLS_OPTIONS, cert: pair.cert, key: pair.key }, app);
    server.on('tlsClientError', (err) => this.o.log.debug({ err: err.message }, 'TLS handshake failed'));
    this.server = server;
    const addr = await listen(server, this.o.port, this.o.host);
    this.certs.start();
    this.o.log.info({ address: addr.address, port: addr.port }, 'webhook server listening');
    return addr;
  }

  /**
   * The certificate in use → socat_relay_certificate_{expiry,not_before}_timestamp_seconds (checkPair parsed it
   * already).
   */
  private recordValidity(pair: CertPair): void {
    recordCertificate(this.o.metrics.registry, new X509Certificate(pair.cert));
  }

  /** Re-reads the certificate files now (the watch and the poll do this on their own). */
  async reloadCertificate(): Promise<void> {
    await this.certs.check?.();
  }

  async stop(): Promise<void> {
    this.certs.stop();
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    await close(server, 2000);
  }
}
