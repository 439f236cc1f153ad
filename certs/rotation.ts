// What to do with the webhook's self-managed certificates, decided from what the Secrets and the webhook
// configurations hold and the time: a pure function (the controller's loop, webhook/certs/, reads, makes
// the certificates it asks for and writes). The rules:
// - a CA lives `caLifetime`; when a third of it is left a next CA is made and trusted beside it (the
//   caBundle then holds both); when a sixth is left — and the next CA has been in every webhook entry's
//   caBundle for the overlap — the next CA signs from then on and the old one stays trusted until it
//   expires. A CA that is missing, unreadable or expired is replaced at once (nothing can be served then).
// - the serving certificate lives `servingLifetime` (never past its CA); it is issued again when a third
//   of it is left, when it is not signed by the current CA, does not name every host, or is unreadable.
import { X509Certificate, createPrivateKey } from 'node:crypto';

interface StoredPair {
  cert?: string;
  key?: string;
}

export interface StoredCerts {
  /** The signing CA (Secret socat-relay-webhook-ca: tls.crt, tls.key). */
  ca?: StoredPair;
  /** The next CA, trusted beside the current one until it takes over (next.crt, next.key). */
  next?: StoredPair;
  /** When the next CA was first trusted (ms since the epoch; the Secret's annotation). */
  nextSince?: number;
  /** Every CA the caBundle holds (PEM, concatenated). */
  trusted?: string;
  /** The serving certificate (Secret socat-relay-webhook-serving: tls.crt, tls.key). */
  serving?: StoredPair;
}

export interface RotationPolicy {
  caLifetimeMs: number;
  servingLifetimeMs: number;
  /** DNS names and IPs the serving certificate must be valid for. */
  hosts: string[];
  /** The least time a next CA is trusted before it signs (default 10 min, or a sixth of the CA's life if shorter). */
  minOverlapMs?: number;
}

export interface RotationPlan {
  /** keep; new: make a CA (no usable one); promote: the next CA becomes the CA. */
  ca: 'keep' | 'new' | 'promote';
  /** keep (also: there is none and none is due); new: make a next CA and trust it; drop: forget an unusable one. */
  next: 'keep' | 'new' | 'drop';
  serving: 'keep' | 'issue';
  /** Why, one line each (logged). */
  reasons: string[];
}

interface Parsed {
  x509: X509Certificate;
  notBefore: number;
  notAfter: number;
  lifetime: number;
}

/** The certificate when it parses, its key matches and (for a CA) it may sign; else undefined. */
function parsePair(p: StoredPair | undefined, wantCA: boolean): Parsed | undefined {
  if (!p?.cert || !p.key) return undefined;
  try {
    const x509 = new X509Certificate(p.cert);
    if (!x509.checkPrivateKey(createPrivateKey(p.key))) return undefined;
    if (x509.ca !== wantCA) return undefined;
    const notBefore = Date.parse(x509.validFrom);
    const notAfter = Date.parse(x509.validTo);
    return { x509, notBefore, notAfter, lifetime: notAfter - notBefore };
  } catch {
    return undefined;
  }
}

/** The PEM certificates of a bundle, in order (anything else between them is ignored). */
export function splitPem(bundle: string | undefined): string[] {
  return (bundle ?? '').match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g) ?? [];
}

/**
 * The caBundle: every CA certificate of `certs` that parses and has not expired at `now`, once each, the
 * oldest first, as one PEM text. Old CAs stay until they expire: a serving certificate they signed may
 * still be in use somewhere, and their keys are gone, so trusting them signs nothing new.
 */
export function trustedBundle(certs: string[], now: number): string {
  const seen = new Map<string, X509Certificate>();
  for (const pem of certs) {
    try {
      const x = new X509Certificate(pem);
      if (!x.ca || Date.parse(x.validTo) <= now) continue;
      if (!seen.has(x.fingerprint256)) seen.set(x.fingerprint256, x);
    } catch {
      // not a certificate: left out
    }
  }
  return [...seen.values()]
    .sort((a, b) => Date.parse(a.validFrom) - Date.parse(b.validFrom))
    .map((x) => `${x.toString().trim()}\n`)
    .join('');
}

/** Whether a bundle (PEM) holds this certificate. */
export function bundleHolds(bundle: string, cert: string): boolean {
  try {
    const want = new X509Certificate(cert).fingerprint256;
    return splitPem(bundle).some((pem) => {
      try {
        return new X509Certificate(pem).fingerprint256 === want;
      } catch {
        return false;
      }
    });
  } catch {
    return false;
  }
}

