// The one validation of a Relay, shared by the validating webhook, `socat-relay validate`, the
// reconcile and the node agent. It takes untrusted input (parsed JSON/YAML of any shape) and returns
// every problem, each naming its field, plus warnings for what is legal but likely wrong.
import {
  API_VERSION, KIND, PROTOCOLS, UDP_MODES,
  type LabelSelector, type Protocol, type Relay, type ResolvedRelay, type UdpMode,
} from './types.js';
import { DEFAULT_REPLY_TIMEOUT_SECONDS, MAX_RELAY_NAME } from './constants.js';
import { checkListenAddress, checkTargetHost, shown } from './loopback.js';
import { isObject } from '../lib/object.js';
import { specFields } from './structure.js';

export interface Problem {
  field: string;
  message: string;
}

export interface ValidationResult {
  problems: Problem[];
  warnings: string[];
  /** Present when there are no problems: the relay with every default applied. */
  resolved?: ResolvedRelay;
}

export function formatProblem(p: Problem): string {
  return `${p.field}: ${p.message}`;
}

const RELAY_NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const LABEL_NAME = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;
const QUANTITY = /^[+-]?(\d+(\.\d*)?|\.\d+)(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei|[eE][+-]?\d+)?$/;
const MAX_REPLY_TIMEOUT = 300;

// The fields each object may hold come from the CRD (relay/structure.ts): one source for the structure.
const SPEC_FIELDS = specFields('');
const TARGET_FIELDS = specFields('target');
const LISTEN_FIELDS = specFields('listen');
const UDP_FIELDS = specFields('udp');
const CONSUMER_FIELDS = specFields('consumers');
const SIDECAR_FIELDS = specFields('sidecar');
const RESOURCES_FIELDS = specFields('sidecar.resources');
const SELECTOR_FIELDS = specFields('consumers.namespaceSelector');
const EXPRESSION_FIELDS = specFields('consumers.namespaceSelector.matchExpressions[]');

type Obj = Record<string, unknown>;
const isObj: (v: unknown) => v is Obj = isObject;

class Collector {
  problems: Problem[] = [];
  warnings: string[] = [];
  bad(field: string, message: string): void {
    this.problems.push({ field, message });
  }
  warn(message: string): void {
    this.warnings.push(message);
  }
  /** Reports fields not in `known`: a typo must not silently become a default. */
  unknown(obj: Obj, known: string[], at: string): void {
    for (const k of Object.keys(obj)) if (!known.includes(k)) this.bad(`${at}.${shown(k, 320)}`, `unknown field (allowed: ${known.join(', ')})`);
  }
  object(v: unknown, field: string, required: boolean): Obj | undefined {
    if (v === undefined || v === null) {
      if (required) this.bad(field, 'required');
      return undefined;
    }
    if (!isObj(v)) {
      this.bad(field, `must be an object, got ${describe(v)}`);
      return undefined;
    }
    return v;
  }
  port(v: unknown, field: string): number | undefined {
    if (typeof v !== 'number' || !Number.isInteger(v)) {
      this.bad(field, `must be an integer port number, got ${describe(v)}`);
      return undefined;
    }
    if (v < 1 || v > 65535) {
      this.bad(field, `port ${v} is out of range 1-65535`);
      return undefined;
    }
    return v;
  }
  stringMap(v: unknown, field: string, keyRe: (k: string) => boolean, valueRe: RegExp): Record<string, string> {
    const o = this.object(v, field, false);
    const out: Record<string, string> = {};
    if (!o) return out;
    for (const [k, val] of Object.entries(o)) {
      if (!keyRe(k)) this.bad(`${field}.${shown(k, 320)}`, 'not a valid label key');
      if (typeof val !== 'string') this.bad(`${field}.${k}`, `value must be a string, got ${describe(val)}`);
      else if (!valueRe.test(val) || val.length > 63) this.bad(`${field}.${shown(k, 320)}`, `"${shown(val)}" is not a valid label value`);
      else out[k] = val;
    }
    return out;
  }
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'string') return `"${v.length > 40 ? `${v.slice(0, 40)}…` : v}"`;
  if (typeof v === 'object') return 'an object';
  return `${typeof v} ${String(v)}`;
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

