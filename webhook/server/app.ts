// The HTTP edge of admission: reads the body (size-limited), calls the pure handler (handler.ts), records
// the metrics and the one log line, sends the AdmissionReview; plus the probes and /metrics.
import express, { type NextFunction, type Request, type Response } from 'express';
import type { Logger } from '../../lib/log.js';
import type { RelayCatalog } from '../catalog/catalog.js';
import { errorReview, type InjectOptions } from '../admission/index.js';
import type { ControllerMetrics, WebhookName } from '../metrics.js';
import { withRelays, type RelayLookup } from './catalog-miss.js';
import { handleAdmission, isJsonContentType } from './handler.js';

const MUTATE_PODS_PATH = '/mutate-pods';
const VALIDATE_RELAYS_PATH = '/validate-relays';
/** The API server sends at most ~3 MiB objects; a larger body is not an admission request. */
export const DEFAULT_BODY_LIMIT = 3 * 1024 * 1024;

export interface AppDeps {
  catalog: RelayCatalog;
  namespaceLabels: (namespace: string) => Record<string, string> | undefined;
  /** A function so a setting decided after start (sidecar mode auto-detection) is picked up. */
  injectOptions: () => InjectOptions;
  metrics: ControllerMetrics;
  log: Logger;
  /** Extra readiness conditions besides the relay catalog (certificate loaded, namespaces synced). */
  ready?: () => { ok: boolean; reason?: string };
  bodyLimit?: number;
  /** Looks up live the relays a pod asks for that the catalog lacks, before it is denied for them (catalog-miss.ts). */
  relayLookup?: RelayLookup;
}

export function createApp(deps: AppDeps): express.Express {
  const app = express();
  app.disable('x-powered-by');
  // An ETag is a SHA-1 of every response body; no client of an admission answer (or a probe) uses it.
  app.set('etag', false);
  const limit = deps.bodyLimit ?? DEFAULT_BODY_LIMIT;
  // Only a JSON body is read; any other content type is answered 415 by the handler without reading it.
  const raw = express.raw({ type: (req) => isJsonContentType(req.headers['content-type']), limit });

  app.post(MUTATE_PODS_PATH, raw, admission(deps, 'mutate-pods'));
  app.post(VALIDATE_RELAYS_PATH, raw, admission(deps, 'validate-relays'));
  for (const p of [MUTATE_PODS_PATH, VALIDATE_RELAYS_PATH]) {
    app.all(p, (_req, res) => {
      res.status(405).set('allow', 'POST').json(errorReview(405, 'use POST with an AdmissionReview'));
    });
  }

  app.get('/healthz', (_req, res) => {
    res.type('text/plain').send('ok\n');
  });
  app.get('/readyz', (_req, res) => {
    const reasons: string[] = [];
    if (!deps.catalog.synced()) reasons.push('relay catalog not synced');
    const extra = deps.ready?.();
    if (extra && !extra.ok) reasons.push(extra.reason ?? 'not ready');
    if (reasons.length > 0)
      res
        .status(503)
        .type('text/plain')
        .send(`${reasons.join('; ')}\n`);
    else res.type('text/plain').send('ok\n');
  });
  // /metrics is not served here: it has a port and an authorization of its own (metrics-server.ts).

  app.use(errorAnswer(deps, limit));
  app.use((_req, res) => {
    res.status(404).type('text/plain').send('not found\n');
  });
  return app;
}

/**
 * One webhook's route: the pure handler's answer (judged again after a live lookup when the pod asks
 * for relays the catalog lacks) sent, its metrics and its one log line recorded.
 */
function admission(deps: AppDeps, webhook: WebhookName) {
  return async (req: Request, res: Response): Promise<void> => {
    const end = deps.metrics.latency.startTimer({ webhook });
    const body = Buffer.isBuffer(req.body) ? req.body : undefined;
    const ctx = { catalog: deps.catalog, namespaceLabels: deps.namespaceLabels, options: deps.injectOptions() };
    let a = handleAdmission(webhook, body, req.headers['content-type'], ctx);
    if (webhook === 'mutate-pods' && deps.relayLookup && a.denialReasons.includes('relay-not-found')) {
      const found = await deps.relayLookup.missing(body, deps.catalog).catch((err: unknown) => {
        deps.log.warn({ err }, 'live lookup of relays missing from the catalog failed');
        return [];
      });
      if (found.length > 0)
        a = handleAdmission(webhook, body, req.headers['content-type'], {
          ...ctx,
          catalog: withRelays(deps.catalog, found),
        });
    }
    for (const relay of a.injected) deps.metrics.injections.inc({ relay });
    for (const reason of a.denialReasons) deps.metrics.denials.inc({ reason });
    deps.metrics.requests.inc({ webhook, outcome: a.outcome });
    if (a.httpStatus === 200) end();
    if (deps.log.isLevelEnabled(a.logLevel)) deps.log[a.logLevel](a.logFields, a.logMessage);
    res.status(a.httpStatus).type('application/json').send(JSON.stringify(a.review));
  };
}

/** Body-parser errors (oversized, aborted) and anything unexpected: still an AdmissionReview. */
function errorAnswer(deps: AppDeps, limit: number) {
  return (err: unknown, req: Request, res: Response, _next: NextFunction): void => {
    const e = err as { status?: number; type?: string; message?: string };
    const code = e.type === 'entity.too.large' ? 413 : e.status && e.status >= 400 && e.status < 500 ? e.status : 500;
    const webhook =
      req.path === MUTATE_PODS_PATH ? 'mutate-pods' : req.path === VALIDATE_RELAYS_PATH ? 'validate-relays' : undefined;
    if (webhook) deps.metrics.requests.inc({ webhook, outcome: code === 500 ? 'error' : 'invalid' });
    const message =
      code === 413
        ? `the body is larger than ${limit} bytes`
        : code === 500
          ? 'internal error'
          : (e.message ?? 'bad request');
    if (code === 500) deps.log.error({ err }, 'request failed');
    if (!res.headersSent) res.status(code).json(errorReview(code, message));
  };
}
