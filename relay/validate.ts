// The one validation of a Relay, shared by the validating webhook, `socat-relay validate`, the
// reconcile and the node agent. It takes untrusted input (parsed JSON/YAML of any shape) and returns
// every problem, each naming its field, plus warnings for what is legal but likely wrong.
//
// Two layers. The structure (types, required fields, enums, ranges, lengths, patterns, unknown fields)
// comes from the CRD's schema, walked by relay/structure.ts: nothing of it is written here. This file
// holds what a schema cannot say: apiVersion/kind/metadata (the relay name must become a socket folder
// and a container name), loopback-only targets and bindable listen addresses (relay/loopback.ts), the
// low-port and wide-open warnings, label keys, selector operator/values coherence, udp only with UDP,
// replyTimeoutSeconds only with RequestReply, allowed resource names, duplicate namespaces; then it
// applies the defaults (ResolvedRelay). A semantic check never looks at a field that already failed
// its structure (or sits in one that did), so each field gets at most one problem.
import {
  API_VERSION,
  KIND,
  type LabelSelector,
  type LabelSelectorRequirement,
  type Relay,
  type RelaySpec,
  type ResolvedRelay,
} from './types.js';
import { DEFAULT_REPLY_TIMEOUT_SECONDS, MAX_RELAY_NAME } from './constants.js';
import { checkListenAddress, checkTargetHost, shown } from './loopback.js';
import { isObject } from '../lib/object.js';
import { joinFirst } from '../lib/text.js';
import { RELAY_SPEC_SCHEMA } from './schema.generated.js';
import {
  checkStructure,
  describe,
  inFieldOrder,
  specSchema,
  type Problem,
  type StructuralSchema,
} from './structure.js';

export type { Problem };

export interface ValidationResult {
  problems: Problem[];
  warnings: string[];
  /** Present when there are no problems: the relay with every default applied. */
  resolved?: ResolvedRelay;
}

export interface ValidateOptions {
  /** The spec's structural schema (default: the CRD's, relay/schema.generated.ts); tests pass a changed copy. */
  schema?: StructuralSchema;
}

export function formatProblem(p: Problem): string {
  return `${p.field}: ${p.message}`;
}

/** The problems as one line: the first 20, then how many more there are (a hostile file has 100 000). */
export function formatProblems(problems: readonly Problem[], separator = '; '): string {
  return joinFirst(problems, formatProblem, separator);
}

const RELAY_NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const LABEL_NAME = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const RESOURCE_NAMES = ['cpu', 'memory', 'ephemeral-storage'];
const LOW_PORT = 1024;
const LONG_REPLY_TIMEOUT = 30;

type Obj = Record<string, unknown>;

/** The problems and warnings of one validation, and which fields failed their structure. */
class Collector {
  problems: Problem[];
  warnings: string[] = [];
  private readonly failed: Set<string>;
  constructor(structural: Problem[] = []) {
    this.problems = structural.slice();
    this.failed = new Set(structural.map((p) => p.field));
  }
  bad(field: string, message: string): void {
    this.problems.push({ field, message });
  }
  warn(message: string): void {
    this.warnings.push(message);
  }
  /**
   * True when neither `field` (a path of the schema's own names and list indexes) nor a field around it
   * failed. Looks up each enclosing field (the prefixes ending before a `.` or `[`), never walks the
   * failed ones: a spec with 100 000 failed entries is checked entry by entry, so this must not grow
   * with their number.
   */
  ok(field: string): boolean {
    if (this.failed.size === 0) return true;
    if (this.failed.has(field)) return false;
    for (let i = 0; i < field.length; i++) {
      const ch = field[i];
      if ((ch === '.' || ch === '[') && this.failed.has(field.slice(0, i))) return false;
    }
    return true;
  }
  /** The same for the entry `key` of the map at `field` (a key may hold dots: only that exact entry counts). */
  okEntry(field: string, key: string): boolean {
    return this.ok(field) && !this.failed.has(`${field}.${shown(key, 320)}`);
  }
}

export function isLabelKey(k: string): boolean {
  const parts = k.split('/');
  if (parts.length > 2) return false;
  const name = parts.length === 2 ? parts[1]! : parts[0]!;
  if (parts.length === 2) {
    const prefix = parts[0]!;
    if (prefix.length === 0 || prefix.length > 253 || !DNS_SUBDOMAIN.test(prefix)) return false;
  }
  return name.length > 0 && name.length <= 63 && LABEL_NAME.test(name);
}