function coversHosts(x509: X509Certificate, hosts: string[]): string | undefined {
  for (const h of hosts) {
    const ok = /^[\d.]+$|:/.test(h) ? x509.checkIP(h) !== undefined : x509.checkHost(h) !== undefined;
    if (!ok) return h;
  }
  return undefined;
}

const usableAt =
  (now: number) =>
  (p: Parsed | undefined): p is Parsed =>
    !!p && p.notAfter > now && p.notBefore <= now;

/** The CA part of the plan, and the CA that signs after it. */
function planCA(
  stored: StoredCerts,
  webhookBundles: string[],
  now: number,
  policy: RotationPolicy,
  plan: RotationPlan,
): Parsed | undefined {
  const { reasons } = plan;
  const ca = parsePair(stored.ca, true);
  const next = parsePair(stored.next, true);
  const usable = usableAt(now);
  if (stored.next?.cert && !usable(next)) {
    plan.next = 'drop';
    reasons.push('the next CA is unreadable, not yet valid or expired: dropped');
  }
  if (!usable(ca)) {
    plan.next = stored.next?.cert ? 'drop' : 'keep';
    if (usable(next)) {
      plan.ca = 'promote';
      reasons.push(`the CA is ${stored.ca?.cert ? 'unusable or expired' : 'missing'}: the next CA signs from now on`);
      return next;
    }
    plan.ca = 'new';
    reasons.push(stored.ca?.cert ? 'the CA is unreadable or expired: a new CA' : 'no CA yet: a new CA');
    return undefined;
  }
  const left = ca.notAfter - now;
  if (!usable(next)) {
    if (left <= ca.lifetime / 3) {
      plan.next = 'new';
      reasons.push(`the CA expires in ${Math.round(left / 1000)} s: a next CA, trusted beside it`);
    }
    return ca;
  }
  const overlap = Math.min(policy.minOverlapMs ?? 10 * 60_000, ca.lifetime / 6);
  const trustedFor = stored.nextSince !== undefined ? now - stored.nextSince : 0;
  const everywhere = webhookBundles.length > 0 && webhookBundles.every((b) => bundleHolds(b, stored.next!.cert!));
  if (left > ca.lifetime / 6 || trustedFor < overlap || !everywhere) return ca;
  plan.ca = 'promote';
  plan.next = 'drop';
  reasons.push(
    `the CA expires in ${Math.round(left / 1000)} s: the next CA, trusted for ${Math.round(trustedFor / 1000)} s, signs from now on`,
  );
  return next;
}

/** Why the serving certificate must be issued again (undefined: it may stay). */
function servingReason(
  stored: StoredCerts,
  signer: Parsed | undefined,
  caChanged: boolean,
  now: number,
  policy: RotationPolicy,
): string | undefined {
  if (caChanged) return 'a new signing CA';
  if (!stored.serving?.cert) return 'no serving certificate yet';
  const serving = parsePair(stored.serving, false);
  if (!serving) return 'the serving certificate or its key is unreadable, or they do not match';
  if (!signer || !serving.x509.verify(signer.x509.publicKey)) return 'the serving certificate is not signed by the CA';
  if (!usableAt(now)(serving)) return 'the serving certificate is not valid now';
  if (serving.notAfter - now <= serving.lifetime / 3)
    return `the serving certificate expires in ${Math.round((serving.notAfter - now) / 1000)} s`;
  if (serving.lifetime > policy.servingLifetimeMs * 1.2) return 'the serving certificate outlives the lifetime setting';
  const missing = coversHosts(serving.x509, policy.hosts);
  return missing ? `the serving certificate is not valid for ${missing}` : undefined;
}

/**
 * The plan for `stored` at `now`. `webhookBundles`: the caBundle of every webhook entry, decoded (a next
 * CA signs only once all of them trust it).
 */
export function planRotation(
  stored: StoredCerts,
  webhookBundles: string[],
  now: number,
  policy: RotationPolicy,
): RotationPlan {
  const plan: RotationPlan = { ca: 'keep', next: 'keep', serving: 'keep', reasons: [] };
  const signer = planCA(stored, webhookBundles, now, policy, plan);
  const why = servingReason(stored, signer, plan.ca !== 'keep', now, policy);
  if (why) {
    plan.serving = 'issue';
    plan.reasons.push(`${why}: a new serving certificate`);
  }
  return plan;
}
