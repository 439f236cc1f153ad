// The socat command lines of both halves of a relay. The node agent runs nodeArgv; the injector puts
// sidecarArgv into the pod. They are built here, side by side, so the two halves can never disagree
// on a socket path, a buffer size or a UDP mode.
import {
  DEFAULT_SOCKET_GID,
  LISTEN_BACKLOG,
  POD_SOCKET_DIR,
  TCP_BUFFER,
  TCP_HALF_CLOSE_SECONDS,
  UDP_BUFFER,
  UDP_RCVBUF,
} from './constants.js';
import { socketPath } from './names.js';
import type { ResolvedRelay } from './types.js';

export interface NodeSideOptions {
  /** Root of the relay folders on the node (default /run/socat-relay). */
  socketDir: string;
  /** Group owning the socket (mode 0660): the sidecar's group. */
  socketGid?: number;
  /** Adds `-d -d` so socat logs every accepted connection (the agent counts them). */
  logConnections?: boolean;
  /**
   * The socket to listen on instead of the relay's own (`<socketDir>/<relay>[/<uid>]/socket`): the
   * socket of one CSI volume (node-contract/volumes.ts), which the agent closes when that pod's right goes.
   */
  socket?: string;
}

export interface PodSideOptions {
  /** Where the relay folders are mounted in the pod (default /run/socat-relay). */
  socketDir?: string;
}

const SAFE_PATH = /^\/[A-Za-z0-9._/-]*$/;

function checkedSocket(root: string, relay: string, uid?: string, explicit?: string): string {
  const p = explicit ?? socketPath(root, relay, uid);
  // socat splits addresses on ':' and ',' and treats '!!' specially: only plain paths may reach it.
  if (!SAFE_PATH.test(p))
    throw new Error(
      `socket path ${JSON.stringify(p)} holds characters socat cannot take (allowed: A-Z a-z 0-9 . _ / -)`,
    );
  return p;
}

function ipAddress(family: 'TCP' | 'UDP', ip: string): string {
  return ip.includes(':') ? `${family}6` : `${family}4`;
}

/**
 * TCP_NODELAY on every TCP socket socat opens (the sidecar's listener and the node side's connection).
 * Without it the relay adds ~40 ms whenever one side answers in two small writes: socat relays them as
 * two small segments, Nagle holds the second until the first is acknowledged, and the peer delays that
 * ACK (40 ms on Linux) because it is still waiting for the rest. Go's TLS and HTTP servers (every
 * Kubernetes component) and clients (Prometheus) write a handshake and a response in several pieces, so
 * a fresh TLS scrape of kube-scheduler took 59 ms instead of 10 ms. socat carries bytes as it reads
 * them, so there is nothing for Nagle to coalesce that the endpoints did not already decide to send.
 */
const NODELAY = 'nodelay';

function bracket(ip: string): string {
  return ip.includes(':') ? `[${ip}]` : ip;
}

/**
 * The node side's own address: the loopback address of the target's family. The agent runs in the
 * node's network namespace (hostNetwork), so a UDP socket that socat leaves unbound is bound by the
 * kernel at its first send to 0.0.0.0:<ephemeral> (or [::]) — a port open on every address of the
 * node. Every UDP address of the node side therefore binds explicitly.
 *
 * TCP does not: its socket is connected to a loopback target, and the kernel gives a connection to
 * 127.0.0.0/8 the source 127.0.0.1 (to ::1, ::1) when it connects. An explicit bind= before connect
 * would choose the port at bind() time, without the destination: ports still in TIME_WAIT are then
 * unusable (the loopback TIME_WAIT reuse of net.ipv4.tcp_tw_reuse=2 applies only to connect()), and a
 * busy relay runs out of ports — 32 000 short connections in a row: 0 failures in 7 s without bind,
 * EADDRINUSE from the 14 600th and 66 s with it. test/host/security/node-addresses.test.ts checks with real
 * socat that no socket of the node side, TCP or UDP, is bound off loopback.
 */
function loopbackOf(ip: string): string {
  return ip.includes(':') ? '[::1]' : '127.0.0.1';
}

/** Node side: listens on the relay's Unix socket and connects to the loopback target. */
export function nodeArgv(r: ResolvedRelay, opts: NodeSideOptions): string[] {
  const sock = checkedSocket(opts.socketDir, r.name, r.uid, opts.socket);
  const gid = opts.socketGid ?? DEFAULT_SOCKET_GID;
  const perms = `unlink-early,mode=0660,group=${gid}`;
  const target = `${bracket(r.targetHost)}:${r.targetPort}`;
  const debug = opts.logConnections ? ['-d', '-d'] : [];
  if (r.protocol === 'TCP') {
    return [
      ...debug,
      `-t${TCP_HALF_CLOSE_SECONDS}`,
      `-b${TCP_BUFFER}`,
      `UNIX-LISTEN:${sock},fork,${perms},backlog=${LISTEN_BACKLOG}`,
      `${ipAddress('TCP', r.targetHost)}:${target},${NODELAY}`,
    ];
  }
  if (r.udpMode === 'OneWay') {
    return [
      ...debug,
      `-b${UDP_BUFFER}`,
      '-u',
      `UNIX-RECV:${sock},${perms},rcvbuf=${UDP_RCVBUF}`,
      `${ipAddress('UDP', r.targetHost)}-SENDTO:${target},bind=${loopbackOf(r.targetHost)}`,
    ];
  }
  return [
    ...debug,
    `-t${r.replyTimeoutSeconds}`,
    `-b${UDP_BUFFER}`,
    `UNIX-LISTEN:${sock},fork,${perms},backlog=${LISTEN_BACKLOG}`,
    `${ipAddress('UDP', r.targetHost)}:${target},bind=${loopbackOf(r.targetHost)}`,
  ];
}

/** Pod side (the injected sidecar): listens on listen.address:listen.port and connects to the socket. */
export function sidecarArgv(r: ResolvedRelay, opts: PodSideOptions = {}): string[] {
  const sock = checkedSocket(opts.socketDir ?? POD_SOCKET_DIR, r.name);
  const bind = `bind=${bracket(r.listenAddress)}`;
  if (r.protocol === 'TCP') {
    return [
      `-t${TCP_HALF_CLOSE_SECONDS}`,
      `-b${TCP_BUFFER}`,
      `${ipAddress('TCP', r.listenAddress)}-LISTEN:${r.listenPort},${bind},fork,reuseaddr,backlog=${LISTEN_BACKLOG},${NODELAY}`,
      `UNIX-CONNECT:${sock}`,
    ];
  }
  if (r.udpMode === 'OneWay') {
    return [
      `-b${UDP_BUFFER}`,
      '-u',
      `${ipAddress('UDP', r.listenAddress)}-RECV:${r.listenPort},${bind},rcvbuf=${UDP_RCVBUF}`,
      `UNIX-SENDTO:${sock}`,
    ];
  }
  return [
    `-t${r.replyTimeoutSeconds}`,
    `-b${UDP_BUFFER}`,
    `${ipAddress('UDP', r.listenAddress)}-RECVFROM:${r.listenPort},${bind},fork`,
    `UNIX-CONNECT:${sock}`,
  ];
}
