// Shared by the agent and data-path suites: temp folders, an in-process agent with real socat, relay
// files, tiny "node" services on 127.0.0.1, and waiting on conditions (polling the agent's own state).
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, request, type Server } from 'node:http';
import { createSocket, type Socket } from 'node:dgram';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { TestContext } from 'node:test';
import { stringify } from 'yaml';
import { silentLogger } from '../../lib/log.js';
import { Agent, type AgentOptions } from '../../node-agent/agent.js';
import { findSocat } from '../../node-agent/locate.js';
import { parseAgentStatus, type AgentStatus } from '../../node-contract/index.js';
import { agentStatusPath, API_VERSION, KIND, type RelaySpec } from '../../relay/index.js';
import { readFileSync } from 'node:fs';
import { waitFor as pollUntil } from './wait.js';

export const SOCKET_GID = 65532;

const stacks = new WeakMap<TestContext, (() => unknown)[]>();
/**
 * Registers a cleanup that runs after the test, last registered first (an agent stops before its folder is removed).
 */
export function defer(t: TestContext, fn: () => unknown): void {
  let stack = stacks.get(t);
  if (!stack) {
    const s: (() => unknown)[] = [];
    stack = s;
    stacks.set(t, s);
    t.after(async () => {
      while (s.length > 0) await s.pop()!();
    });
  }
  stack.push(fn);
}

/** null when socat is on PATH, else the reason to skip. */
export function socatUnavailable(): string | null {
  try {
    findSocat(process.env.PATH);
    return null;
  } catch (e) {
    return (e as Error).message;
  }
}

export interface Dirs {
  root: string;
  configDir: string;
  socketDir: string;
}

/** A temp root (mode 0755, so non-root test users can traverse it) with config/ and run/. Removed after the test. */
export async function tempDirs(t: TestContext, prefix: string): Promise<Dirs> {
  const root = await mkdtemp(path.join(os.tmpdir(), `${prefix}-`));
  await chmod(root, 0o755);
  defer(t, () => rm(root, { recursive: true, force: true }));
  const configDir = path.join(root, 'config');
  const socketDir = path.join(root, 'run');
  await import('node:fs/promises').then((fs) =>
    Promise.all([fs.mkdir(configDir), fs.mkdir(socketDir, { mode: 0o755 })]),
  );
  return { root, configDir, socketDir };
}

export function relayObject(name: string, spec: Partial<RelaySpec> & Pick<RelaySpec, 'target'>): object {
  return {
    apiVersion: API_VERSION,
    kind: KIND,
    metadata: { name },
    spec: { consumers: { namespaces: ['default'] }, ...spec },
  };
}

export async function writeRelay(
  dir: string,
  name: string,
  spec: Partial<RelaySpec> & Pick<RelaySpec, 'target'>,
  file = `${name}.yaml`,
): Promise<string> {
  const p = path.join(dir, file);
  await writeFile(p, stringify(relayObject(name, spec)));
  return p;
}

/** Starts an in-process agent (real socat) and stops it after the test. */
export async function startAgent(t: TestContext, dirs: Dirs, extra: Partial<AgentOptions> = {}): Promise<Agent> {
  const agent = new Agent({
    configDir: dirs.configDir,
    socketDir: dirs.socketDir,
    socketGid: SOCKET_GID,
    socatPath: findSocat(process.env.PATH),
    log: silentLogger,
    debounceMs: 50,
    resyncMs: 2000,
    graceMs: 1000,
    ...extra,
  });
  defer(t, () => agent.stop());
  await agent.start();
  return agent;
}

export function readStatusFile(socketDir: string): AgentStatus {
  return parseAgentStatus(readFileSync(agentStatusPath(socketDir), 'utf8'));
}

/** test/harness/wait.ts's waitFor, polling every 25 ms with a 5 s default: what the node suites wait with. */
export function waitFor<T>(
  what: string,
  check: () => T | undefined | false | Promise<T | undefined | false>,
  timeoutMs = 5000,
): Promise<T> {
  return pollUntil(what, check, { timeoutMs, intervalMs: 25 });
}

/** Waits until the status file shows the relay running with a pid (optionally a different one than `notPid`). */
export function waitRunning(socketDir: string, relay: string, notPid?: number, timeoutMs = 5000): Promise<number> {
  return waitFor(
    `relay ${relay} running${notPid ? ` with a pid other than ${notPid}` : ''}`,
    () => {
      const r = readStatusFile(socketDir).relays[relay];
      return r?.running && r.pid !== undefined && r.pid !== notPid ? r.pid : undefined;
    },
    timeoutMs,
  );
}

export { isAlive } from './processes.js';

/** A "node" HTTP service on 127.0.0.1 answering `<name> <method> <url>`. */
export async function httpService(t: TestContext, name: string): Promise<{ port: number; server: Server }> {
  const server = createServer((req, res) => res.end(`${name} ${req.method} ${req.url}`));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  defer(
    t,
    () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  );
  return { port: (server.address() as AddressInfo).port, server };
}

/** GET over a Unix socket (the node side of a relay). */
export function getViaSocket(socketPath: string, urlPath = '/'): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath, path: urlPath, headers: { connection: 'close' } }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => {
        body += d.toString();
      });
      res.on('end', () => resolve(body));
    });
    req.on('error', reject);
    req.setTimeout(3000, () => req.destroy(new Error('timeout')));
    req.end();
  });
}

/** A "node" UDP service on 127.0.0.1 recording every datagram; `reply` answers (maybe after a delay). */
export async function udpService(
  t: TestContext,
  reply?: (msg: Buffer) => { data: Buffer; delayMs: number } | undefined,
): Promise<{ port: number; received: Buffer[]; socket: Socket }> {
  const socket = createSocket('udp4');
  const received: Buffer[] = [];
  socket.on('message', (msg, rinfo) => {
    received.push(msg);
    const r = reply?.(msg);
    if (r) setTimeout(() => socket.send(r.data, rinfo.port, rinfo.address), r.delayMs);
  });
  await new Promise<void>((r) => socket.bind(0, '127.0.0.1', r));
  defer(t, () => new Promise<void>((r) => socket.close(() => r())));
  return { port: socket.address().port, received, socket };
}
