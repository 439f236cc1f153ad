// The self-managed webhook certificates (SOCAT_RELAY_CERTIFICATES=self-managed): every serving
// controller runs this loop — read the two Secrets and both webhook configurations, ask
// certs/rotation.ts what to do, make what it asks for with certs/selfsigned.ts, write in the order
// that never breaks a TLS handshake (the CA Secret, then every webhook entry's caBundle, then the
// serving Secret), and serve the serving Secret's pair. Several serving controllers run it at once:
// every write is an update on the resourceVersion just read, so one wins and the others read again.
import { X509Certificate } from 'node:crypto';
import {
  AdmissionregistrationV1Api,
  CoreV1Api,
  type KubeConfig,
  type V1MutatingWebhookConfiguration,
  type V1Secret,
  type V1ValidatingWebhookConfiguration,
} from '@kubernetes/client-node';
import { makeCA, makeLeaf, type KeyPair } from '../../certs/selfsigned.js';
import { planRotation, splitPem, trustedBundle, type RotationPolicy, type StoredCerts } from '../../certs/rotation.js';
import { retryDelay } from '../../lib/backoff.js';
import type { Logger } from '../../lib/log.js';
import { CA_SECRET, NEXT_SINCE_ANNOTATION, SERVING_SECRET, WEBHOOK_CONFIGURATION, WEBHOOK_SERVICE } from './names.js';

export interface SelfManagedOptions {
  kc: KubeConfig;
  namespace: string;
  policy: RotationPolicy;
  /** How often the Secrets and the caBundles are checked. */
  checkMs: number;
  log: Logger;
  /** Takes every serving pair read or written (the servers' CertSource). */
  serve: (pair: { cert: Buffer; key: Buffer }) => void;
  now?: () => number;
}

type WebhookConfig = V1MutatingWebhookConfiguration | V1ValidatingWebhookConfiguration;

const codeOf = (e: unknown): number | undefined => {
  const c = (e as { code?: unknown })?.code;
  return typeof c === 'number' ? c : undefined;
};
const text = (s: V1Secret | undefined, k: string): string | undefined => {
  const v = s?.data?.[k];
  return v ? Buffer.from(v, 'base64').toString('utf8') : undefined;
};
const b64 = (s: string): string => Buffer.from(s).toString('base64');

/** What the Secrets hold, as certs/rotation.ts reads it. */
function storedCerts(ca: V1Secret | undefined, serving: V1Secret | undefined): StoredCerts {
  const since = Date.parse(ca?.metadata?.annotations?.[NEXT_SINCE_ANNOTATION] ?? '');
  return {
    ca: { cert: text(ca, 'tls.crt'), key: text(ca, 'tls.key') },
    next: { cert: text(ca, 'next.crt'), key: text(ca, 'next.key') },
    ...(Number.isNaN(since) ? {} : { nextSince: since }),
    trusted: text(ca, 'ca.crt'),
    serving: { cert: text(serving, 'tls.crt'), key: text(serving, 'tls.key') },
  };
}

/** Thrown for a missing Secret or a refused write: the message says what to fix. */
class CertificateSetupError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CertificateSetupError';
  }
}

/** The webhook configurations' entries' caBundles, decoded (a missing configuration has none). */
function bundlesOf(configs: WebhookConfig[]): string[] {
  return configs.flatMap((c) =>
    (c.webhooks ?? []).map((w) => Buffer.from(w.clientConfig.caBundle ?? '', 'base64').toString('utf8')),
  );
}

interface Pass {
  caSecret: V1Secret;
  servingSecret: V1Secret;
  configs: { kind: 'mutating' | 'validating'; obj: WebhookConfig }[];
}

export class SelfManagedCerts {
  private readonly core: CoreV1Api;
  private readonly admission: AdmissionregistrationV1Api;
  private readonly now: () => number;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = false;
  private failures = 0;

  constructor(private readonly o: SelfManagedOptions) {
    this.core = o.kc.makeApiClient(CoreV1Api);
    this.admission = o.kc.makeApiClient(AdmissionregistrationV1Api);
    this.now = o.now ?? Date.now;
  }

  /** The serving certificate's host names for a namespace: the webhook Service's names, plus `extra`. */
  static hosts(namespace: string, extra: string[]): string[] {
    const s = WEBHOOK_SERVICE;
    return [s, `${s}.${namespace}`, `${s}.${namespace}.svc`, `${s}.${namespace}.svc.cluster.local`, ...extra];
  }

