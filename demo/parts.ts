// Steps shared by the API-server flow (flow.ts) and the offline flow (offline.ts): the node agent as a
// real process, the "pod" (its sidecar command in a network namespace), and the request from inside.
import path from 'node:path';
import {
  freePort,
  registerCleanup,
  REPO_ROOT,
  spawnManaged,
  waitFor,
  type ManagedProcess,
} from '../test/harness/index.js';
import { NetNs } from '../test/harness/netns.js';
import { findRelaySocket } from '../test/harness/relay-socket.js';
import { runContainer, type PodLike } from './pod-runner.js';
import { GREETING, startNodeService, type NodeService } from './node-service.js';
import type { FlowResult } from './flow.js';

export interface Reporter {
  /** A numbered step begins. */
  step(title: string): void;
  /** A detail line of the current step. */
  info(line: string): void;
}

/** Cleanups run in reverse order, each one whatever the others do. */
export class Cleanups {
  private readonly fns: (() => Promise<void> | void)[] = [];
  push(fn: () => Promise<void> | void): void {
    this.fns.push(fn);
  }
  async run(): Promise<void> {
    for (const fn of this.fns.splice(0).reverse()) {
      try {
        await fn();
      } catch {
        // keep cleaning
      }
    }
  }
}

/**
 * The frame of every demo flow: a loopback-only HTTP service on the "node", the flow's own steps, then
 * every cleanup whatever happened; an error ends up in the result instead of being thrown.
 */
export async function runWithNodeService(
  r: Reporter,
  steps: (svc: NodeService, cleanups: Cleanups, result: FlowResult) => Promise<void>,
  cleanups: Cleanups = new Cleanups(),
): Promise<FlowResult> {
  const result: FlowResult = { ok: false };
  try {
    r.step('start a loopback-only HTTP service on the "node"');
    const svc = await startNodeService();
    cleanups.push(() => svc.stop());
    r.info(`listening on 127.0.0.1:${svc.port} only (host network namespace)`);
    await steps(svc, cleanups, result);
  } catch (err) {
    result.ok = false;
    result.error = err as Error;
  } finally {
    await cleanups.run();
  }
  return result;
}

/** `socat-relay agent` from source; resolves once the relay's socket exists. */
export async function startAgent(
  o: { configDir: string; socketDir: string; relay: string; logDir: string },
  cleanups: Cleanups,
): Promise<{ agent: ManagedProcess; socket: string }> {
  const port = await freePort();
  const agent = spawnManaged(
    'agent',
    process.execPath,
    [
      '--import',
      'tsx',
      path.join(REPO_ROOT, 'cli', 'main.ts'),
      'agent',
      '--config-dir',
      o.configDir,
      '--socket-dir',
      o.socketDir,
      '--listen',
      `127.0.0.1:${port}`,
    ],
    { logFile: path.join(o.logDir, 'agent.log'), cwd: REPO_ROOT },
  );
  cleanups.push(() => agent.stop());
  // <socketDir>/<relay>/<uid>/socket for the controller's file (it carries the Relay's uid), else
  // <socketDir>/<relay>/socket.
  const socket = await waitFor(
    `the agent to create the socket of relay ${o.relay} under ${o.socketDir}`,
    () => {
      if (!agent.running()) throw new Error(`the agent exited:\n${agent.logTail()}`);
      return findRelaySocket(o.socketDir, o.relay);
    },
    { timeoutMs: 20_000 },
  );
  return { agent, socket };
}

/** A network namespace (the pod) running `container` of `pod`; deleted by the cleanups or at exit. */
function startPod(prefix: string, pod: PodLike, container: string, cleanups: Cleanups): { ns: NetNs; argv: string[] } {
  const ns = NetNs.create(prefix);
  const unregister = registerCleanup(() => ns.delete()); // on interruption too
  cleanups.push(() => {
    ns.delete();
    unregister();
  });
  const { argv } = runContainer(ns, pod, container);
  return { ns, argv };
}

const FETCH_WITH_RETRY = `
const url = process.argv[1];
const deadline = Date.now() + 15000;
(async () => {
  for (;;) {
    try {
      const r = await fetch(url, { signal: AbortSignal.timeout(3000) });
      process.stdout.write(await r.text());
      process.exit(r.ok ? 0 : 1);
    } catch (e) {
      if (Date.now() > deadline) { process.stderr.write(String(e.cause ?? e)); process.exit(1); }
      await new Promise((res) => setTimeout(res, 200));
    }
  }
})();`;

/** From inside `ns`: is the node's port reachable directly (it must not be), and what does the relay answer? */
async function requestFromPod(
  ns: NetNs,
  nodePort: number,
  podUrl: string,
): Promise<{ directReachable: boolean; ok: boolean; body: string; error: string }> {
  const direct = await ns
    .run('bash', ['-c', `exec 3<>/dev/tcp/127.0.0.1/${nodePort}`], { timeoutMs: 5000 })
    .catch(() => undefined);
  const res = await ns.run(process.execPath, ['-e', FETCH_WITH_RETRY, podUrl], { timeoutMs: 20_000 });
  return { directReachable: direct?.code === 0, ok: res.code === 0, body: res.stdout, error: res.stderr.trim() };
}

/**
 * The end of both flows: runs the pod's sidecar in its own network namespace, checks that the node
 * service is not reachable directly from there, and requests it through the sidecar. `ok` when the
 * greeting came back, the service saw the request and the direct path was closed.
 */
export async function requestThroughSidecar(
  r: Reporter,
  prefix: string,
  pod: PodLike,
  container: string,
  svc: NodeService,
  cleanups: Cleanups,
  podKind: string,
): Promise<{ ok: boolean; directReachable: boolean; body: string }> {
  r.step(`run the sidecar command from the ${podKind} pod in a network namespace (the "pod")`);
  const { ns, argv } = startPod(prefix, pod, container, cleanups);
  r.info(`netns ${ns.name}: ${argv.join(' ')}`);

  r.step('from inside the pod namespace: GET http://127.0.0.1:8080/');
  const res = await requestFromPod(ns, svc.port, 'http://127.0.0.1:8080/');
  r.info(
    `direct 127.0.0.1:${svc.port} from the pod namespace: ${res.directReachable ? 'REACHABLE (unexpected)' : 'unreachable, as it should be'}`,
  );
  r.info(res.ok ? `response: ${res.body.trim()}` : `failed: ${res.error || res.body.trim()}`);
  return {
    ok: res.ok && res.body.includes(GREETING) && svc.hits() > 0 && !res.directReachable,
    directReachable: res.directReachable,
    body: res.body,
  };
}
