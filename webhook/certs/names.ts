// The names the self-managed certificates live under: the manifests (manifests/self-managed-certs/, the
// Helm chart with certificates.certManager=false) create the two Secrets empty and grant the serving
// controllers these names only (RBAC resourceNames); the controllers fill and rotate them.
/**
 * The CA: tls.crt, tls.key (the CA that signs), next.crt, next.key (the next one, during the overlap),
 * ca.crt (every CA trusted).
 */
export const CA_SECRET = 'socat-relay-webhook-ca';
/** The serving certificate: tls.crt, tls.key, ca.crt (the trusted CAs, as in the caBundle). */
export const SERVING_SECRET = 'socat-relay-webhook-serving';
/** The Mutating- and ValidatingWebhookConfiguration whose every entry gets the caBundle. */
export const WEBHOOK_CONFIGURATION = 'socat-relay';
/** The webhook Service the serving certificate names (with its namespace). */
export const WEBHOOK_SERVICE = 'socat-relay-webhook';
/** On the CA Secret: when the next CA was first trusted (RFC 3339); it signs only after the overlap. */
export const NEXT_SINCE_ANNOTATION = 'socat.io/next-ca-trusted-since';
/** Defaults: the CA five years, the serving certificate 90 days (as the cert-manager Certificate). */
export const DEFAULT_CA_LIFETIME = '43800h';
export const DEFAULT_SERVING_LIFETIME = '2160h';