  /** Starts the loop (the first pass now); stop() ends it. */
  start(): void {
    this.tick();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.running?.catch(() => undefined);
  }

  private tick(): void {
    this.running = this.check()
      .then(
        () => {
          if (this.failures > 0) this.o.log.info({ failures: this.failures }, 'webhook certificates: checked again');
          this.failures = 0;
        },
        (e: unknown) => {
          this.failures++;
          const conflict = codeOf(e) === 409;
          this.o.log[conflict ? 'debug' : 'warn'](
            { err: (e as Error).message, code: codeOf(e), failures: this.failures },
            conflict
              ? 'webhook certificates: another controller wrote first; reading again'
              : 'webhook certificates: check failed; the last good certificate stays in use',
          );
        },
      )
      .finally(() => {
        if (this.stopped) return;
        const delay =
          this.failures === 0
            ? this.o.checkMs
            : Math.min(this.o.checkMs, retryDelay(this.failures, { initialMs: 200, maxMs: this.o.checkMs }));
        this.timer = setTimeout(() => this.tick(), delay);
        this.timer.unref();
      });
  }

  /** One pass: read, decide, write in order, serve. Rejects on any failed read or write (retried). */
  async check(): Promise<void> {
    const p = await this.read();
    const now = this.now();
    const stored = storedCerts(p.caSecret, p.servingSecret);
    const plan = planRotation(stored, bundlesOf(p.configs.map((c) => c.obj)), now, this.o.policy);
    if (plan.reasons.length > 0) this.o.log.info({ reasons: plan.reasons }, 'webhook certificates: rotating');
    const { ca, next, nextSince } = await this.nextCAs(stored, plan, now);
    const trusted = trustedBundle([...splitPem(stored.trusted), ca.cert, ...(next ? [next.cert] : [])], now);
    await this.writeCA(p.caSecret, { ca, next, nextSince, trusted });
    for (const c of p.configs) await this.writeBundle(c.kind, c.obj, trusted);
    let serving: KeyPair = { cert: stored.serving?.cert ?? '', key: stored.serving?.key ?? '' };
    if (plan.serving === 'issue') {
      serving = await makeLeaf(ca, {
        commonName: this.o.policy.hosts[2] ?? WEBHOOK_SERVICE,
        hosts: this.o.policy.hosts,
        usage: 'server',
        lifetimeMs: this.o.policy.servingLifetimeMs,
        notAfter: new Date(caNotAfter(ca.cert)),
        now,
      });
    }
    await this.writeServing(p.servingSecret, serving, trusted);
    this.o.serve({ cert: Buffer.from(serving.cert), key: Buffer.from(serving.key) });
  }

  private async read(): Promise<Pass> {
    const { namespace } = this.o;
    const secret = async (name: string): Promise<V1Secret> => {
      try {
        return await this.core.readNamespacedSecret({ name, namespace });
      } catch (e) {
        throw setupError(e, `Secret ${namespace}/${name}`, 'get');
      }
    };
    const [caSecret, servingSecret] = await Promise.all([secret(CA_SECRET), secret(SERVING_SECRET)]);
    const configs: Pass['configs'] = [];
    const name = WEBHOOK_CONFIGURATION;
    for (const kind of ['mutating', 'validating'] as const) {
      try {
        const obj =
          kind === 'mutating'
            ? await this.admission.readMutatingWebhookConfiguration({ name })
            : await this.admission.readValidatingWebhookConfiguration({ name });
        configs.push({ kind, obj });
      } catch (e) {
        if (codeOf(e) !== 404) throw setupError(e, `${kind} webhook configuration ${name}`, 'get');
        this.o.log.warn({ kind, name }, 'webhook certificates: the webhook configuration is missing');
      }
    }
    return { caSecret, servingSecret, configs };
  }

