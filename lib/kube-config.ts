// The KubeConfig every API client of a process is made from, with its connections to the API server
// kept. @kubernetes/client-node gives each request a dispatcher (an undici Agent) of its own when the
// cluster has TLS settings (always, in a cluster), so every call — a Lease renewal every 10 s on each
// node, a candidate's election every 2 s, a TokenReview per scrape — opened a TCP connection and did a
// full TLS handshake, on the caller and on the API server (at 5 000 nodes, 500 handshakes a second for the
// Lease renewals alone). This one keeps one Agent per set of TLS settings (CA, client certificate and
// key, server name: read at every request, so rotated files are picked up and the old pool is closed),
// whose idle connections stay open 60 s — longer than any of our periods, shorter than the API server's
// 90 s idle timeout, so the client closes first. A cluster reached through a proxy keeps client-node's
// own dispatcher.
// A watch request gets no body timeout from undici: the watch bounds its own silence (client-node's
// inactivity timer, webhook/catalog/watch.ts), and undici's body timer is a coarse "fast timer" that
// ticks every 0.5 s for as long as any such request is open — an idle controller, whose watches are
// always open, woke twice a second for it (≈ 0.2 millicores).
import { createHash } from 'node:crypto';
import type https from 'node:https';
import { KubeConfig } from '@kubernetes/client-node';
import { Agent, type Dispatcher } from 'undici';

type RequestContext = Parameters<KubeConfig['applySecurityAuthentication']>[0];

/** How long an idle connection to the API server stays open (ms). */
const IDLE_MS = 60_000;

/** Whether a request is a watch (`watch=true` in its query, as client-node's Watch sends it). */
export function isWatchPath(path: string): boolean {
  const q = path.indexOf('?');
  return q >= 0 && new URLSearchParams(path.slice(q + 1)).get('watch') === 'true';
}

export interface PooledKubeConfigOptions {
  /** How long a response body other than a watch's may stall before the request fails (ms). Default undici's, 300 s. */
  bodyTimeoutMs?: number;
}

export class PooledKubeConfig extends KubeConfig {
  private pool: { key: string; agent: Agent; dispatcher: Dispatcher } | undefined;

  constructor(private readonly options: PooledKubeConfigOptions = {}) {
    super();
  }

  override async applySecurityAuthentication(context: RequestContext): Promise<void> {
    await super.applySecurityAuthentication(context);
    const cluster = this.getCurrentCluster();
    // No dispatcher: plain fetch, whose global dispatcher pools already; a proxy: its own agent.
    if (!context.getDispatcher() || cluster?.proxyUrl) return;
    const o: https.RequestOptions = {};
    await this.applyToHTTPSOptions(o);
    const tls = {
      ca: o.ca,
      cert: o.cert,
      key: o.key,
      pfx: o.pfx,
      passphrase: o.passphrase,
      servername: o.servername,
      rejectUnauthorized: o.rejectUnauthorized,
    };
    const key = createHash('sha256')
      .update(JSON.stringify([cluster?.server, tls]))
      .digest('hex');
    if (this.pool?.key !== key) {
      const old = this.pool;
      const agent = new Agent({
        connect: { ...tls, keepAlive: true, keepAliveInitialDelay: 30_000 },
        keepAliveTimeout: IDLE_MS,
        keepAliveMaxTimeout: IDLE_MS,
        ...(this.options.bodyTimeoutMs !== undefined ? { bodyTimeout: this.options.bodyTimeoutMs } : {}),
      });
      const dispatcher = agent.compose(
        (dispatch) => (opts, handler) => dispatch(isWatchPath(opts.path) ? { ...opts, bodyTimeout: 0 } : opts, handler),
      );
      this.pool = { key, agent, dispatcher };
      // Requests in flight on the old settings finish; its idle connections close.
      void old?.agent.close().catch(() => undefined);
    }
    context.setDispatcher(this.pool.dispatcher);
  }

  /** Closes the kept connections (a daemon's stop; in-flight requests finish first). */
  async close(): Promise<void> {
    const p = this.pool;
    this.pool = undefined;
    await p?.agent.close();
  }
}
