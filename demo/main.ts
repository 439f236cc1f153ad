// npm run demo: the full flow of demo/flow.ts on this machine, step by step, ending with one line that
// says whether the request from the "pod" reached the node's loopback-only service (exit 0) or not
// (exit 1). Prerequisites that are missing (the Go-built API server, root for network namespaces) end
// it at once with exit 2 and what to do: there is no partial demo that could pass for the real one.
import { findBinaries, missingBinariesMessage } from '../test/harness/index.js';
import { netnsUnavailable } from '../test/support/netns.js';
import { runFlow, type Reporter } from './flow.js';

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
  const missing = [!findBinaries() && missingBinariesMessage(), netnsUnavailable()].filter((m): m is string => Boolean(m));
  if (missing.length > 0) {
    for (const m of missing) process.stderr.write(`demo: cannot run: ${m}\n`);
    out.write('\nRESULT: not run (missing prerequisites above)\n');
    return 2;
  }
  const t0 = Date.now();
  const rep = reporter(out);
  const res = await runFlow({ reporter: rep, netnsPrefix: 'sr-demo' });
  rep.end();
  out.write('\n');
  if (res.ok) {
    out.write(`RESULT: OK — the request from the pod's network namespace went through the relay to the node's loopback service (${((Date.now() - t0) / 1000).toFixed(1)} s)\n`);
    return 0;
  }
  out.write(`RESULT: FAILED — the request did not go through${res.error ? `: ${res.error.message}` : ''}\n`);
  return 1;
}

main().then(
  (code) => { process.exitCode = code; },
  (err: unknown) => {
    process.stderr.write(`demo: ${err instanceof Error ? err.stack : String(err)}\n`);
    process.exitCode = 1;
  },
);
