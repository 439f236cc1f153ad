// The one way the sidecar's image may differ from the configured one: where it is pulled from. A
// registry-mirror webhook that runs after ours (reinvocationPolicy IfNeeded) rewrites
// `ghcr.io/socat-relay/socat-relay-sidecar:0.1.0` to `mirror.example:5000/socat-relay/socat-relay-sidecar:0.1.0`
// or, for a proxy-cache project, `harbor.example/ghcr-proxy/socat-relay/socat-relay-sidecar:0.1.0`: the
// registry host may change and a path prefix may be added; repository path, tag and digest must stay.
// The image grants no power of its own — the command, security context and mounts it runs with are
// pinned — so this keeps the rule simple, not secret.

/** The image without its registry host: the first component when it names a host (has `.` or `:`, or is localhost). */
function withoutRegistry(image: string): string {
  const slash = image.indexOf('/');
  if (slash < 0) return `library/${image}`;
  const first = image.slice(0, slash);
  const rest = image.slice(slash + 1);
  if (first.includes('.') || first.includes(':') || first === 'localhost')
    return rest.includes('/') ? rest : `library/${rest}`;
  return image;
}

export function sameImageButRegistry(actual: unknown, expected: string): boolean {
  if (typeof actual !== 'string' || actual === '') return false;
  const a = withoutRegistry(actual);
  const e = withoutRegistry(expected);
  return a === e || a.endsWith(`/${e}`);
}