export function isRelayName(name: string): boolean {
  return name.length <= MAX_RELAY_NAME && RELAY_NAME.test(name);
}

/**
 * A Relay's metadata.uid as the node uses it: one folder name under the relay's folder
 * (`<socketDir>/<relay>/<uid>`), so lowercase letters, digits and '-' only, starting and ending with a
 * letter or digit, at most 63 characters (the API server's uids are lowercase UUIDs, 36 characters).
 */
export function isRelayUid(uid: string): boolean {
  return uid.length <= 63 && RELAY_NAME.test(uid);
}

const NAMESPACE_NAME_SCHEMA = specSchema('consumers.namespaces[]');

/** A namespace name as the CRD accepts one in spec.consumers.namespaces (its pattern and length). */
export function isNamespaceName(name: string): boolean {
  return checkStructure(NAMESPACE_NAME_SCHEMA, name, 'namespace').length === 0;
}

/** apiVersion, kind and metadata (outside the spec's schema); the relay's name ('' when unusable) and uid. */
function checkHeader(c: Collector, relay: Obj): { name: string; uid?: string } {
  if (relay.apiVersion !== API_VERSION)
    c.bad('apiVersion', `must be ${API_VERSION}, got ${describe(relay.apiVersion)}`);
  if (relay.kind !== KIND) c.bad('kind', `must be ${KIND}, got ${describe(relay.kind)}`);
  const meta = relay.metadata;
  if (meta === undefined || meta === null) c.bad('metadata', 'required');
  else if (!isObject(meta)) c.bad('metadata', `must be an object, got ${describe(meta)}`);
  if (!isObject(meta)) return { name: '' };
  let name = '';
  if (typeof meta.name !== 'string' || meta.name === '') c.bad('metadata.name', 'required');
  else if (isRelayName(meta.name)) name = meta.name;
  else
    c.bad(
      'metadata.name',
      `"${shown(meta.name)}" cannot become a socket folder and container name: use lowercase letters, digits and '-', start and end with a letter or digit, at most ${MAX_RELAY_NAME} characters`,
    );
  if (meta.namespace !== undefined && meta.namespace !== '')
    c.bad('metadata.namespace', 'Relay is cluster-scoped: remove the namespace');
  // The uid names the relay's folder on the node (a Relay re-created under the same name is another
  // relay); absent or '' in a hand-written node file, which keeps the folder <socketDir>/<relay>.
  if (meta.uid === undefined || meta.uid === null || meta.uid === '') return { name };
  if (typeof meta.uid === 'string' && isRelayUid(meta.uid)) return { name, uid: meta.uid };
  c.bad(
    'metadata.uid',
    `${typeof meta.uid === 'string' ? `"${shown(meta.uid)}"` : describe(meta.uid)} cannot become a folder name: use lowercase letters, digits and '-' (a Kubernetes uid), at most 63 characters`,
  );
  return { name };
}

/** spec.target.host: loopback only (the security rule, relay/loopback.ts); its normalised IP. */
function checkTarget(c: Collector, spec: RelaySpec): string | undefined {
  if (!c.ok('spec.target.host')) return undefined;
  const h = checkTargetHost(spec.target.host);
  if (h.ok) return h.ip;
  c.bad('spec.target.host', h.reason);
  return undefined;
}

/** spec.listen: a bindable address (loopback by default, wildcard warned); a port below 1024 is warned. */
function checkListen(c: Collector, spec: RelaySpec): string {
  let ip = '127.0.0.1';
  const listen = c.ok('spec.listen') ? spec.listen : undefined;
  if (listen?.address != null && c.ok('spec.listen.address')) {
    const l = checkListenAddress(listen.address);
    if (!l.ok) c.bad('spec.listen.address', l.reason);
    else {
      ip = l.ip;
      if (l.wildcard)
        c.warn(`spec.listen.address ${l.ip} exposes the relay to the whole pod network, not only the pod`);
    }
  }
  const port =
    listen?.port != null
      ? c.ok('spec.listen.port')
        ? listen.port
        : undefined
      : c.ok('spec.target.port')
        ? spec.target.port
        : undefined;
  if (port !== undefined && port < LOW_PORT) {
    c.warn(
      `spec.listen.port ${port} < ${LOW_PORT}: the non-root sidecar needs net.ipv4.ip_unprivileged_port_start <= ${port} in the pod`,
    );
  }
  return ip;
}

