// The admission edge without HTTP: one pure function from what arrived (which webhook, the body's
// bytes, the content type) and the context (catalog, namespace labels, inject options) to what to
// answer (HTTP status + AdmissionReview), how to count it (outcome, relays injected, denial reasons)
// and the one log line to write. Express (app.ts) only reads the body, calls this, records the metrics
// and the log line once, and sends the review. The fuzz and security suites call this same function.
import {
  DecodeError,
  decidePod,
  decideRelay,
  decodeReview,
  errorReview,
  errored,
  reviewOf,
  type AdmissionRequest,
  type AdmissionResponse,
  type AdmissionReview,
  type PodContext,
} from '../admission/index.js';
import type { Outcome, WebhookName } from '../metrics.js';

export type AdmissionContext = PodContext;

type LogLevel = 'debug' | 'info' | 'warn' | 'error';

export interface AdmissionAnswer {
  httpStatus: number;
  review: AdmissionReview;
  outcome: Outcome;
  /** The one log line for this request: level, message, and fields (the request's identity + the decision). */
  logLevel: LogLevel;
  logMessage: string;
  logFields: Record<string, unknown>;
  /** Relays whose sidecar was added (counted per relay). */
  injected: readonly string[];
  /** Distinct denial reasons (counted per reason). */
  denialReasons: readonly string[];
}

/** True for `application/json` with any parameters (charset); what the edge reads a body for. */
export function isJsonContentType(contentType: string | undefined): boolean {
  if (!contentType) return false;
  const semi = contentType.indexOf(';');
  return (semi < 0 ? contentType : contentType.slice(0, semi)).trim().toLowerCase() === 'application/json';
}

const NONE: readonly string[] = [];

function rejected(
  webhook: WebhookName,
  code: number,
  message: string,
  logFields: Record<string, unknown> = { webhook },
  logMessage = 'request rejected',
  uid = '',
): AdmissionAnswer {
  return {
    httpStatus: code,
    review: errorReview(code, message, uid),
    outcome: 'invalid',
    logLevel: 'debug',
    logMessage,
    logFields: { ...logFields, code, err: message },
    injected: NONE,
    denialReasons: NONE,
  };
}

/** The request's identity for the log line (uid, kind, namespace, name, operation, user). */
function requestFields(webhook: WebhookName, req: AdmissionRequest): Record<string, unknown> {
  const obj = (req.object ?? req.oldObject) as { metadata?: { name?: string; generateName?: string } } | undefined;
  return {
    webhook,
    uid: req.uid,
    kind: req.kind?.kind,
    namespace: req.namespace,
    name: req.name || obj?.metadata?.name || obj?.metadata?.generateName,
    operation: req.operation,
    user: req.userInfo?.username,
    ...(req.dryRun ? { dryRun: true } : {}),
  };
}

/** A decision before the envelope: the answer's fields less the HTTP status and the review, plus the response. */
type Decided = Omit<AdmissionAnswer, 'httpStatus' | 'review'> & { response: AdmissionResponse };

function decidePodAnswer(req: AdmissionRequest, ctx: AdmissionContext): Decided {
  const d = decidePod(req, ctx);
  const outcome: Outcome = !d.response.allowed ? 'denied' : d.response.patch ? 'patched' : 'allowed';
  const base = {
    response: d.response,
    outcome,
    injected: d.injected,
    denialReasons: d.denials.length > 0 ? [...new Set(d.denials.map((x) => x.reason))] : NONE,
  };
  if (d.denials.length > 0)
    return {
      ...base,
      logLevel: 'info',
      logMessage: 'pod denied',
      logFields: { reasons: d.denials.map((x) => x.reason), message: d.response.status?.message },
    };
  if (d.injected.length > 0)
    return { ...base, logLevel: 'info', logMessage: 'sidecars injected', logFields: { relays: d.injected } };
  if (d.skip) return { ...base, logLevel: 'debug', logMessage: d.skip.reason, logFields: { skip: d.skip.code } };
  return { ...base, logLevel: 'debug', logMessage: 'answered', logFields: {} };
}

function decideRelayAnswer(req: AdmissionRequest, ctx: AdmissionContext): Decided {
  const d = decideRelay(req, ctx.catalog);
  if (d.denied)
    return {
      response: d.response,
      outcome: 'denied',
      logLevel: 'info',
      logMessage: 'relay denied',
      logFields: { message: d.response.status?.message },
      injected: NONE,
      denialReasons: ['relay-invalid'],
    };
  return {
    response: d.response,
    outcome: 'allowed',
    logLevel: 'debug',
    logMessage: 'answered',
    logFields: {},
    injected: NONE,
    denialReasons: NONE,
  };
}

/**
 * Answers one admission request. Never throws: a malformed request gets a 4xx AdmissionReview (with the
 * uid when one was readable), a failing decision a 200 whose status.code is 500.
 */
export function handleAdmission(
  webhook: WebhookName,
  body: Buffer | string | undefined,
  contentType: string | undefined,
  ctx: AdmissionContext,
): AdmissionAnswer {
  if (!isJsonContentType(contentType)) {
    return rejected(webhook, 415, `content type must be application/json, got ${JSON.stringify(contentType ?? null)}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(typeof body === 'string' ? body : body ? body.toString('utf8') : '');
  } catch (e) {
    return rejected(webhook, 400, `the body is not valid JSON: ${(e as Error).message}`);
  }
  let request: AdmissionRequest;
  try {
    request = decodeReview(parsed);
  } catch (e) {
    if (!(e instanceof DecodeError)) throw e;
    return {
      ...rejected(webhook, e.code, e.message, { webhook, uid: e.uid }, 'malformed AdmissionReview', e.uid),
      logLevel: 'warn',
    };
  }
  const fields = requestFields(webhook, request);
  let d: Decided;
  try {
    d = webhook === 'mutate-pods' ? decidePodAnswer(request, ctx) : decideRelayAnswer(request, ctx);
  } catch (err) {
    return {
      httpStatus: 200,
      review: reviewOf(errored(500, `internal error: ${(err as Error).message}`), request.uid),
      outcome: 'error',
      logLevel: 'error',
      logMessage: 'admission handler failed',
      logFields: { ...fields, err },
      injected: NONE,
      denialReasons: NONE,
    };
  }
  const review = reviewOf(d.response, request.uid);
  // Bodies only at debug: the response (with its patch) goes into debug lines alone.
  const logFields = { ...fields, ...d.logFields, ...(d.logLevel === 'debug' ? { response: review.response } : {}) };
  return {
    httpStatus: 200,
    review,
    outcome: d.outcome,
    logLevel: d.logLevel,
    logMessage: d.logMessage,
    logFields,
    injected: d.injected,
    denialReasons: d.denialReasons,
  };
}
