// Independent oracles the resilience and security tests judge the code with. They are written from the
// rules (Kubernetes API validation, RFC 1122 loopback), not from the code under test, so a bug in
// relay/ or webhook/ cannot make its own test pass.
import path from 'node:path';
import { isObject } from '../../lib/object.js';

/** Canonical dotted-decimal IPv4 inside 127.0.0.0/8, checked octet by octet (no leading zeros, ≤ 255). */
function isLoopbackIPv4Literal(s: string): boolean {
  const parts = s.split('.');
  if (parts.length !== 4) return false;
  for (const p of parts) {
    if (!/^(0|[1-9][0-9]{0,2})$/.test(p) || Number(p) > 255) return false;
  }
  return parts[0] === '127';
}

/** What socat may be told to connect to: 127.0.0.0/8 in canonical form, or exactly ::1. */
export function isLoopbackLiteral(s: string): boolean {
  return s === '::1' || isLoopbackIPv4Literal(s);
}

export interface SocatAddress {
  type: string;
  params: string;
  options: string[];
}

/** Splits a socat address `TYPE:params,opt,opt` (params of IP addresses may hold `[v6]:port`). */
export function parseSocatAddress(a: string): SocatAddress {
  const colon = a.indexOf(':');
  const type = colon < 0 ? a : a.slice(0, colon);
  const rest = colon < 0 ? '' : a.slice(colon + 1);
  const [params = '', ...options] = rest.split(',');
  return { type, params, options };
}

export interface NodeArgvShape {
  problems: string[];
  /** The host and port socat would connect to or send to. */
  target?: { host: string; port: number };
  socket?: string;
}

const CONNECT_TYPES = new Set(['TCP4', 'TCP6', 'UDP4', 'UDP6', 'UDP4-SENDTO', 'UDP6-SENDTO']);
const LISTEN_TYPES = new Set(['UNIX-LISTEN', 'UNIX-RECV']);

/**
 * Judges the node-side socat argv: options first (each starting with '-'), then exactly two addresses,
 * the first a Unix listener on `<socketDir>/<relay>/socket`, the second a TCP/UDP connect to a loopback
 * literal without socat's `!!` dual form and without any option that could redirect it (`sourceport`,
 * `proxy`, a `bind` elsewhere…). UDP must bind the loopback address of the target's family (`bind=127.0.0.1`
 * or `bind=[::1]`): the agent runs on the host network, and an unbound UDP socket is bound to 0.0.0.0
 * by the kernel at its first send. TCP may bind only there too.
 */
export function judgeNodeArgv(argv: readonly string[], socketDir: string, relay: string): NodeArgvShape {
  const problems: string[] = [];
  const firstAddr = argv.findIndex((a) => !a.startsWith('-'));
  const addrs = firstAddr < 0 ? [] : argv.slice(firstAddr);
  for (const o of argv.slice(0, firstAddr < 0 ? argv.length : firstAddr)) {
    if (!/^-(d|u|b\d+|t\d+)$/.test(o)) problems.push(`unexpected socat option ${o}`);
  }
  if (addrs.length !== 2)
    return { problems: [...problems, `expected 2 addresses, got ${addrs.length}: ${JSON.stringify(addrs)}`] };
  if (addrs.some((a) => a.includes('!!'))) problems.push('dual address (!!) in argv');
  const listen = parseSocatAddress(addrs[0]!);
  const expectedSocket = path.posix.join(socketDir, relay, 'socket');
  if (!LISTEN_TYPES.has(listen.type)) problems.push(`first address is ${listen.type}, not a Unix listener`);
  if (listen.params !== expectedSocket) problems.push(`socket ${listen.params} is not ${expectedSocket}`);
  if (path.posix.normalize(listen.params) !== listen.params)
    problems.push(`socket path ${listen.params} is not normalised`);
  if (!listen.options.includes('mode=0660')) problems.push('socket is not created with mode=0660');
  if (!listen.options.some((o) => /^group=\d+$/.test(o))) problems.push('socket has no group= option');
  const conn = parseSocatAddress(addrs[1]!);
  if (!CONNECT_TYPES.has(conn.type)) problems.push(`second address type ${conn.type} is not a TCP/UDP connect`);
  // Only options that cannot redirect the connection (nodelay: TCP_NODELAY; bind=, checked below) may follow the
  // target.
  const extra = conn.options.filter((o) => o !== 'nodelay' && !o.startsWith('bind='));
  const binds = conn.options.filter((o) => o.startsWith('bind='));
  if (extra.length > 0) problems.push(`target address carries options ${extra.join(',')}`);
  const m = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d+)$/.exec(conn.params);
  if (!m) return { problems: [...problems, `target ${conn.params} is not HOST:PORT`], socket: listen.params };
  const host = (m[1] ?? m[2])!;
  const port = Number(m[3]);
  if (!(port >= 1 && port <= 65535)) problems.push(`target port ${port} out of range`);
  if (!isLoopbackLiteral(host)) problems.push(`target host ${host} is not a loopback literal`);
  const v6 = host.includes(':');
  if (v6 !== /6/.test(conn.type)) problems.push(`address family of ${conn.type} does not match host ${host}`);
  const loopbackBind = v6 ? 'bind=[::1]' : 'bind=127.0.0.1';
  for (const b of binds)
    if (b !== loopbackBind)
      problems.push(`target address binds ${b.slice('bind='.length)}, not ${loopbackBind.slice('bind='.length)}`);
  if (conn.type.startsWith('UDP') && binds.length !== 1)
    problems.push(`UDP target without ${loopbackBind}: the kernel would bind it to the wildcard address`);
  return { problems, target: { host, port }, socket: listen.params };
}

