// The controller's metrics on a port of their own (not the webhook's), over HTTPS with the webhook's
// certificate files (reloaded like the webhook's), GET /metrics only, behind MetricsAuthorizer
// (TokenReview + SubjectAccessReview). `auth: 'none'` is for local mode on 127.0.0.1 only.
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import type { Logger } from '../../lib/log.js';
import type { MetricsAuthorizer } from '../metrics-auth.js';
import type { CertSource } from './cert-source.js';
import { servingCerts, type ServingCerts } from './certwatcher.js';
import { close, listen } from './listen.js';

const METRICS_PATH = '/metrics';

export interface MetricsServerOptions {
  port: number;
  /** Default: all interfaces (in a pod). */
  host?: string;
  certFile?: string;
  keyFile?: string;
  certPollMs?: number;
  /** The self-managed certificates instead of files (webhook/certs/). */
  certSource?: CertSource;
  registry: Registry;
  auth: MetricsAuthorizer | 'none';
  log: Logger;
  /**
   * A reconcile-only controller has no webhook port: its probes are /healthz and /readyz here
   * (unauthenticated, like the kubelet's probes of any pod). Unset: only /metrics is served.
   */
  health?: () => { ok: boolean; reason?: string };
}

export class MetricsServer {
  private server: https.Server | undefined;
  private readonly certs: ServingCerts;

  constructor(private readonly o: MetricsServerOptions) {
    this.certs = servingCerts(o, o.certSource, (pair) =>
      this.server?.setSecureContext({ minVersion: 'TLSv1.2', cert: pair.cert, key: pair.key }),
    );
  }

  async start(): Promise<AddressInfo> {
    const pair = await this.certs.load();
    const server = https.createServer({ minVersion: 'TLSv1.2', cert: pair.cert, key: pair.key }, (req, res) => {
      const path = (req.url ?? '/').split('?')[0]!;
      const text = (code: number, body: string, headers: Record<string, string> = {}) => {
        res.writeHead(code, { 'content-type': 'text/plain; charset=utf-8', ...headers }).end(`${body}\n`);
      };
      if (this.o.health && req.method === 'GET' && (path === '/healthz' || path === '/readyz')) {
        const h = path === '/healthz' ? { ok: true } : this.o.health();
        return h.ok ? text(200, 'ok') : text(503, `not ready: ${h.reason ?? 'starting'}`);
      }
      if (path !== METRICS_PATH) return text(404, 'not found');
      if (req.method !== 'GET') return text(405, 'use GET', { allow: 'GET' });
      void (async () => {
        if (this.o.auth !== 'none') {
          const v = await this.o.auth.check(req.headers.authorization, path);
          if (v.code !== 200) {
            this.o.log.info({ code: v.code, user: v.user, reason: v.message }, 'metrics request refused');
            return text(v.code, v.message, v.code === 401 ? { 'www-authenticate': 'Bearer' } : {});
          }
        }
        const body = await this.o.registry.metrics();
        res.writeHead(200, { 'content-type': this.o.registry.contentType }).end(body);
      })().catch((err: unknown) => {
        this.o.log.error({ err }, 'metrics request failed');
        if (!res.headersSent) text(500, 'internal error');
      });
    });
    server.on('tlsClientError', (err) => this.o.log.debug({ err: err.message }, 'metrics TLS handshake failed'));
    this.server = server;
    const addr = await listen(server, this.o.port, this.o.host);
    this.certs.start();
    this.o.log.info(
      {
        address: addr.address,
        port: addr.port,
        auth: this.o.auth === 'none' ? 'none' : 'TokenReview+SubjectAccessReview',
      },
      'metrics server listening',
    );
    return addr;
  }

  async stop(): Promise<void> {
    this.certs.stop();
    const s = this.server;
    this.server = undefined;
    if (!s) return;
    await close(s, 0);
  }
}
