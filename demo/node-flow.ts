// The flow on a real node: the test API server, containerd + kubelet (test/harness/node.ts), the agent
// as a static pod from manifests/node-agent/static-pod.yaml and a labeled pod created through the API
// server — injected by our webhook, run by the kubelet with the images the Dockerfile builds — whose
// app container sends an HTTP request to 127.0.0.1:8080 and gets the answer of a service that listens
// only on the node's loopback. Used by `npm run demo` when the set-up has built the node's parts.
import { sidecarName } from '../relay/index.js';
import { applyRelay, consumerPod, createConsumer, startCluster, waitForPodRunning } from '../test/harness/index.js';
import type { DemoPod, FlowResult } from './flow.js';
import { GREETING } from './node-service.js';
import { runWithNodeService, type Reporter } from './parts.js';

// Run by the image's Node.js inside the app container.
const GET = `fetch(process.argv[1], { signal: AbortSignal.timeout(10000) }).then(async (r) => {
  process.stdout.write(await r.text()); process.exit(r.ok ? 0 : 1);
}, (e) => { process.stderr.write(String(e.cause ?? e)); process.exit(1); });`;

export async function runNodeFlow(opts: {
  reporter: Reporter;
  relayName?: string;
  namespace?: string;
}): Promise<FlowResult> {
  const r = opts.reporter;
  const relayName = opts.relayName ?? 'node-http';
  const namespace = opts.namespace ?? 'consumers';
  return runWithNodeService(r, async (svc, cleanups, result) => {
    const c = await startCluster({
      namespaces: [{ name: namespace }],
      nodeName: 'demo-node',
      onStep: (t) => r.step(t),
    });
    cleanups.push(() => c.stop());
    r.info(`node ${c.node.name} Ready; images ${c.node.image.image}, ${c.node.image.sidecarImage}`);
    r.info(`mirror pod kube-system/${c.agentMirrorPod} Running`);

    r.step(
      `apply Relay ${relayName} → 127.0.0.1:${svc.port}; the reconcile writes the node file, the agent serves its socket`,
    );
    const sock = await applyRelay(c, {
      apiVersion: 'socat.io/v1alpha1',
      kind: 'Relay',
      metadata: { name: relayName },
      spec: {
        target: { host: '127.0.0.1', port: svc.port },
        listen: { port: 8080 },
        consumers: { namespaces: [namespace] },
      },
    });
    r.info(`socket ${sock}`);

    r.step(`create a pod labeled socat.io/consume=${relayName}; the API server calls our webhook, the kubelet runs it`);
    const pod = (await createConsumer(c, consumerPod(c, { name: 'scraper', namespace, relay: relayName }))) as DemoPod;
    result.pod = pod;
    r.info(
      `admitted with native sidecar ${sidecarName(relayName)} (${pod.spec.initContainers?.find((x) => x.name === sidecarName(relayName))?.image})`,
    );
    await waitForPodRunning(c, namespace, 'scraper');
    r.info('pod Running: app + sidecar');

    r.step('from the app container: GET http://127.0.0.1:8080/');
    const direct = await c.node.exec(namespace, 'scraper', 'app', ['node', '-e', GET, `http://127.0.0.1:${svc.port}/`]);
    result.directReachable = direct.code === 0;
    r.info(
      `direct 127.0.0.1:${svc.port} from the pod: ${result.directReachable ? 'REACHABLE (unexpected)' : 'unreachable, as it should be'}`,
    );
    const res = await c.node.exec(namespace, 'scraper', 'app', ['node', '-e', GET, 'http://127.0.0.1:8080/']);
    result.body = res.stdout;
    r.info(res.code === 0 ? `response: ${res.stdout.trim()}` : `failed: ${res.stderr.trim() || res.stdout.trim()}`);
    result.ok = res.code === 0 && res.stdout.includes(GREETING) && svc.hits() > 0 && !result.directReachable;

    r.step('stop everything (pods, kubelet, containerd, mounts, network namespaces)');
  });
}
