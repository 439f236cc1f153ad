// Names, paths and defaults that every part must agree on: the controller, the agent and the injected sidecar.

/** Pod label that opts a pod in; its value names one relay. */
export const CONSUME_LABEL = 'socat.io/consume';
/** Pod annotation that may list more relays, comma-separated. */
export const CONSUME_ANNOTATION = 'socat.io/consume';
/** Marker annotation written by the injector: the relays it injected, comma-separated, sorted. */
export const INJECTED_ANNOTATION = 'socat.io/injected';

export const DEFAULT_CONFIG_DIR = '/etc/socat-relay/relays.d';
export const DEFAULT_SOCKET_DIR = '/run/socat-relay';
/** Where the relay folders are mounted inside a consumer pod (same path as on the node by default). */
export const POD_SOCKET_DIR = '/run/socat-relay';
export const SOCKET_FILE = 'socket';
export const AGENT_DIR = '.agent';
export const AGENT_STATUS_FILE = 'status.json';

/** The group that owns every relay socket (mode 0660) and that the sidecar runs as; nothing else connects. */
export const DEFAULT_SOCKET_GID = 65532;
/** The non-root user the sidecar runs as. */
export const DEFAULT_SIDECAR_UID = 65532;

/**
 * The CSI driver of the node plugin (`socat-relay csi`) that mounts a relay's folder into a consumer
 * pod as a CSI ephemeral inline volume; the webhook injects such volumes, the plugin serves them.
 */
export const CSI_DRIVER = 'csi.socat.io';
/** The CSI volume's one attribute of its own: the relay whose folder to mount. */
export const CSI_RELAY_ATTRIBUTE = 'relay';

/** Prefix of the injected container's and volume's names: `socat-<relay>`. */
export const NAME_PREFIX = 'socat-';
/** Longest relay name: a DNS-1123 label (63) less the prefix, so container and volume names stay valid. */
export const MAX_RELAY_NAME = 63 - NAME_PREFIX.length;

/** socat tuning, measured by the data-path benchmark (BENCHMARKS.md; `BENCH_VARIANTS=b8k` re-runs the buffer A/B). */
export const TCP_BUFFER = 131072;
export const UDP_BUFFER = 65536;
export const LISTEN_BACKLOG = 1024;
/**
 * Receive buffer of both one-way UDP receivers (pod-side UDP-RECV, node-side UNIX-RECV): bursts queue
 * in the kernel instead of being dropped while socat is scheduled out (the data-path benchmark's
 * `udp-no-rcvbuf` variant shows the difference: BENCHMARKS.md). The kernel caps it at net.core.rmem_max.
 */
export const UDP_RCVBUF = 4194304;
export const DEFAULT_REPLY_TIMEOUT_SECONDS = 5;
/**
 * TCP: how long socat keeps carrying the reply after one side half-closed (socat -t; its default 0.5 s
 * lost the reply of a client that shuts down its sending side and waits, as netcat-style clients do,
 * whenever the service took longer than that — 71 of 100 under load in the resilience suite).
 */
export const TCP_HALF_CLOSE_SECONDS = 10;