  /** The CA and next CA after the plan (new ones made here). */
  private async nextCAs(
    stored: StoredCerts,
    plan: ReturnType<typeof planRotation>,
    now: number,
  ): Promise<{ ca: KeyPair; next: KeyPair | undefined; nextSince: number | undefined }> {
    const pair = (p: StoredCerts['ca']): KeyPair | undefined =>
      p?.cert && p.key ? { cert: p.cert, key: p.key } : undefined;
    const caOpts = { lifetimeMs: this.o.policy.caLifetimeMs, now };
    let ca = pair(stored.ca);
    let next = pair(stored.next);
    let nextSince = stored.nextSince;
    if (plan.ca === 'new') ca = await makeCA('socat-relay-webhook-ca', caOpts);
    if (plan.ca === 'promote') ca = next;
    if (plan.next === 'drop' || plan.ca !== 'keep') next = undefined;
    if (plan.next === 'new') next = await makeCA('socat-relay-webhook-ca', caOpts);
    if (!next) nextSince = undefined;
    else if (plan.next === 'new' || nextSince === undefined) nextSince = now;
    if (!ca) throw new Error('webhook certificates: no CA after the plan'); // planRotation makes one when none is usable
    return { ca, next, nextSince };
  }

  private async writeCA(
    secret: V1Secret,
    s: { ca: KeyPair; next: KeyPair | undefined; nextSince: number | undefined; trusted: string },
  ): Promise<void> {
    const data: Record<string, string> = {
      'tls.crt': b64(s.ca.cert),
      'tls.key': b64(s.ca.key),
      'ca.crt': b64(s.trusted),
      ...(s.next ? { 'next.crt': b64(s.next.cert), 'next.key': b64(s.next.key) } : {}),
    };
    const annotations = { ...(secret.metadata?.annotations ?? {}) };
    delete annotations[NEXT_SINCE_ANNOTATION];
    if (s.nextSince !== undefined) annotations[NEXT_SINCE_ANNOTATION] = new Date(s.nextSince).toISOString();
    if (sameData(secret.data, data) && sameData(secret.metadata?.annotations, annotations)) return;
    await this.replaceSecret({ ...secret, data, metadata: { ...secret.metadata, annotations } });
    this.o.log.info({ secret: CA_SECRET, next: !!s.next }, 'webhook certificates: CA Secret written');
  }

  private async writeBundle(kind: 'mutating' | 'validating', obj: WebhookConfig, trusted: string): Promise<void> {
    const want = b64(trusted);
    const hooks = obj.webhooks ?? [];
    if (hooks.every((w) => w.clientConfig.caBundle === want)) return;
    for (const w of hooks) w.clientConfig.caBundle = want;
    const name = WEBHOOK_CONFIGURATION;
    try {
      if (kind === 'mutating') await this.admission.replaceMutatingWebhookConfiguration({ name, body: obj });
      else await this.admission.replaceValidatingWebhookConfiguration({ name, body: obj });
    } catch (e) {
      throw setupError(e, `${kind} webhook configuration ${name}`, 'update');
    }
    this.o.log.info({ kind, name, cas: splitPem(trusted).length }, 'webhook certificates: caBundle written');
  }

  private async writeServing(secret: V1Secret, serving: KeyPair, trusted: string): Promise<void> {
    const data = { 'tls.crt': b64(serving.cert), 'tls.key': b64(serving.key), 'ca.crt': b64(trusted) };
    if (sameData(secret.data, data)) return;
    await this.replaceSecret({ ...secret, data });
    this.o.log.info({ secret: SERVING_SECRET }, 'webhook certificates: serving Secret written');
  }

  private async replaceSecret(body: V1Secret): Promise<void> {
    const name = body.metadata!.name!;
    try {
      await this.core.replaceNamespacedSecret({ name, namespace: this.o.namespace, body });
    } catch (e) {
      throw setupError(e, `Secret ${this.o.namespace}/${name}`, 'update');
    }
  }
}

function sameData(a: Record<string, string> | undefined, b: Record<string, string>): boolean {
  const ka = Object.keys(a ?? {}).sort();
  const kb = Object.keys(b).sort();
  return ka.length === kb.length && ka.every((k, i) => k === kb[i] && a![k] === b[k]);
}

function caNotAfter(pem: string): number {
  return Date.parse(new X509Certificate(pem).validTo);
}

/** A failed read or write, with what to do for the cases a user can fix (403, 404); a 409 stays a 409. */
function setupError(e: unknown, what: string, verb: string): Error {
  const code = codeOf(e);
  if (code === 404)
    return new CertificateSetupError(
      `${what} is missing: the install creates it (manifests/self-managed-certs/, or the Helm chart with certificates.certManager=false); apply it again`,
    );
  if (code === 403)
    return new CertificateSetupError(
      `${what}: ${verb} refused: the serving controller's Role and ClusterRole socat-relay-controller-certs must allow it (resourceNames)`,
    );
  return e instanceof Error ? e : new Error(String(e));
}
