// The Dockerfile, checked without a Docker engine: two stages on one Node LTS base, the build stage
// compiles exactly the folders tsconfig.build.json compiles, the final stage installs socat and
// nothing else, runs as the non-root sidecar user, and its entrypoint is the compiled CLI, whose
// commands include the ones the manifests start (controller, agent).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { DEFAULT_SIDECAR_UID, DEFAULT_SOCKET_GID } from '../../relay/constants.js';
import { usage } from '../../cli/main.js';
import { loadManifests, REPO } from './load.js';

interface Instruction { op: string; args: string }
interface Stage { from: string; name?: string; body: Instruction[] }

/** Dockerfile → stages of instructions (comments dropped, `\` continuations joined, ARGs before FROM resolved). */
export function parseDockerfile(text: string): { args: Record<string, string>; stages: Stage[] } {
  const lines = text.replace(/\\\r?\n/g, ' ').split(/\r?\n/).map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
  const args: Record<string, string> = {};
  const stages: Stage[] = [];
  for (const line of lines) {
    const m = /^(\S+)\s+(.*)$/.exec(line);
    if (!m) continue;
    const op = m[1]!.toUpperCase();
    const rest = m[2]!.replace(/\s+/g, ' ');
    if (op === 'ARG' && stages.length === 0) {
      const [k, v] = rest.split('=');
      args[k!] = v ?? '';
    } else if (op === 'FROM') {
      const [image, as, name] = rest.split(' ');
      const from = image!.replace(/\$\{(\w+)\}/g, (_, k: string) => args[k] ?? '');
      stages.push({ from, ...(as?.toUpperCase() === 'AS' && name ? { name } : {}), body: [] });
    } else {
      assert.ok(stages.length > 0, `${op} before FROM`);
      stages.at(-1)!.body.push({ op, args: rest });
    }
  }
  return { args, stages };
}

const text = readFileSync(path.join(REPO, 'Dockerfile'), 'utf8');
const { stages } = parseDockerfile(text);
const build = stages[0]!;
const final = stages.at(-1)!;
const ops = (s: Stage, op: string) => s.body.filter((i) => i.op === op).map((i) => i.args);

test('two stages on one Node LTS slim image (an even major, at least the engines minimum)', () => {
  assert.equal(stages.length, 2);
  assert.equal(build.name, 'build');
  assert.equal(build.from, final.from, 'the final stage uses the same base');
  const m = /^node:(\d+)-bookworm-slim$/.exec(final.from);
  assert.ok(m, `base ${final.from}`);
  const major = Number(m[1]);
  assert.equal(major % 2, 0, 'even Node majors are the LTS lines');
  const engines = JSON.parse(readFileSync(path.join(REPO, 'package.json'), 'utf8')).engines.node as string;
  assert.ok(major >= Number(/(\d+)/.exec(engines)![1]), `${major} satisfies ${engines}`);
});

test('the build stage installs from the lock file, compiles tsconfig.build.json and prunes dev dependencies', () => {
  const run = ops(build, 'RUN').join(' && ');
  assert.match(run, /npm ci\b/);
  assert.match(run, /tsc -p tsconfig\.build\.json/);
  assert.match(run, /npm prune --omit=dev/);
  assert.ok(ops(build, 'COPY').some((c) => c.includes('package-lock.json')));
  // Every folder the build compiles is copied in, and nothing else.
  const include = (JSON.parse(readFileSync(path.join(REPO, 'tsconfig.build.json'), 'utf8')) as { include: string[] }).include;
  const copied = ops(build, 'COPY').map((c) => c.split(' ')[0]!).filter((src) => !src.includes('.json'));
  assert.deepEqual(copied.sort(), [...include].sort());
  for (const dir of include) assert.ok(existsSync(path.join(REPO, dir)), `${dir} exists (COPY would fail)`);
});

