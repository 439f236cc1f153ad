// Writes node-agent/csi/generated/ from the plugin's .proto files (node-agent/csi/*.proto) with the grpc-js
// toolchain's proto-loader-gen-types: the messages' TypeScript types (`X` for what the plugin sends, `X__Output`
// for what it receives), the services' typed handlers and clients, and each file's ProtoGrpcType. The flags come
// from LOADER_OPTIONS, the options node-agent/csi/proto.ts loads the same files with at run time, so the types
// describe the objects the plugin really gets. Run: npm run gen:proto. test/host/csi/proto-types.test.ts fails when
// the committed folder differs from what this writes.
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import type { Options } from '@grpc/proto-loader';
import { LOADER_OPTIONS } from '../node-agent/csi/proto.js';

const ROOT = path.resolve(import.meta.dirname, '..');
/** The .proto files' folder, as the generator is given it (relative: it appears in the output's comments). */
const PROTO_DIR = 'node-agent/csi';
export const OUT_DIR = path.join(ROOT, PROTO_DIR, 'generated');
const GEN_TYPES = createRequire(import.meta.url).resolve('@grpc/proto-loader/build/bin/proto-loader-gen-types.js');

/** The first line of every generated file. */
export const HEADER =
  '// Generated from node-agent/csi/*.proto by proto-loader-gen-types (npm run gen:proto). Do not edit.\n';

const BOOLEAN_FLAGS = ['keepCase', 'defaults', 'arrays', 'objects', 'oneofs', 'json'];
/** The loader's type options and the values the generator has a flag for. */
const TYPE_FLAGS: Record<string, Map<unknown, string>> = {
  longs: new Map<unknown, string>([
    [String, 'String'],
    [Number, 'Number'],
  ]),
  enums: new Map<unknown, string>([[String, 'String']]),
  bytes: new Map<unknown, string>([
    [String, 'String'],
    [Array, 'Array'],
  ]),
};

/**
 * proto-loader-gen-types' flags for the loader's options. Refuses an option (or value) without a flag: the
 * types would then describe objects other than those the loader makes.
 */
export function generatorFlags(options: Options): string[] {
  const flags: string[] = [];
  for (const [key, value] of Object.entries(options) as [string, unknown][]) {
    const values = Object.hasOwn(TYPE_FLAGS, key) ? TYPE_FLAGS[key] : undefined;
    if (BOOLEAN_FLAGS.includes(key) && typeof value === 'boolean') {
      if (value) flags.push(`--${key}`);
    } else if (values?.has(value)) {
      flags.push(`--${key}=${values.get(value)}`);
    } else {
      throw new Error(
        `LOADER_OPTIONS.${key} = ${typeof value === 'function' ? value.name : String(value)}: proto-loader-gen-types has no flag for it`,
      );
    }
  }
  return flags;
}

/** Every file under `dir`, as paths relative to it, sorted. */
function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => path.relative(dir, path.join(e.parentPath, e.name)))
    .sort();
}

/** Generates the types of every node-agent/csi/*.proto into `outDir` (which must be empty or missing). */
export function generate(outDir: string): void {
  const protos = readdirSync(path.join(ROOT, PROTO_DIR))
    .filter((f) => f.endsWith('.proto'))
    .sort();
  const args = [
    ...generatorFlags(LOADER_OPTIONS),
    '--grpcLib=@grpc/grpc-js',
    // Relative imports as NodeNext resolves them (the compiled files are .js).
    '--importFileExtension=.js',
    `--includeDirs=${PROTO_DIR}`,
    `--outDir=${outDir}`,
    ...protos,
  ];
  const r = spawnSync(process.execPath, [GEN_TYPES, ...args], { cwd: ROOT, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`proto-loader-gen-types ${args.join(' ')} failed: ${r.stderr || r.error}`);
  for (const f of filesUnder(outDir)) {
    const file = path.join(outDir, f);
    writeFileSync(file, HEADER + readFileSync(file, 'utf8'));
  }
}

/**
 * How the folder `actual` differs from `expected` (what the generator writes now), one line per file: missing,
 * not generated, or the first line that differs. Empty when they are the same.
 */
export function differences(expected: string, actual: string): string[] {
  const want = filesUnder(expected);
  const have = new Set(filesUnder(actual));
  const out: string[] = [];
  for (const f of want) {
    if (!have.delete(f)) {
      out.push(`${f}: missing`);
      continue;
    }
    const [a, b] = [readFileSync(path.join(expected, f), 'utf8'), readFileSync(path.join(actual, f), 'utf8')];
    if (a === b) continue;
    const [al, bl] = [a.split('\n'), b.split('\n')];
    const i = al.findIndex((l, n) => l !== bl[n]);
    const at = i < 0 ? al.length : i;
    out.push(`${f}: line ${at + 1} is ${JSON.stringify(bl[at] ?? '')}, expected ${JSON.stringify(al[at] ?? '')}`);
  }
  for (const f of have) out.push(`${f}: not generated from the .proto files`);
  return out;
}

if (process.argv[1] && path.resolve(process.argv[1]) === path.resolve(import.meta.filename)) {
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'gen-proto-'));
  try {
    generate(tmp);
    rmSync(OUT_DIR, { recursive: true, force: true });
    cpSync(tmp, OUT_DIR, { recursive: true });
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  process.stdout.write(`wrote ${path.relative(ROOT, OUT_DIR)}/ (${filesUnder(OUT_DIR).length} files)\n`);
}