function checkSelector(c: Collector, v: unknown, field: string): LabelSelector | undefined {
  const o = c.object(v, field, false);
  if (!o) return undefined;
  c.unknown(o, SELECTOR_FIELDS, field);
  const sel: LabelSelector = {};
  if (o.matchLabels !== undefined) sel.matchLabels = c.stringMap(o.matchLabels, `${field}.matchLabels`, isLabelKey, LABEL_VALUE);
  if (o.matchExpressions !== undefined) {
    if (!Array.isArray(o.matchExpressions)) {
      c.bad(`${field}.matchExpressions`, 'must be a list');
    } else {
      sel.matchExpressions = [];
      o.matchExpressions.forEach((e, i) => {
        const at = `${field}.matchExpressions[${i}]`;
        const eo = c.object(e, at, true);
        if (!eo) return;
        c.unknown(eo, EXPRESSION_FIELDS, at);
        const op = eo.operator;
        if (typeof eo.key !== 'string' || !isLabelKey(eo.key)) c.bad(`${at}.key`, 'must be a valid label key');
        if (op !== 'In' && op !== 'NotIn' && op !== 'Exists' && op !== 'DoesNotExist') {
          c.bad(`${at}.operator`, `must be In, NotIn, Exists or DoesNotExist, got ${describe(op)}`);
          return;
        }
        const values = eo.values;
        const needsValues = op === 'In' || op === 'NotIn';
        if (values !== undefined && (!Array.isArray(values) || values.some((x) => typeof x !== 'string'))) {
          c.bad(`${at}.values`, 'must be a list of strings');
          return;
        }
        if (needsValues && (!values || values.length === 0)) c.bad(`${at}.values`, `required and non-empty for operator ${op}`);
        if (!needsValues && values && values.length > 0) c.bad(`${at}.values`, `must be empty for operator ${op}`);
        sel.matchExpressions!.push({ key: String(eo.key), operator: op, ...(values ? { values: values as string[] } : {}) });
      });
    }
  }
  return sel;
}

/** apiVersion, kind and metadata; the relay's name ('' when unusable). */
function checkHeader(c: Collector, relay: Obj): string {
  if (relay.apiVersion !== API_VERSION) c.bad('apiVersion', `must be ${API_VERSION}, got ${describe(relay.apiVersion)}`);
  if (relay.kind !== KIND) c.bad('kind', `must be ${KIND}, got ${describe(relay.kind)}`);
  const meta = c.object(relay.metadata, 'metadata', true);
  let name = '';
  if (meta) {
    if (typeof meta.name !== 'string' || meta.name === '') {
      c.bad('metadata.name', 'required');
    } else if (!isRelayName(meta.name)) {
      c.bad('metadata.name', `"${shown(meta.name)}" cannot become a socket folder and container name: use lowercase letters, digits and '-', start and end with a letter or digit, at most ${MAX_RELAY_NAME} characters`);
    } else {
      name = meta.name;
    }
    if (meta.namespace !== undefined && meta.namespace !== '') c.bad('metadata.namespace', 'Relay is cluster-scoped: remove the namespace');
  }
  return name;
}

function checkProtocol(c: Collector, spec: Obj): Protocol {
  if (spec.protocol === undefined) return 'TCP';
  if (!PROTOCOLS.includes(spec.protocol as Protocol)) {
    c.bad('spec.protocol', `unknown protocol ${describe(spec.protocol)} (allowed: TCP, UDP)`);
    return 'TCP';
  }
  return spec.protocol as Protocol;
}

/** spec.target: a loopback host (the security rule, relay/loopback.ts) and a port. */
function checkTarget(c: Collector, spec: Obj): { host: string; port: number | undefined } {
  const out = { host: '', port: undefined as number | undefined };
  const target = c.object(spec.target, 'spec.target', true);
  if (!target) return out;
  c.unknown(target, TARGET_FIELDS, 'spec.target');
  if (typeof target.host !== 'string' || target.host === '') {
    c.bad('spec.target.host', target.host === undefined ? 'required' : `must be a string, got ${describe(target.host)}`);
  } else {
    const h = checkTargetHost(target.host);
    if (h.ok) out.host = h.ip;
    else c.bad('spec.target.host', h.reason);
  }
  if (target.port === undefined) c.bad('spec.target.port', 'required');
  else out.port = c.port(target.port, 'spec.target.port');
  return out;
}

