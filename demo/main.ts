// npm run demo: the full flow on this machine, step by step, ending with one line that says whether the
// request from the pod reached the node's loopback-only service (exit 0) or not (exit 1). Which flow:
//   - on a real node (demo/node-flow.ts: containerd + kubelet, the agent as a static pod, the pod run by
//     the kubelet with the Dockerfile's images) when the set-up has its parts;
//   - otherwise, saying why, the API-server flow (demo/flow.ts: agent as a process, the sidecar's
//     command in a network namespace); `--no-node` asks for it;
//   - without the Go-built kube-apiserver/etcd, saying so, the offline flow (demo/offline.ts: `socat-relay
//     inject` instead of the API server; same agent, socat and netns). `--offline` asks for that flow;
//     `--require-apiserver` makes the missing binaries an error (exit 2) instead.
// Without root/iproute2 (network namespaces) it exits 2 at once.
import { findBinaries, missingBinariesMessage, nodeUnavailable } from '../test/harness/index.js';
import { netnsUnavailable } from '../test/harness/netns.js';
import { runFlow, type Reporter } from './flow.js';
import { runNodeFlow } from './node-flow.js';
import { runOfflineFlow } from './offline.js';

function reporter(out: NodeJS.WritableStream): Reporter & { end(): void } {
  let n = 0;
  let t = Date.now();
  return {
    end() {
      if (n > 0) out.write(`      (${Date.now() - t} ms)\n`);
    },
    step(title) {
      const now = Date.now();
      if (n > 0) out.write(`      (${now - t} ms)\n`);
      t = now;
      out.write(`\n[${++n}] ${title}\n`);
    },
    info(line) {
      out.write(`    ${line}\n`);
    },
  };
}

async function main(): Promise<number> {
  const out = process.stdout;
  out.write('socat-relay demo: a loopback-only service on the node, reached from a pod through the relay\n');
  const args = process.argv.slice(2);
  const netns = netnsUnavailable();
  if (netns) {
    process.stderr.write(`demo: cannot run: ${netns}\n`);
    out.write('\nRESULT: not run (missing prerequisites above)\n');
    return 2;
  }
  let offline = args.includes('--offline');
  if (!offline && !findBinaries()) {
    if (args.includes('--require-apiserver')) {
      process.stderr.write(`demo: cannot run: ${missingBinariesMessage()}\n`);
      out.write('\nRESULT: not run (missing prerequisites above)\n');
      return 2;
    }
    out.write(
      `\nNOTE: ${missingBinariesMessage()}.\nRunning the OFFLINE flow instead: no API server, no webhook call; 'socat-relay inject' makes the pod and the relay file is written by hand.\n`,
    );
    offline = true;
  }
  let onNode = false;
  if (!offline) {
    const why = args.includes('--no-node') ? 'asked for with --no-node' : nodeUnavailable();
    if (why)
      out.write(
        `\nNOTE: not on a real node (${why}).\nRunning the API-server flow: the agent as a process, the pod's sidecar command in a network namespace.\n`,
      );
    else {
      onNode = true;
      out.write(
        '\nRunning on a real node: the set-up has containerd, runc, the CNI plugins, the kubelet and podman, so the pod is run by a kubelet with the images the Dockerfile builds.\n',
      );
    }
  }
  const t0 = Date.now();
  const rep = reporter(out);
  const res = offline
    ? await runOfflineFlow({ reporter: rep, netnsPrefix: 'sr-demo' })
    : onNode
      ? await runNodeFlow({ reporter: rep })
      : await runFlow({ reporter: rep, netnsPrefix: 'sr-demo' });
  rep.end();
  const how = offline
    ? ' (OFFLINE flow, without an API server)'
    : onNode
      ? ' (on a real node: kubelet + containerd, through a real kube-apiserver)'
      : ' (through a real kube-apiserver, the pod simulated by a network namespace)';
  out.write('\n');
  if (res.ok) {
    out.write(
      `RESULT: OK — the request from the pod's network namespace went through the relay to the node's loopback service${how} (${((Date.now() - t0) / 1000).toFixed(1)} s)\n`,
    );
    return 0;
  }
  out.write(`RESULT: FAILED${how} — the request did not go through${res.error ? `: ${res.error.message}` : ''}\n`);
  return 1;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`demo: ${err instanceof Error ? err.stack : String(err)}\n`);
    process.exitCode = 1;
  },
);
