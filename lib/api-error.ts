// What a failed Kubernetes API call says: its HTTP status. client-node's ApiException carries it as
// `code`; this is the one place that reads it, so callers compare numbers, not error shapes.

/** The HTTP status of a failed API call, undefined for any other error (network, timeout, a bug). */
export function apiStatus(e: unknown): number | undefined {
  const c = (e as { code?: unknown } | null | undefined)?.code;
  return typeof c === 'number' ? c : undefined;
}

/** The object does not exist (HTTP 404). */
export const isNotFound = (e: unknown): boolean => apiStatus(e) === 404;

/** The write lost a race: the object changed since it was read, or it exists already (HTTP 409). */
export const isConflict = (e: unknown): boolean => apiStatus(e) === 409;

/** The call's result, or undefined when the object does not exist; any other failure is thrown. */
export async function unlessNotFound<T>(call: Promise<T>): Promise<T | undefined> {
  try {
    return await call;
  } catch (e) {
    if (isNotFound(e)) return undefined;
    throw e;
  }
}