/** spec.listen: the pod-side address (loopback by default) and port (the target's by default). */
function checkListen(c: Collector, spec: Obj, targetPort: number | undefined): { address: string; port: number | undefined } {
  const out = { address: '127.0.0.1', port: targetPort };
  const listen = c.object(spec.listen, 'spec.listen', false);
  if (listen) {
    c.unknown(listen, LISTEN_FIELDS, 'spec.listen');
    if (listen.port !== undefined) out.port = c.port(listen.port, 'spec.listen.port');
    if (listen.address !== undefined) {
      if (typeof listen.address !== 'string') {
        c.bad('spec.listen.address', `must be a string, got ${describe(listen.address)}`);
      } else {
        const l = checkListenAddress(listen.address);
        if (!l.ok) c.bad('spec.listen.address', l.reason);
        else {
          out.address = l.ip;
          if (l.wildcard) c.warn(`spec.listen.address ${l.ip} exposes the relay to the whole pod network, not only the pod`);
        }
      }
    }
  }
  if (out.port !== undefined && out.port < 1024) {
    c.warn(`spec.listen.port ${out.port} < 1024: the non-root sidecar needs net.ipv4.ip_unprivileged_port_start <= ${out.port} in the pod`);
  }
  return out;
}

/** spec.udp: only with protocol UDP; the mode and, for RequestReply, the reply timeout. */
function checkUdp(c: Collector, spec: Obj, protocol: Protocol): { mode: UdpMode; replyTimeoutSeconds: number } {
  const out = { mode: 'OneWay' as UdpMode, replyTimeoutSeconds: DEFAULT_REPLY_TIMEOUT_SECONDS };
  const udp = c.object(spec.udp, 'spec.udp', false);
  if (!udp) return out;
  if (protocol !== 'UDP') c.bad('spec.udp', 'only allowed with protocol UDP');
  c.unknown(udp, UDP_FIELDS, 'spec.udp');
  if (udp.mode !== undefined) {
    if (!UDP_MODES.includes(udp.mode as UdpMode)) c.bad('spec.udp.mode', `unknown mode ${describe(udp.mode)} (allowed: OneWay, RequestReply)`);
    else out.mode = udp.mode as UdpMode;
  }
  if (udp.replyTimeoutSeconds !== undefined) {
    const t = udp.replyTimeoutSeconds;
    if (typeof t !== 'number' || !Number.isInteger(t) || t < 1 || t > MAX_REPLY_TIMEOUT) {
      c.bad('spec.udp.replyTimeoutSeconds', `must be an integer from 1 to ${MAX_REPLY_TIMEOUT}, got ${describe(t)}`);
    } else if (out.mode !== 'RequestReply') {
      c.bad('spec.udp.replyTimeoutSeconds', 'only allowed with udp.mode RequestReply');
    } else {
      out.replyTimeoutSeconds = t;
      if (t > 30) c.warn(`spec.udp.replyTimeoutSeconds ${t}: every query keeps two socat processes alive that long`);
    }
  }
  return out;
}

/** spec.consumers: namespace names and/or a namespaceSelector (required: opening a relay is explicit). */
function checkConsumers(c: Collector, spec: Obj): ResolvedRelay['consumers'] {
  const out: ResolvedRelay['consumers'] = { namespaces: [] };
  const consumers = c.object(spec.consumers, 'spec.consumers', true);
  if (!consumers) return out;
  c.unknown(consumers, CONSUMER_FIELDS, 'spec.consumers');
  if (consumers.namespaces === undefined && consumers.namespaceSelector === undefined) {
    c.bad('spec.consumers', 'set namespaces and/or namespaceSelector (namespaceSelector: {} opens the relay to every namespace)');
  }
  if (consumers.namespaces !== undefined) {
    if (!Array.isArray(consumers.namespaces)) {
      c.bad('spec.consumers.namespaces', 'must be a list of namespace names');
    } else {
      const seen = new Set<string>();
      consumers.namespaces.forEach((ns, i) => {
        const at = `spec.consumers.namespaces[${i}]`;
        if (typeof ns !== 'string' || !DNS_LABEL.test(ns) || ns.length > 63) c.bad(at, `${describe(ns)} is not a valid namespace name`);
        else if (seen.has(ns)) c.bad(at, `duplicate namespace "${ns}"`);
        else seen.add(ns);
      });
      out.namespaces = [...seen];
    }
  }
  const sel = checkSelector(c, consumers.namespaceSelector, 'spec.consumers.namespaceSelector');
  if (sel) {
    out.namespaceSelector = sel;
    if (Object.keys(sel.matchLabels ?? {}).length === 0 && (sel.matchExpressions ?? []).length === 0) {
      c.warn('spec.consumers.namespaceSelector {} opens this relay to every namespace');
    }
  }
  return out;
}

