// A CA and certificates signed by it, made with `selfsigned` (no openssl needed): the webhook's serving
// certificate where cert-manager is absent, and every certificate the tests need (webhook, test API
// server, admin client).
import { generate, type SubjectAltNameEntry } from 'selfsigned';
import net from 'node:net';

export interface KeyPair {
  cert: string;
  key: string;
}

export interface CertOptions {
  /** Certificate lifetime in days (default 365). */
  days?: number;
  /** Lifetime in milliseconds; wins over `days` (short lifetimes in tests, rotation settings). */
  lifetimeMs?: number;
  /** Never valid after this (a serving certificate does not outlive its CA). */
  notAfter?: Date;
  /** The issuing time (default Date.now()). */
  now?: number;
  /** Key type (default ec P-256: small and fast to make; rsa for old clients). */
  keyType?: 'ec' | 'rsa';
}

const DAY_MS = 86400 * 1000;

/**
 * notBefore a little in the past (tolerates clock skew between the issuer and whoever checks: 5 min, or a
 * tenth of a short lifetime) and notAfter `lifetime` from now, never after `notAfter`.
 */
function validity(opts: CertOptions, defaultDays: number): { notBeforeDate: Date; notAfterDate: Date } {
  const now = opts.now ?? Date.now();
  const lifetime = opts.lifetimeMs ?? (opts.days ?? defaultDays) * DAY_MS;
  const notBeforeDate = new Date(now - Math.min(5 * 60 * 1000, lifetime / 10));
  let end = now + lifetime;
  if (opts.notAfter && opts.notAfter.getTime() < end) end = opts.notAfter.getTime();
  return { notBeforeDate, notAfterDate: new Date(end) };
}

export async function makeCA(commonName = 'socat-relay-ca', opts: CertOptions = {}): Promise<KeyPair> {
  const pems = await generate([{ name: 'commonName', value: commonName }], {
    keyType: opts.keyType ?? 'ec',
    algorithm: 'sha256',
    ...validity(opts, 3650),
    extensions: [
      { name: 'basicConstraints', cA: true, critical: true },
      { name: 'keyUsage', keyCertSign: true, cRLSign: true, digitalSignature: true, critical: true },
    ],
  });
  return { cert: pems.cert, key: pems.private };
}

export interface LeafOptions extends CertOptions {
  commonName: string;
  /** DNS names and IP addresses for the subjectAltName (server certificates). */
  hosts?: string[];
  /** Organization (for client certificates: the Kubernetes group, e.g. system:masters). */
  organization?: string;
  usage: 'server' | 'client';
}

export async function makeLeaf(ca: KeyPair, opts: LeafOptions): Promise<KeyPair> {
  const attrs = [{ name: 'commonName', value: opts.commonName }];
  if (opts.organization) attrs.push({ name: 'organizationName', value: opts.organization });
  const altNames: SubjectAltNameEntry[] = (opts.hosts ?? []).map((h) =>
    net.isIP(h) ? { type: 7, ip: h } : { type: 2, value: h },
  );
  const pems = await generate(attrs, {
    keyType: opts.keyType ?? 'ec',
    algorithm: 'sha256',
    ...validity(opts, 365),
    ca: { key: ca.key, cert: ca.cert },
    extensions: [
      { name: 'basicConstraints', cA: false, critical: true },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
      { name: 'extKeyUsage', serverAuth: opts.usage === 'server', clientAuth: opts.usage === 'client' },
      ...(altNames.length > 0 ? [{ name: 'subjectAltName' as const, altNames }] : []),
    ],
  });
  return { cert: pems.cert, key: pems.private };
}

/** The DNS names under which the API server reaches a Service. */
function serviceHosts(service: string, namespace: string): string[] {
  return [
    service,
    `${service}.${namespace}`,
    `${service}.${namespace}.svc`,
    `${service}.${namespace}.svc.cluster.local`,
  ];
}

export interface WebhookCerts {
  ca: KeyPair;
  serving: KeyPair;
  /** base64 of the CA PEM: the webhook configurations' clientConfig.caBundle. */
  caBundle: string;
}

/** CA + serving certificate for the webhook Service (and, by default, 127.0.0.1/localhost for tests). */
export async function makeWebhookCerts(
  opts: {
    service?: string;
    namespace?: string;
    extraHosts?: string[];
    days?: number;
    lifetimeMs?: number;
    notAfter?: Date;
    now?: number;
    ca?: KeyPair;
  } = {},
): Promise<WebhookCerts> {
  const service = opts.service ?? 'socat-relay-webhook';
  const namespace = opts.namespace ?? 'socat-relay-system';
  const ca = opts.ca ?? (await makeCA());
  const hosts = [...serviceHosts(service, namespace), ...(opts.extraHosts ?? ['localhost', '127.0.0.1', '::1'])];
  const serving = await makeLeaf(ca, {
    commonName: `${service}.${namespace}.svc`,
    hosts,
    usage: 'server',
    days: opts.days ?? 365,
    ...(opts.lifetimeMs !== undefined ? { lifetimeMs: opts.lifetimeMs } : {}),
    ...(opts.notAfter ? { notAfter: opts.notAfter } : {}),
    ...(opts.now !== undefined ? { now: opts.now } : {}),
  });
  return { ca, serving, caBundle: Buffer.from(ca.cert).toString('base64') };
}
