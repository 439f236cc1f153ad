// Which target hosts a Relay may name. Only literal loopback addresses in their canonical spelling
// (dotted-decimal 127.x.y.z; `::1` exactly), and `localhost` (which the argv builders turn into
// 127.0.0.1 so that no name is ever resolved on the node). Every other spelling that a resolver would
// also accept (2130706433, 0177.0.0.1, 0x7f.1, ::ffff:127.0.0.1, [::1], 127.1, 0:0:0:0:0:0:0:1,
// ::0.0.0.1) is refused: what is validated must be exactly what socat connects to, and the CRD's CEL
// rules (manifests/crd) accept exactly the same set, so the schema and the webhook never disagree.
import net from 'node:net';

export type HostCheck = { ok: true; ip: string; family: 4 | 6 } | { ok: false; reason: string };

const OCTET = '(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])';
const CANONICAL_IPV4 = new RegExp(`^${OCTET}\\.${OCTET}\\.${OCTET}\\.${OCTET}$`);

function isCanonicalIPv4(s: string): boolean {
  return CANONICAL_IPV4.test(s);
}

/** Expands an IPv6 literal to 8 groups of 4 hex digits; undefined when it is not one. */
function expandIPv6(s: string): string | undefined {
  if (!net.isIPv6(s) || s.includes('%')) return undefined;
  let text = s.toLowerCase();
  // An embedded IPv4 tail (::ffff:1.2.3.4) becomes two groups.
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (v4) {
    const o = v4[1]!.split('.').map(Number);
    const tail = `${((o[0]! << 8) | o[1]!).toString(16)}:${((o[2]! << 8) | o[3]!).toString(16)}`;
    text = text.slice(0, v4.index) + tail;
  }
  const [head, rest] = text.split('::') as [string, string | undefined];
  const left = head ? head.split(':') : [];
  const right = rest === undefined ? [] : rest ? rest.split(':') : [];
  const fill = rest === undefined ? [] : new Array<string>(8 - left.length - right.length).fill('0');
  const groups = [...left, ...fill, ...right];
  if (groups.length !== 8) return undefined;
  return groups.map((g) => g.padStart(4, '0')).join(':');
}

const IPV6_LOOPBACK = '0000:0000:0000:0000:0000:0000:0000:0001';

/** The host as it may appear in a message: a hostile 4 MiB "host" must not become a 4 MiB error. */
export function shown(host: string, max = 64): string {
  const s = JSON.stringify(host.length > max ? `${host.slice(0, max)}…` : host).slice(1, -1);
  return host.length > max ? `${s} (${host.length} characters)` : s;
}

export function checkTargetHost(host: string): HostCheck {
  if (host.length > 255)
    return { ok: false, reason: `${shown(host)} is not a loopback address (127.0.0.0/8, ::1 or localhost)` };
  if (host === 'localhost') return { ok: true, ip: '127.0.0.1', family: 4 };
  if (isCanonicalIPv4(host)) {
    if (host.startsWith('127.')) return { ok: true, ip: host, family: 4 };
    if (host === '0.0.0.0') return { ok: false, reason: '0.0.0.0 is not a target; use 127.0.0.1' };
    if (host.startsWith('169.254.')) {
      return {
        ok: false,
        reason: `${shown(host)} is link-local (cloud metadata lives there); only loopback targets are allowed`,
      };
    }
    return { ok: false, reason: `${shown(host)} is not a loopback address (127.0.0.0/8, ::1 or localhost)` };
  }
  if (host.startsWith('[') && host.endsWith(']')) {
    return { ok: false, reason: `write the IPv6 address without brackets (${shown(host.slice(1, -1))})` };
  }
  const v6 = expandIPv6(host);
  if (v6 !== undefined) {
    if (host === '::1') return { ok: true, ip: '::1', family: 6 };
    if (v6 === IPV6_LOOPBACK)
      return { ok: false, reason: `write the IPv6 loopback address as ::1, not ${shown(host)}` };
    if (v6.startsWith('0000:0000:0000:0000:0000:ffff:')) {
      return {
        ok: false,
        reason: `IPv4-mapped IPv6 address ${shown(host)} is not allowed; write the IPv4 address (127.0.0.1)`,
      };
    }
    return { ok: false, reason: `${shown(host)} is not a loopback address (127.0.0.0/8, ::1 or localhost)` };
  }
  if (/^[0-9a-fA-FxX.]+$/.test(host)) {
    return {
      ok: false,
      reason: `${shown(host)} is not a canonical dotted-decimal IPv4 address (decimal, octal and hex spellings are refused)`,
    };
  }
  return {
    ok: false,
    reason: `${shown(host)} is a host name; only loopback IP addresses (127.0.0.0/8, ::1) or localhost are allowed`,
  };
}

export type ListenCheck = { ok: true; ip: string; family: 4 | 6; wildcard: boolean } | { ok: false; reason: string };

/**
 * Addresses the sidecar may bind inside the pod: loopback (default), or the wildcard with a warning;
 * canonical spellings only (127.x.y.z, 0.0.0.0, ::1, ::), the same set as the CRD's CEL rule.
 */
export function checkListenAddress(addr: string): ListenCheck {
  if (addr === '0.0.0.0') return { ok: true, ip: addr, family: 4, wildcard: true };
  if (isCanonicalIPv4(addr) && addr.startsWith('127.')) return { ok: true, ip: addr, family: 4, wildcard: false };
  if (addr === '::1') return { ok: true, ip: '::1', family: 6, wildcard: false };
  if (addr === '::') return { ok: true, ip: '::', family: 6, wildcard: true };
  const v6 = addr.length > 255 ? undefined : expandIPv6(addr);
  if (v6 === IPV6_LOOPBACK) return { ok: false, reason: `write the IPv6 loopback address as ::1, not ${shown(addr)}` };
  if (v6 === '0000:0000:0000:0000:0000:0000:0000:0000')
    return { ok: false, reason: `write the IPv6 wildcard address as ::, not ${shown(addr)}` };
  return {
    ok: false,
    reason: `${shown(addr)} cannot be bound in the pod; use a loopback address (127.0.0.1, ::1) or 0.0.0.0/::`,
  };
}