/** spec.sidecar.resources: requests and limits of cpu, memory, ephemeral-storage as quantities. */
function checkSidecar(c: Collector, spec: Obj): ResolvedRelay['resources'] {
  const sidecar = c.object(spec.sidecar, 'spec.sidecar', false);
  if (!sidecar) return undefined;
  c.unknown(sidecar, SIDECAR_FIELDS, 'spec.sidecar');
  const res = c.object(sidecar.resources, 'spec.sidecar.resources', false);
  if (!res) return undefined;
  c.unknown(res, RESOURCES_FIELDS, 'spec.sidecar.resources');
  const resources: NonNullable<ResolvedRelay['resources']> = {};
  for (const kind of ['requests', 'limits'] as const) {
    const m = c.object(res[kind], `spec.sidecar.resources.${kind}`, false);
    if (!m) continue;
    const out: Record<string, string> = {};
    for (const [k, q] of Object.entries(m)) {
      const at = `spec.sidecar.resources.${kind}.${k}`;
      if (k !== 'cpu' && k !== 'memory' && k !== 'ephemeral-storage') c.bad(at, 'unknown resource (allowed: cpu, memory, ephemeral-storage)');
      else if ((typeof q !== 'string' && typeof q !== 'number') || !QUANTITY.test(String(q))) c.bad(at, `${describe(q)} is not a quantity`);
      else out[k] = String(q);
    }
    resources[kind] = out;
  }
  return resources;
}

/** Every problem with the field it concerns, the warnings, and the resolved relay when there is no problem. */
export function validateRelay(input: unknown): ValidationResult {
  const c = new Collector();
  const relay = c.object(input, '(relay)', true);
  if (!relay) return { problems: c.problems, warnings: c.warnings };
  const name = checkHeader(c, relay);
  const spec = c.object(relay.spec, 'spec', true);
  if (!spec) return { problems: c.problems, warnings: c.warnings };
  c.unknown(spec, SPEC_FIELDS, 'spec');
  const protocol = checkProtocol(c, spec);
  const target = checkTarget(c, spec);
  const listen = checkListen(c, spec, target.port);
  const udp = checkUdp(c, spec, protocol);
  const nodeSelector = c.stringMap(spec.nodeSelector, 'spec.nodeSelector', isLabelKey, LABEL_VALUE);
  const consumers = checkConsumers(c, spec);
  const resources = checkSidecar(c, spec);
  if (c.problems.length > 0 || target.port === undefined || listen.port === undefined) {
    return { problems: c.problems, warnings: c.warnings };
  }
  const resolved: ResolvedRelay = {
    name, protocol, targetHost: target.host, targetPort: target.port, listenAddress: listen.address, listenPort: listen.port,
    udpMode: udp.mode, replyTimeoutSeconds: udp.replyTimeoutSeconds, nodeSelector, consumers, ...(resources ? { resources } : {}),
  };
  return { problems: [], warnings: c.warnings, resolved };
}

/** Validates and returns the resolved relay, or throws InvalidRelayError listing every problem. */
export function resolveRelay(input: unknown): ResolvedRelay {
  const r = validateRelay(input);
  if (!r.resolved) throw new InvalidRelayError(r.problems);
  return r.resolved;
}

export class InvalidRelayError extends Error {
  constructor(readonly problems: Problem[]) {
    super(problems.map(formatProblem).join('; '));
    this.name = 'InvalidRelayError';
  }
}

export type { Relay };