/** spec.udp: only with protocol UDP; replyTimeoutSeconds only with mode RequestReply (long ones warned). */
function checkUdp(c: Collector, spec: RelaySpec): void {
  const udp = spec.udp;
  if (udp == null || !c.ok('spec.udp')) return;
  if (c.ok('spec.protocol') && (spec.protocol ?? 'TCP') !== 'UDP') c.bad('spec.udp', 'only allowed with protocol UDP');
  const t = udp.replyTimeoutSeconds;
  if (t == null || !c.ok('spec.udp.replyTimeoutSeconds') || !c.ok('spec.udp.mode')) return;
  if ((udp.mode ?? 'OneWay') !== 'RequestReply')
    c.bad('spec.udp.replyTimeoutSeconds', 'only allowed with udp.mode RequestReply');
  else if (t > LONG_REPLY_TIMEOUT)
    c.warn(`spec.udp.replyTimeoutSeconds ${t}: every query keeps two socat processes alive that long`);
}

/** The keys of a label map (nodeSelector, matchLabels): the schema checks the values, not the keys. */
function checkLabelKeys(c: Collector, map: Record<string, unknown> | undefined | null, field: string): void {
  if (map == null || !c.ok(field)) return;
  for (const k of Object.keys(map))
    if (c.okEntry(field, k) && !isLabelKey(k)) c.bad(`${field}.${shown(k, 320)}`, 'not a valid label key');
}

/** One matchExpressions entry: a label key, and values exactly when the operator needs them. */
function checkRequirement(c: Collector, e: LabelSelectorRequirement, at: string): void {
  if (!c.ok(at)) return;
  if (c.ok(`${at}.key`) && !isLabelKey(e.key)) c.bad(`${at}.key`, `"${shown(e.key)}" is not a valid label key`);
  if (!c.ok(`${at}.operator`) || !c.ok(`${at}.values`)) return;
  const values = e.values ?? [];
  const needsValues = e.operator === 'In' || e.operator === 'NotIn';
  if (needsValues && values.length === 0) c.bad(`${at}.values`, `required and non-empty for operator ${e.operator}`);
  if (!needsValues && values.length > 0) c.bad(`${at}.values`, `must be empty for operator ${e.operator}`);
}

function checkSelector(c: Collector, sel: LabelSelector, field: string): void {
  if (!c.ok(field)) return;
  checkLabelKeys(c, sel.matchLabels, `${field}.matchLabels`);
  if (sel.matchExpressions != null && c.ok(`${field}.matchExpressions`)) {
    sel.matchExpressions.forEach((e, i) => checkRequirement(c, e, `${field}.matchExpressions[${i}]`));
  }
  if (Object.keys(sel.matchLabels ?? {}).length === 0 && (sel.matchExpressions ?? []).length === 0) {
    c.warn(`${field} {} opens this relay to every namespace`);
  }
}

/** spec.consumers: namespaces and/or a namespaceSelector (opening a relay is explicit), no namespace twice. */
function checkConsumers(c: Collector, spec: RelaySpec): void {
  if (!c.ok('spec.consumers')) return;
  const { namespaces, namespaceSelector } = spec.consumers;
  if (namespaces == null && namespaceSelector == null) {
    c.bad(
      'spec.consumers',
      'set namespaces and/or namespaceSelector (namespaceSelector: {} opens the relay to every namespace)',
    );
  }
  if (namespaces != null && c.ok('spec.consumers.namespaces')) {
    const seen = new Set<string>();
    namespaces.forEach((ns, i) => {
      const at = `spec.consumers.namespaces[${i}]`;
      if (!c.ok(at)) return;
      if (seen.has(ns)) c.bad(at, `duplicate namespace "${ns}"`);
      seen.add(ns);
    });
  }
  if (namespaceSelector != null) checkSelector(c, namespaceSelector, 'spec.consumers.namespaceSelector');
}

/** spec.sidecar.resources: only cpu, memory and ephemeral-storage (the schema checks the quantities). */
function checkResources(c: Collector, spec: RelaySpec): void {
  const res = c.ok('spec.sidecar.resources') ? spec.sidecar?.resources : undefined;
  for (const kind of ['requests', 'limits'] as const) {
    const field = `spec.sidecar.resources.${kind}`;
    const m = res?.[kind];
    if (m == null || !c.ok(field)) continue;
    for (const k of Object.keys(m)) {
      if (!RESOURCE_NAMES.includes(k) && c.okEntry(field, k))
        c.bad(`${field}.${shown(k, 320)}`, `unknown resource (allowed: ${RESOURCE_NAMES.join(', ')})`);
    }
  }
}

