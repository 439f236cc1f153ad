// The one "is this a JSON object" check (not null, not an array), for every reader of untrusted JSON:
// Relays, AdmissionReviews, pods, the agent's status file.

export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
