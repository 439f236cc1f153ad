// The HTTP edge of admission: content type, body size, JSON, the AdmissionReview envelope, the uid,
// one child logger per request, metrics. Decisions come from the pure handlers in webhook/admission.
import express, { type NextFunction, type Request, type Response } from 'express';
import type { Logger } from '../../lib/log.js';
import type { RelayCatalog } from '../catalog/catalog.js';
import {
  DecodeError, decideRelay, decidePod, decodeReview, errorReview, errored, reviewOf,
  type AdmissionRequest, type AdmissionResponse, type InjectOptions,
} from '../admission/index.js';
import type { ControllerMetrics, Outcome, WebhookName } from '../metrics.js';

export const MUTATE_PODS_PATH = '/mutate-pods';
export const VALIDATE_RELAYS_PATH = '/validate-relays';
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
}

interface Decision {
  response: AdmissionResponse;
  outcome: Outcome;
}

function requestLog(log: Logger, req: AdmissionRequest, webhook: WebhookName): Logger {
  const obj = (req.object ?? req.oldObject) as { metadata?: { name?: string; generateName?: string } } | undefined;
  return log.child({
    webhook,
    uid: req.uid,
    kind: req.kind?.kind,
    namespace: req.namespace,
    name: req.name || obj?.metadata?.name || obj?.metadata?.generateName,
    operation: req.operation,
    user: req.userInfo?.username,
    ...(req.dryRun ? { dryRun: true } : {}),
  });
}

export function createApp(deps: AppDeps): express.Express {
  const app = express();
  app.disable('x-powered-by');
  const limit = deps.bodyLimit ?? DEFAULT_BODY_LIMIT;

  const decidePodRequest = (req: AdmissionRequest, log: Logger): Decision => {
    const d = decidePod(req, { catalog: deps.catalog, namespaceLabels: deps.namespaceLabels, options: deps.injectOptions() });
    for (const relay of d.injected) deps.metrics.injections.inc({ relay });
    for (const reason of new Set(d.denials.map((x) => x.reason))) deps.metrics.denials.inc({ reason });
    if (d.skip) log.debug({ skip: d.skip.code }, d.skip.reason);
    if (d.denials.length > 0) log.info({ reasons: d.denials.map((x) => x.reason), message: d.response.status?.message }, 'pod denied');
    else if (d.injected.length > 0) log.info({ relays: d.injected }, 'sidecars injected');
    const outcome: Outcome = !d.response.allowed ? 'denied' : d.response.patch ? 'patched' : 'allowed';
    return { response: d.response, outcome };
  };
  const decideRelayRequest = (req: AdmissionRequest, log: Logger): Decision => {
    const d = decideRelay(req, deps.catalog);
    if (d.denied) {
      deps.metrics.denials.inc({ reason: 'relay-invalid' });
      log.info({ message: d.response.status?.message }, 'relay denied');
    }
    return { response: d.response, outcome: d.denied ? 'denied' : 'allowed' };
  };

  const route = (webhook: WebhookName, decide: (req: AdmissionRequest, log: Logger) => Decision) => {
    const raw = express.raw({ type: () => true, limit });
    return [
      (req: Request, res: Response, next: NextFunction) => {
        if (!req.is('application/json')) {
          deps.metrics.requests.inc({ webhook, outcome: 'invalid' });
          res.status(415).json(errorReview(415, `content type must be application/json, got ${JSON.stringify(req.get('content-type') ?? null)}`));
          return;
        }
        next();
      },
      raw,
      (req: Request, res: Response) => {
        const end = deps.metrics.latency.startTimer({ webhook });
        let body: unknown;
        try {
          body = JSON.parse(Buffer.isBuffer(req.body) ? req.body.toString('utf8') : '');
        } catch (e) {
          deps.metrics.requests.inc({ webhook, outcome: 'invalid' });
          res.status(400).json(errorReview(400, `the body is not valid JSON: ${(e as Error).message}`));
          return;
        }
        let request: AdmissionRequest;
        try {
          request = decodeReview(body);
        } catch (e) {
          if (!(e instanceof DecodeError)) throw e;
          deps.metrics.requests.inc({ webhook, outcome: 'invalid' });
          deps.log.warn({ webhook, uid: e.uid, err: e.message }, 'malformed AdmissionReview');
          res.status(e.code).json(errorReview(e.code, e.message, e.uid));
          return;
        }
        const log = requestLog(deps.log, request, webhook);
        let d: Decision;
        try {
          d = decide(request, log);
        } catch (err) {
          log.error({ err }, 'admission handler failed');
          d = { response: errored(500, `internal error: ${(err as Error).message}`), outcome: 'error' };
        }
        deps.metrics.requests.inc({ webhook, outcome: d.outcome });
        end();
        log.debug({ response: d.response }, 'answered');
        res.status(200).json(reviewOf(d.response, request.uid));
      },
    ];
  };

  app.post(MUTATE_PODS_PATH, ...route('mutate-pods', decidePodRequest));
  app.post(VALIDATE_RELAYS_PATH, ...route('validate-relays', decideRelayRequest));
  for (const p of [MUTATE_PODS_PATH, VALIDATE_RELAYS_PATH]) {
    app.all(p, (_req, res) => { res.status(405).set('allow', 'POST').json(errorReview(405, 'use POST with an AdmissionReview')); });
  }

  app.get('/healthz', (_req, res) => { res.type('text/plain').send('ok\n'); });
  app.get('/readyz', (_req, res) => {
    const reasons: string[] = [];
    if (!deps.catalog.synced()) reasons.push('relay catalog not synced');
    const extra = deps.ready?.();
    if (extra && !extra.ok) reasons.push(extra.reason ?? 'not ready');
    if (reasons.length > 0) res.status(503).type('text/plain').send(`${reasons.join('; ')}\n`);
    else res.type('text/plain').send('ok\n');
  });
  app.get('/metrics', async (_req, res, next) => {
    try {
      res.set('content-type', deps.metrics.registry.contentType).send(await deps.metrics.registry.metrics());
    } catch (err) {
      next(err);
    }
  });

  // Body-parser errors (oversized, aborted) and anything unexpected: still an AdmissionReview.
  app.use((err: unknown, req: Request, res: Response, _next: NextFunction) => {
    const e = err as { status?: number; type?: string; message?: string };
    const code = e.type === 'entity.too.large' ? 413 : e.status && e.status >= 400 && e.status < 500 ? e.status : 500;
    const webhook = req.path === MUTATE_PODS_PATH ? 'mutate-pods' : req.path === VALIDATE_RELAYS_PATH ? 'validate-relays' : undefined;
    if (webhook) deps.metrics.requests.inc({ webhook, outcome: code === 500 ? 'error' : 'invalid' });
    const message = code === 413 ? `the body is larger than ${limit} bytes` : code === 500 ? 'internal error' : (e.message ?? 'bad request');
    if (code === 500) deps.log.error({ err }, 'request failed');
    if (!res.headersSent) res.status(code).json(errorReview(code, message));
  });
  app.use((_req, res) => { res.status(404).type('text/plain').send('not found\n'); });
  return app;
}
