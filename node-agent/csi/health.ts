// The plugin's liveness check, done the way the Kubernetes CSI ecosystem does it (the
// kubernetes-csi/livenessprobe sidecar: an HTTP /healthz that calls the plugin's CSI Identity.Probe
// over the plugin's own socket) but in the plugin's process, so no extra image. Each check dials the
// socket afresh: a connection kept open would still answer after the socket file was deleted, while
// the kubelet, which dials the path, could no longer reach the plugin. One Probe at a time: a check
// asked for while one runs gets that one's answer, so a flood of requests makes one gRPC call.
import { credentials, status, type ServiceError } from '@grpc/grpc-js';
import type { Logger } from '../../lib/log.js';
import type { IdentityClient } from './generated/csi/v1/Identity.js';
import type { ProbeResponse__Output } from './generated/csi/v1/ProbeResponse.js';
import { loadServices } from './proto.js';

/** How long a Probe may take before the plugin counts as wedged (the pod's probe timeout must exceed it). */
export const DEFAULT_PROBE_TIMEOUT_MS = 2000;

/** A Probe's outcome: the gRPC error, or the decoded response (`ready` is a google.protobuf.BoolValue). */
export type ProbeOutcome =
  { error: Pick<ServiceError, 'code' | 'details'> } | { response: ProbeResponse__Output | undefined };

/**
 * Pure: null when the outcome means "alive and ready", else why not. As in the CSI spec and
 * csi-lib-utils, a response without `ready` means ready; a `ready` whose value is not true (false is
 * proto3's default and arrives as an empty BoolValue) means not ready.
 */
export function probeVerdict(socket: string, outcome: ProbeOutcome): string | null {
  if ('error' in outcome) {
    const code = status[outcome.error.code] ?? `code ${outcome.error.code}`;
    return `CSI Probe over unix:${socket} failed: ${code}: ${outcome.error.details || '(no details)'}`;
  }
  const ready = outcome.response?.ready;
  if (ready !== undefined && ready.value !== true)
    return `CSI Probe over unix:${socket}: the plugin answered not ready`;
  return null;
}

export interface CsiHealthOptions {
  /** The plugin's CSI socket: the path it announced to the kubelet. */
  socket: string;
  timeoutMs?: number;
  /** Told when the verdict changes (healthy ↔ the reason). */
  log?: Logger;
}

export class CsiHealth {
  private inflight?: Promise<string | null>;
  private last: string | null | undefined;

  constructor(private readonly opts: CsiHealthOptions) {}

  /** null when the plugin answers Probe ready within the deadline, else why not. Never rejects. */
  check(): Promise<string | null> {
    this.inflight ??= this.probe().then((verdict) => {
      this.inflight = undefined;
      this.report(verdict);
      return verdict;
    });
    return this.inflight;
  }

  private probe(): Promise<string | null> {
    const { socket } = this.opts;
    const deadline = Date.now() + (this.opts.timeoutMs ?? DEFAULT_PROBE_TIMEOUT_MS);
    return new Promise((resolve) => {
      let client: IdentityClient | undefined;
      try {
        const { Identity } = loadServices();
        // Its own connection (not grpc-js's shared pool, which could hand back an open one) and a small
        // answer: a Probe response is a few bytes.
        client = new Identity(`unix:${socket}`, credentials.createInsecure(), {
          'grpc.use_local_subchannel_pool': 1,
          'grpc.max_receive_message_length': 4096,
        });
        const c = client;
        c.Probe({}, { deadline }, (error, response) => {
          c.close();
          resolve(probeVerdict(socket, error ? { error } : { response }));
        });
      } catch (e) {
        client?.close();
        resolve(`CSI Probe over unix:${socket} could not be sent: ${(e as Error)?.message ?? String(e)}`);
      }
    });
  }

  private report(verdict: string | null): void {
    if (verdict === this.last) return;
    const first = this.last === undefined;
    this.last = verdict;
    if (verdict) this.opts.log?.warn({ reason: verdict }, 'health check: unhealthy');
    else if (!first) this.opts.log?.info('health check: healthy again');
  }
}