/** A copy of a string map (own entries only, `__proto__` included as a plain key). */
function copyMap<T>(m: Record<string, T> | undefined | null, as: (v: T) => string): Record<string, string> {
  return Object.fromEntries(Object.entries(m ?? {}).map(([k, v]) => [k, as(v)]));
}

function resolveSelector(sel: LabelSelector): LabelSelector {
  return {
    ...(sel.matchLabels != null ? { matchLabels: copyMap(sel.matchLabels, String) } : {}),
    ...(sel.matchExpressions != null
      ? {
          matchExpressions: sel.matchExpressions.map((e) => ({
            key: e.key,
            operator: e.operator,
            ...(e.values != null ? { values: [...e.values] } : {}),
          })),
        }
      : {}),
  };
}

function resolveResources(spec: RelaySpec): ResolvedRelay['resources'] {
  const res = spec.sidecar?.resources;
  if (res == null) return undefined;
  const out: NonNullable<ResolvedRelay['resources']> = {};
  if (res.requests != null) out.requests = copyMap(res.requests, String);
  if (res.limits != null) out.limits = copyMap(res.limits, String);
  return out;
}

/**
 * The port consumer pods reach a relay on: spec.listen.port, else spec.target.port. Read from a spec
 * that may not be valid (a status writer reports what it can); undefined when neither is a port.
 */
export function effectiveListenPort(spec: unknown): number | undefined {
  const s = spec as { listen?: { port?: unknown } | null; target?: { port?: unknown } | null } | null | undefined;
  const port = s?.listen?.port ?? s?.target?.port;
  return Number.isInteger(port) && (port as number) >= 1 && (port as number) <= 65535 ? (port as number) : undefined;
}

/** A valid spec with every default applied (a declared field set to null counts as absent). */
function resolve(name: string, spec: RelaySpec, targetHost: string, listenAddress: string): ResolvedRelay {
  const { target, udp, consumers } = spec;
  const resources = resolveResources(spec);
  return {
    name,
    protocol: spec.protocol ?? 'TCP',
    targetHost,
    targetPort: target.port,
    listenAddress,
    listenPort: effectiveListenPort(spec) ?? target.port,
    udpMode: udp?.mode ?? 'OneWay',
    replyTimeoutSeconds: udp?.replyTimeoutSeconds ?? DEFAULT_REPLY_TIMEOUT_SECONDS,
    nodeSelector: copyMap(spec.nodeSelector, String),
    consumers: {
      namespaces: [...(consumers.namespaces ?? [])],
      ...(consumers.namespaceSelector != null
        ? { namespaceSelector: resolveSelector(consumers.namespaceSelector) }
        : {}),
    },
    ...(resources ? { resources } : {}),
  };
}

/**
 * Every problem with the field it concerns (in the document's order), the warnings, and the resolved relay when
 * there is no problem.
 */
export function validateRelay(input: unknown, options: ValidateOptions = {}): ValidationResult {
  const schema = options.schema ?? RELAY_SPEC_SCHEMA;
  if (!isObject(input)) {
    return {
      problems: [
        { field: '(relay)', message: input == null ? 'required' : `must be an object, got ${describe(input)}` },
      ],
      warnings: [],
    };
  }
  const head = new Collector();
  const { name, uid } = checkHeader(head, input);
  const c = new Collector(checkStructure(schema, input.spec, 'spec'));
  let target: string | undefined;
  let listen = '';
  if (c.ok('spec')) {
    const spec = input.spec as RelaySpec;
    target = checkTarget(c, spec);
    listen = checkListen(c, spec);
    checkUdp(c, spec);
    checkLabelKeys(c, spec.nodeSelector, 'spec.nodeSelector');
    checkConsumers(c, spec);
    checkResources(c, spec);
  }
  const problems = [...head.problems, ...inFieldOrder(c.problems, schema, 'spec')];
  const warnings = [...head.warnings, ...c.warnings];
  if (problems.length > 0 || target === undefined) return { problems, warnings };
  const resolved = resolve(name, input.spec as RelaySpec, target, listen);
  return { problems, warnings, resolved: uid !== undefined ? { ...resolved, uid } : resolved };
}

/** Validates and returns the resolved relay, or throws InvalidRelayError listing every problem. */
export function resolveRelay(input: unknown): ResolvedRelay {
  const r = validateRelay(input);
  if (!r.resolved) throw new InvalidRelayError(r.problems);
  return r.resolved;
}

class InvalidRelayError extends Error {
  constructor(readonly problems: Problem[]) {
    super(formatProblems(problems));
    this.name = 'InvalidRelayError';
  }
}

export type { Relay };