test('the final stage: socat only, no build tools, non-root 65532, the compiled CLI as entrypoint', () => {
  const run = ops(final, 'RUN').join(' && ');
  const installs = [...run.matchAll(/apt-get install ([^&]*)/g)].map((m) => m[1]!.split(' ').filter((w) => w && !w.startsWith('-')));
  assert.deepEqual(installs, [['socat']]);
  assert.match(run, /--no-install-recommends/);
  assert.match(run, /rm -rf \/var\/lib\/apt\/lists/);
  for (const tool of [/\bnpm\b/, /\bnpx\b/, /\bgcc\b/, /\bmake\b/, /build-essential/, /\bpython/, /\bgit\b/, /\bcurl\b/, /\bwget\b/]) {
    assert.doesNotMatch(run, tool);
  }
  assert.deepEqual(ops(final, 'USER'), [`${DEFAULT_SIDECAR_UID}:${DEFAULT_SOCKET_GID}`]);
  assert.deepEqual(ops(final, 'ENTRYPOINT').map((e) => JSON.parse(e)), [['node', '/app/dist/cli/main.js']]);
  const copies = ops(final, 'COPY');
  assert.ok(copies.every((c) => c.startsWith('--from=build ')), 'the final stage copies only build output');
  assert.deepEqual(copies.map((c) => c.split(' ')[1]).sort(), ['/src/dist', '/src/node_modules', '/src/package.json']);
  assert.equal(ops(final, 'WORKDIR')[0], '/app');
});

test('.dockerignore keeps local builds, dependencies and the test binaries out of the context', () => {
  const ignored = readFileSync(path.join(REPO, '.dockerignore'), 'utf8').split('\n').map((l) => l.trim());
  for (const p of ['node_modules', 'dist', '.testbin', '.git']) assert.ok(ignored.includes(p), p);
  for (const i of ops(build, 'COPY').map((c) => c.split(' ')[0]!)) assert.ok(!ignored.includes(i), `${i} is copied but ignored`);
});

test('the manifests start the commands the CLI has, through the image entrypoint', () => {
  const commands = usage();
  for (const { object } of loadManifests()) {
    const spec = object.kind === 'Pod' ? object.spec : object.spec?.template?.spec;
    for (const c of spec?.containers ?? []) {
      if (!String(c.image).startsWith('ghcr.io/socat-relay/socat-relay:')) continue;
      assert.equal(c.command, undefined, `${object.metadata.name}: uses the entrypoint`);
      assert.match(commands, new RegExp(`^  ${c.args[0]} `, 'm'), `${object.metadata.name}: socat-relay ${c.args[0]} exists`);
    }
  }
});

const exec = promisify(execFile);
test('the entrypoint exists after the build: tsc -p tsconfig.build.json emits dist/cli/main.js', async (t) => {
  // Emit into a temp folder, not the shared dist/, but under node_modules so that the compiled files
  // resolve their dependencies; a package.json marks them ESM. Type errors elsewhere do not stop the emit.
  const cache = path.join(REPO, 'node_modules', '.cache');
  mkdirSync(cache, { recursive: true });
  const out = mkdtempSync(path.join(cache, 'socat-relay-dist-'));
  t.after(() => rmSync(out, { recursive: true, force: true }));
  writeFileSync(path.join(out, 'package.json'), '{"type":"module"}\n');
  await exec(process.execPath, [path.join(REPO, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.build.json', '--outDir', out], { cwd: REPO, timeout: 300_000 })
    .catch((e: { code?: number }) => { if (typeof e.code !== 'number') throw e; });
  assert.ok(existsSync(path.join(out, 'cli', 'main.js')), 'dist/cli/main.js');
  const { stdout } = await exec(process.execPath, [path.join(out, 'cli', 'main.js'), '--help'], { cwd: REPO, timeout: 30_000 });
  assert.match(stdout, /^ {2}controller /m);
  assert.match(stdout, /^ {2}agent /m);
});
