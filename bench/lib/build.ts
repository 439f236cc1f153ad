// The processes under test run as plain `node file.js`, no TypeScript loader (tsx adds start-up time
// and ~100 MiB of RSS that production does not have). Two ways: the sources transpiled file by file
// with esbuild (no bundling, same layout, dependencies from node_modules) into bench/results/build
// (nodeArgs), or the CLI bundled as the image runs it, scripts/bundle.sh into bench/results/bundle
// (bundleArgs). git ignores both. BENCH_TSX=1 runs the sources with tsx instead of the transpiled files.
import { cp, mkdir, readdir, rm, symlink } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { runCommand } from './proc.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const OUT = path.join(ROOT, 'bench', 'results', 'build');
/** Top-level folders that hold no code the processes under test run (every other one is transpiled). */
const SKIP = new Set(['node_modules', 'test', 'dist', 'docs', 'manifests', 'charts', 'scripts', 'demo', 'scratch']);

async function sourceFolders(): Promise<string[]> {
  return (await readdir(ROOT, { withFileTypes: true }))
    .filter((e) => e.isDirectory() && !e.name.startsWith('.') && !SKIP.has(e.name))
    .map((e) => e.name);
}

async function tsFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) {
      if (e.name === 'results' || e.name === 'node_modules' || e.name === 'test') continue;
      out.push(...(await tsFiles(p)));
    } else if (e.name.endsWith('.ts') && !e.name.endsWith('.d.ts') && !e.name.endsWith('.test.ts')) {
      out.push(p);
    }
  }
  return out;
}

let built: Promise<string> | undefined;

/** Transpiles once per process; returns the build root (same layout as the repository). */
function buildOnce(): Promise<string> {
  built ??= (async () => {
    await rm(OUT, { recursive: true, force: true });
    const files: string[] = [];
    for (const f of await sourceFolders()) files.push(...(await tsFiles(path.join(ROOT, f))));
    await runCommand(
      path.join(ROOT, 'node_modules', '.bin', 'esbuild'),
      [
        ...files.map((f) => path.relative(ROOT, f)),
        `--outdir=${path.relative(ROOT, OUT)}`,
        '--outbase=.',
        '--format=esm',
        '--platform=node',
        '--target=node20',
        '--log-level=error',
      ],
      { timeoutMs: 120_000, cwd: ROOT },
    );
    await cp(path.join(ROOT, 'bench', 'fixtures'), path.join(OUT, 'bench', 'fixtures'), { recursive: true });
    // The CSI plugin reads its .proto files beside its module (node-agent/csi/proto.ts).
    const csi = path.join(ROOT, 'node-agent', 'csi');
    for (const f of (await readdir(csi)).filter((n) => n.endsWith('.proto')))
      await cp(path.join(csi, f), path.join(OUT, 'node-agent', 'csi', f));
    return OUT;
  })();
  return built;
}

/** The node arguments that run a repository script (path relative to the root, `.ts`). */
export async function nodeArgs(rel: string, env: NodeJS.ProcessEnv = process.env): Promise<string[]> {
  if (env.BENCH_TSX === '1') return ['--import', 'tsx', path.join(ROOT, rel)];
  const out = await buildOnce();
  return [path.join(out, rel.replace(/\.ts$/, '.js'))];
}

const bundled = new Map<string, Promise<string>>();

/** What a bundle of another commit needs of its tree: sources, bundle script, tsconfig.json (esbuild reads it). */
const BUNDLE_TREE = [
  'relay',
  'lib',
  'cli',
  'webhook',
  'node-agent',
  'node-contract',
  'certs',
  'scripts/bundle.sh',
  'tsconfig.json',
];

/** scripts/bundle.sh of this checkout, or of `commit` (its tree from git, this checkout's node_modules). */
async function bundle(commit: string | undefined): Promise<string> {
  if (!commit) {
    const out = path.join(ROOT, 'bench', 'results', 'bundle');
    await runCommand('bash', [path.join(ROOT, 'scripts', 'bundle.sh'), out], { timeoutMs: 120_000, cwd: ROOT });
    return path.join(out, 'main.js');
  }
  const sha = (await runCommand('git', ['rev-parse', '--verify', `${commit}^{commit}`], { cwd: ROOT })).stdout.trim();
  const tree = path.join(ROOT, 'bench', 'results', `bundle-${sha.slice(0, 12)}`);
  await rm(tree, { recursive: true, force: true });
  await mkdir(tree, { recursive: true });
  await runCommand('bash', [
    '-c',
    `git -C "$1" archive "$2" ${[...BUNDLE_TREE, 'package.json'].join(' ')} | tar -x -C "$3"`,
    'archive',
    ROOT,
    sha,
    tree,
  ]);
  await symlink(path.join(ROOT, 'node_modules'), path.join(tree, 'node_modules'));
  await runCommand('bash', ['scripts/bundle.sh', 'dist/bundle'], { timeoutMs: 120_000, cwd: tree });
  return path.join(tree, 'dist', 'bundle', 'main.js');
}

/**
 * The node arguments that run the CLI as the image does: scripts/bundle.sh's main.js, of this checkout
 * or of `commit` (each bundled once per process).
 */
export async function bundleArgs(commit?: string): Promise<string[]> {
  const key = commit ?? '';
  if (!bundled.has(key)) bundled.set(key, bundle(commit));
  return [await bundled.get(key)!];
}