// ---- Kubernetes API validation rules we can check without an API server ----

const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

export function isDns1123Label(s: unknown): boolean {
  return typeof s === 'string' && s.length <= 63 && DNS1123_LABEL.test(s);
}

const isObj: (v: unknown) => v is Record<string, unknown> = isObject;
const list = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);

/**
 * The pod rules of the API server's validation that the injector can break: container names unique
 * across initContainers + containers and DNS-1123 labels; volume names unique and DNS-1123 labels;
 * every volumeMount naming an existing volume, mount paths unique per container; container ports
 * 1-65535; restartPolicy on init containers only, and only `Always`.
 */
export function podRuleViolations(pod: unknown): string[] {
  const out: string[] = [];
  if (!isObj(pod) || !isObj(pod.spec)) return out;
  const spec = pod.spec;
  const volumes = list(spec.volumes);
  const volNames = new Set<string>();
  for (const v of volumes) {
    const n = isObj(v) ? v.name : undefined;
    if (!isDns1123Label(n)) out.push(`volume name ${JSON.stringify(n)} is not a DNS-1123 label`);
    else if (volNames.has(n as string)) out.push(`duplicate volume name ${n as string}`);
    else volNames.add(n as string);
  }
  const names = new Set<string>();
  const groups: [string, unknown[]][] = [
    ['initContainers', list(spec.initContainers)],
    ['containers', list(spec.containers)],
  ];
  for (const [field, cs] of groups) {
    for (const c of cs) {
      if (!isObj(c)) {
        out.push(`${field}: an entry is not an object`);
        continue;
      }
      if (!isDns1123Label(c.name))
        out.push(`${field}: container name ${JSON.stringify(c.name)} is not a DNS-1123 label`);
      else if (names.has(c.name as string)) out.push(`duplicate container name ${c.name as string}`);
      else names.add(c.name as string);
      for (const p of list(c.ports)) {
        const cp = isObj(p) ? p.containerPort : undefined;
        if (typeof cp !== 'number' || !Number.isInteger(cp) || cp < 1 || cp > 65535)
          out.push(`${c.name as string}: containerPort ${JSON.stringify(cp)} out of 1-65535`);
      }
      const paths = new Set<string>();
      for (const m of list(c.volumeMounts)) {
        if (!isObj(m)) continue;
        if (typeof m.name !== 'string' || !volNames.has(m.name))
          out.push(`${c.name as string}: volumeMount ${JSON.stringify(m.name)} names no volume`);
        if (typeof m.mountPath === 'string') {
          if (paths.has(m.mountPath)) out.push(`${c.name as string}: duplicate mountPath ${m.mountPath}`);
          paths.add(m.mountPath);
        }
      }
      if (c.restartPolicy !== undefined && (field !== 'initContainers' || c.restartPolicy !== 'Always')) {
        out.push(`${field}: container ${c.name as string} has restartPolicy ${JSON.stringify(c.restartPolicy)}`);
      }
    }
  }
  return out;
}

/** An IPv6 spelling of ::1 made only of hex groups and at most one `::` (no embedded IPv4, zone or brackets). */
export function isIPv6LoopbackSpelling(s: string): boolean {
  if (!/^[0-9a-fA-F:]+$/.test(s) || s.split('::').length > 2) return false;
  const [head = '', tail] = s.split('::');
  const left = head === '' ? [] : head.split(':');
  const right = tail === undefined || tail === '' ? [] : tail.split(':');
  if ([...left, ...right].some((g) => g.length === 0 || g.length > 4)) return false;
  const groups =
    tail === undefined
      ? left
      : [...left, ...new Array<string>(Math.max(0, 8 - left.length - right.length)).fill('0'), ...right];
  if (groups.length !== 8 || (tail !== undefined && left.length + right.length > 7)) return false;
  return groups.every((g, i) => parseInt(g, 16) === (i === 7 ? 1 : 0));
}
