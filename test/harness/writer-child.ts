// A stand-in for the reconcile's write path, run as its own process so a test can SIGKILL it in the
// middle of a write: it rewrites relay files forever with the reconcile's own applyFileDiff (temp file
// + fsync + rename), each between 10 and 910 KiB so a kill often lands inside a write.
// Usage: node --import tsx writer-child.ts DIR PORT
import { randomBytes } from 'node:crypto';
import { applyFileDiff } from '../../webhook/reconcile/files.js';

const [dir, port] = process.argv.slice(2) as [string, string];
let gen = 0;
for (;;) {
  gen++;
  const name = `w${gen % 10}`;
  // Up to 900 KiB: below the agent's 1 MiB cap on a relay file.
  const size = 10_240 + (randomBytes(4).readUInt32BE() % (900 << 10));
  const relay = {
    apiVersion: 'socat.io/v1alpha1',
    kind: 'Relay',
    metadata: { name, generation: gen, annotations: { padding: 'p'.repeat(size) } },
    spec: { target: { host: '127.0.0.1', port: Number(port) }, consumers: { namespaces: ['monitoring'] } },
  };
  await applyFileDiff(dir, {
    write: [{ file: `${name}.json`, content: JSON.stringify(relay) }],
    remove: [],
    blocked: [],
  });
  process.stdout.write(`${gen}\n`);
}
