// The processes under test run as they do in the image: plain `node file.js`, no TypeScript loader
// (tsx adds start-up time and ~100 MiB of RSS that production does not have). The sources are
// transpiled file by file with esbuild (no bundling, same layout) into bench/results/build, which git
// ignores. BENCH_TSX=1 runs the sources with tsx instead.
import { cp, readdir, rm } from 'node:fs/promises';
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
