// npm run demo: the full flow of demo/flow.ts on this machine, step by step, ending with one line that
// says whether the request from the "pod" reached the node's loopback-only service (exit 0) or not
// (exit 1).
// Without the Go-built kube-apiserver/etcd it says so and runs the offline flow (demo/offline.ts:
// `socat-relay inject` instead of the API server and webhook; same agent, socat and netns), and its
// RESULT line says "offline". `--offline` asks for that flow; `--require-apiserver` makes the missing
// binaries an error (exit 2) instead. Without root/iproute2 (network namespaces) it exits 2 at once.
import { findBinaries, missingBinariesMessage } from '../test/harness/index.js';
import { netnsUnavailable } from '../test/support/netns.js';
import { runFlow, type Reporter } from './flow.js';
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
    out.write(`\nNOTE: ${missingBinariesMessage()}.\nRunning the OFFLINE flow instead: no API server, no webhook call; 'socat-relay inject' makes the pod and the relay file is written by hand.\n`);
    offline = true;
  }
  const t0 = Date.now();
  const rep = reporter(out);
  const res = offline
    ? await runOfflineFlow({ reporter: rep, netnsPrefix: 'sr-demo' })
    : await runFlow({ reporter: rep, netnsPrefix: 'sr-demo' });
  rep.end();
  const how = offline ? ' (OFFLINE flow, without an API server)' : ' (through a real kube-apiserver)';
  out.write('\n');
  if (res.ok) {
    out.write(`RESULT: OK — the request from the pod's network namespace went through the relay to the node's loopback service${how} (${((Date.now() - t0) / 1000).toFixed(1)} s)\n`);
    return 0;
  }
  out.write(`RESULT: FAILED${how} — the request did not go through${res.error ? `: ${res.error.message}` : ''}\n`);
  return 1;
}

main().then(
  (code) => { process.exitCode = code; },
  (err: unknown) => {
    process.stderr.write(`demo: ${err instanceof Error ? err.stack : String(err)}\n`);
    process.exitCode = 1;
  },
);
