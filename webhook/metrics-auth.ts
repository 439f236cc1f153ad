// Who may read the controller's metrics, decided like controller-runtime's metrics filter and
// kube-rbac-proxy: the bearer token is checked with a TokenReview, the user it names with a
// SubjectAccessReview for `get` on the non-resource URL (/metrics). RBAC therefore decides, e.g.
//   rules: [{nonResourceURLs: [/metrics], verbs: [get]}]   (ClusterRole socat-relay-metrics-reader)
// Answers are cached briefly per token so a scrape every few seconds costs no API calls.
import { createHash } from 'node:crypto';
import { AuthenticationV1Api, AuthorizationV1Api, type KubeConfig } from '@kubernetes/client-node';

interface ReviewedUser {
  username: string;
  uid?: string;
  groups?: string[];
  extra?: Record<string, string[]>;
}

/** The two API calls, as a seam: the real one talks to the API server, tests may pass their own. */
export interface Reviewer {
  /** The user the token belongs to, or undefined when the API server does not accept it. */
  authenticate(token: string): Promise<ReviewedUser | undefined>;
  /** Whether that user may `verb` the non-resource `path`, with the authorizer's reason. */
  authorize(user: ReviewedUser, verb: string, path: string): Promise<{ allowed: boolean; reason?: string }>;
}

export function kubeReviewer(kc: KubeConfig): Reviewer {
  const authn = kc.makeApiClient(AuthenticationV1Api);
  const authz = kc.makeApiClient(AuthorizationV1Api);
  return {
    async authenticate(token) {
      const r = await authn.createTokenReview({
        body: { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenReview', spec: { token } },
      });
      if (!r.status?.authenticated || !r.status.user?.username) return undefined;
      const u = r.status.user;
      return {
        username: u.username!,
        ...(u.uid ? { uid: u.uid } : {}),
        ...(u.groups ? { groups: u.groups } : {}),
        ...(u.extra ? { extra: u.extra } : {}),
      };
    },
    async authorize(user, verb, path) {
      const r = await authz.createSubjectAccessReview({
        body: {
          apiVersion: 'authorization.k8s.io/v1',
          kind: 'SubjectAccessReview',
          spec: {
            user: user.username,
            ...(user.uid ? { uid: user.uid } : {}),
            ...(user.groups ? { groups: user.groups } : {}),
            ...(user.extra ? { extra: user.extra } : {}),
            nonResourceAttributes: { verb, path },
          },
        },
      });
      return { allowed: r.status?.allowed === true, ...(r.status?.reason ? { reason: r.status.reason } : {}) };
    },
  };
}

export type Verdict = { code: 200; user: string } | { code: 401 | 403 | 500; message: string; user?: string };

export interface MetricsAuthOptions {
  /** How long an answer is reused for the same token and path (default 10 s; errors are never cached). */
  ttlMs?: number;
  /** Tokens remembered at most (default 256; the oldest goes first). */
  maxEntries?: number;
  now?: () => number;
}

/** Bearer token → 200, 401 (no or unknown token), 403 (RBAC says no), 500 (the API could not be asked). */
export class MetricsAuthorizer {
  private readonly cache = new Map<string, { until: number; verdict: Verdict }>();
  private readonly ttlMs: number;
  private readonly maxEntries: number;
  private readonly now: () => number;

  constructor(
    private readonly reviewer: Reviewer,
    o: MetricsAuthOptions = {},
  ) {
    this.ttlMs = o.ttlMs ?? 10_000;
    this.maxEntries = o.maxEntries ?? 256;
    this.now = o.now ?? Date.now;
  }

  async check(authorization: string | undefined, path: string): Promise<Verdict> {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? '');
    if (!m) return { code: 401, message: 'a bearer token is required (Authorization: Bearer <service account token>)' };
    const key = `${createHash('sha256').update(m[1]!).digest('hex')} ${path}`;
    const hit = this.cache.get(key);
    if (hit && hit.until > this.now()) return hit.verdict;
    const verdict = await this.review(m[1]!, path);
    if (verdict.code !== 500) {
      this.cache.delete(key);
      this.cache.set(key, { until: this.now() + this.ttlMs, verdict });
      while (this.cache.size > this.maxEntries) this.cache.delete(this.cache.keys().next().value!);
    }
    return verdict;
  }

  private async review(token: string, path: string): Promise<Verdict> {
    let user: ReviewedUser | undefined;
    try {
      user = await this.reviewer.authenticate(token);
    } catch (e) {
      return { code: 500, message: `TokenReview failed: ${(e as Error).message}` };
    }
    if (!user) return { code: 401, message: 'the token was not accepted by the API server (TokenReview)' };
    try {
      const r = await this.reviewer.authorize(user, 'get', path);
      if (r.allowed) return { code: 200, user: user.username };
      return {
        code: 403,
        user: user.username,
        message: `${user.username} may not get ${path}${r.reason ? `: ${r.reason}` : ''} (bind the ClusterRole socat-relay-metrics-reader)`,
      };
    } catch (e) {
      return { code: 500, user: user.username, message: `SubjectAccessReview failed: ${(e as Error).message}` };
    }
  }
}
