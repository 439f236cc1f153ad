// The footprint benchmark's variants: how the CLI is loaded × the Node/V8 flags before the script.
//   files   the sources transpiled file by file, dependencies from node_modules (bench/lib/build.ts
//           nodeArgs: how bench:fleet ran the processes before the image was bundled);
//   bundle  scripts/bundle.sh's output, as the image runs it (one file per lazily imported part); with
//           `commit`, the bundle of that commit's tree (bench/lib/build.ts bundleArgs): before the
//           controller's lazy serving imports, before minification, before the event-loop lag was
//           sampled every 100 ms instead of every 10 ms (lib/process-metrics.ts), before the agent watched
//           its socket folders instead of checking every 500 ms.
// Flags: --max-semi-space-size=1 caps the young generation's semi-space at 1 MiB (default up to 16
// MiB each: collected more often, a few MiB less held); --v8-pool-size=1 one V8 platform worker thread
// instead of one per core; --no-turbofan --no-maglev only the interpreter and the baseline compiler
// (no optimising compiler's code or memory); --optimize-for-size V8's memory-over-speed trade-offs.
// (--lite-mode, no optimising compiler, was tried: a controller with it did not reach /readyz within
// 2 minutes on the loaded 2-core machine, so it is not a variant.)
export interface Variant {
  name: string;
  code: 'files' | 'bundle';
  flags: string[];
  commit?: string;
}

/** The last commit whose controller imported the admission server (express) eagerly, even when reconcile-only. */
const EAGER_SERVING_IMPORTS = 'e1dee80';
/** The last commit whose bundle was not minified. */
const UNMINIFIED = 'b9f6a90';
/** The last commit whose processes sampled the event-loop lag every 10 ms (prom-client's default). */
const LAG_EVERY_10MS = '0e8927b';
/** The last commit whose agent checked its sockets every 500 ms and its folders every second (no folder watch). */
const SOCKET_POLL = '35c494b';

export const VARIANTS: readonly Variant[] = [
  { name: 'files', code: 'files', flags: [] },
  { name: 'bundle-eager', code: 'bundle', flags: [], commit: EAGER_SERVING_IMPORTS },
  { name: 'bundle-unminified', code: 'bundle', flags: [], commit: UNMINIFIED },
  { name: 'bundle-lag10ms', code: 'bundle', flags: [], commit: LAG_EVERY_10MS },
  { name: 'bundle-poll', code: 'bundle', flags: [], commit: SOCKET_POLL },
  { name: 'bundle', code: 'bundle', flags: [] },
  { name: 'bundle+semi1', code: 'bundle', flags: ['--max-semi-space-size=1'] },
  { name: 'bundle+semi1+pool1', code: 'bundle', flags: ['--max-semi-space-size=1', '--v8-pool-size=1'] },
  { name: 'bundle+noopt', code: 'bundle', flags: ['--no-turbofan', '--no-maglev'] },
  { name: 'bundle+size', code: 'bundle', flags: ['--optimize-for-size'] },
  { name: 'bundle+noopt+size', code: 'bundle', flags: ['--no-turbofan', '--no-maglev', '--optimize-for-size'] },
];
