// The Dockerfile, checked without a Docker engine: one Node LTS base, the build stage compiles exactly
// the folders tsconfig.build.json compiles, the runtime (default target) adds socat and nothing else,
// runs as the non-root sidecar user, and its entrypoint is the compiled CLI, whose commands include the
// ones the manifests start (controller, agent); the sidecar target holds socat and its libraries only.
// The images themselves are built and run by the suites that have podman (scripts/build-image.sh).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { DEFAULT_SIDECAR_UID, DEFAULT_SOCKET_GID } from '../../relay/constants.js';
import { usage } from '../../cli/main.js';
import { STATIC_POD_RELATIVE } from '../../cli/static-pod.js';
import { loadManifests, REPO } from '../harness/manifest-load.js';

interface Instruction {
  op: string;
  args: string;
}
interface Stage {
  from: string;
  name?: string;
  body: Instruction[];
}

/** Dockerfile → stages of instructions (comments dropped, `\` continuations joined, ARGs before FROM resolved). */
export function parseDockerfile(text: string): { args: Record<string, string>; stages: Stage[] } {
  const lines = text
    .replace(/\\\r?\n/g, ' ')
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));
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
const stage = (name: string): Stage => {
  const s = stages.find((x) => x.name === name);
  assert.ok(s, `stage ${name}`);
  return s;
};
const socat = stage('socat');
const build = stage('build');
const sidecar = stage('sidecar');
const final = stages.at(-1)!;
const ops = (s: Stage, op: string) => s.body.filter((i) => i.op === op).map((i) => i.args);

test('stages: socat and build on one Node LTS slim image, the sidecar from scratch, the runtime last (the default target)', () => {
  assert.deepEqual(
    stages.map((s) => s.name),
    ['socat', 'build', 'sidecar-files', 'sidecar', 'runtime'],
  );
  assert.equal(build.from, socat.from, 'one base');
  assert.equal(final.from, 'socat', 'the runtime builds on the socat stage');
  assert.equal(stage('sidecar-files').from, 'socat');
  assert.equal(sidecar.from, 'scratch');
  const m = /^node:(\d+)-bookworm-slim$/.exec(socat.from);
  assert.ok(m, `base ${socat.from}`);
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
  const include = (JSON.parse(readFileSync(path.join(REPO, 'tsconfig.build.json'), 'utf8')) as { include: string[] })
    .include;
  const copied = ops(build, 'COPY')
    .map((c) => c.split(' ')[0]!)
    .filter((src) => !src.includes('.json'));
  assert.deepEqual(copied.sort(), [...include].sort());
  for (const dir of include) assert.ok(existsSync(path.join(REPO, dir)), `${dir} exists (COPY would fail)`);
});

test('the runtime: socat only, no build tools, non-root 65532, the compiled CLI as entrypoint, the static-pod manifest', () => {
  const run = [...ops(socat, 'RUN'), ...ops(final, 'RUN')].join(' && ');
  const installs = [...run.matchAll(/apt-get install ([^&]*)/g)].map((m) =>
    m[1]!.split(' ').filter((w) => w && !w.startsWith('-')),
  );
  assert.deepEqual(installs, [['socat']]);
  assert.match(run, /--no-install-recommends/);
  assert.match(run, /rm -rf \/var\/lib\/apt\/lists/);
  for (const tool of [
    /\bnpm\b/,
    /\bnpx\b/,
    /\bgcc\b/,
    /\bmake\b/,
    /build-essential/,
    /\bpython/,
    /\bgit\b/,
    /\bcurl\b/,
    /\bwget\b/,
  ]) {
    assert.doesNotMatch(run, tool);
  }
  assert.deepEqual(ops(final, 'USER'), [`${DEFAULT_SIDECAR_UID}:${DEFAULT_SOCKET_GID}`]);
  assert.deepEqual(
    ops(final, 'ENTRYPOINT').map((e) => JSON.parse(e)),
    [['node', '/app/dist/cli/main.js']],
  );
  const copies = ops(final, 'COPY');
  assert.deepEqual(
    copies
      .filter((c) => c.startsWith('--from=build '))
      .map((c) => c.split(' ')[1])
      .sort(),
    ['/src/dist', '/src/node_modules', '/src/package.json'],
  );
  assert.deepEqual(
    copies.filter((c) => !c.startsWith('--from=build ')),
    [`${STATIC_POD_RELATIVE} ./${STATIC_POD_RELATIVE}`],
    'besides the build output only the agent manifest, where `static-pod` finds it (/app/manifests/… above /app/dist/cli)',
  );
  assert.equal(ops(final, 'WORKDIR')[0], '/app');
});

test('the sidecar: socat and its libraries from the socat stage only, nothing run in it, non-root 65532', () => {
  assert.deepEqual(
    sidecar.body.map((i) => i.op),
    ['COPY', 'ENV', 'USER', 'ENTRYPOINT'],
  );
  assert.deepEqual(ops(sidecar, 'COPY'), ['--from=sidecar-files /out/ /']);
  assert.deepEqual(ops(sidecar, 'USER'), [`${DEFAULT_SIDECAR_UID}:${DEFAULT_SOCKET_GID}`]);
  assert.deepEqual(
    ops(sidecar, 'ENTRYPOINT').map((e) => JSON.parse(e)),
    [['/usr/bin/socat']],
  );
  const files = ops(stage('sidecar-files'), 'RUN').join(' ');
  assert.match(files, /ldd \/usr\/bin\/socat/, 'the libraries are the ones socat links');
  assert.match(files, /\/out\/usr\/bin\/socat -V/, 'the copied socat runs from the copied files at build time');
});

test('.dockerignore keeps local builds, dependencies and the test binaries out of the context', () => {
  const ignored = readFileSync(path.join(REPO, '.dockerignore'), 'utf8')
    .split('\n')
    .map((l) => l.trim());
  for (const p of ['node_modules', 'dist', '.testbin', '.git']) assert.ok(ignored.includes(p), p);
  for (const i of ops(build, 'COPY').map((c) => c.split(' ')[0]!))
    assert.ok(!ignored.includes(i), `${i} is copied but ignored`);
  assert.ok(ignored.includes(`!${STATIC_POD_RELATIVE}`), 'the agent manifest is let back into the context');
});

test('the manifests start the commands the CLI has, through the image entrypoint', () => {
  const commands = usage();
  for (const { object } of loadManifests()) {
    const spec = object.kind === 'Pod' ? object.spec : object.spec?.template?.spec;
    for (const c of spec?.containers ?? []) {
      if (!String(c.image).startsWith('ghcr.io/socat-relay/socat-relay:')) continue;
      assert.equal(c.command, undefined, `${object.metadata.name}: uses the entrypoint`);
      assert.match(
        commands,
        new RegExp(`^  ${c.args[0]} `, 'm'),
        `${object.metadata.name}: socat-relay ${c.args[0]} exists`,
      );
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
  await exec(
    process.execPath,
    [path.join(REPO, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.build.json', '--outDir', out],
    { cwd: REPO, timeout: 300_000 },
  ).catch((e: { code?: number }) => {
    if (typeof e.code !== 'number') throw e;
  });
  assert.ok(existsSync(path.join(out, 'cli', 'main.js')), 'dist/cli/main.js');
  const { stdout } = await exec(process.execPath, [path.join(out, 'cli', 'main.js'), '--help'], {
    cwd: REPO,
    timeout: 30_000,
  });
  assert.match(stdout, /^ {2}controller /m);
  assert.match(stdout, /^ {2}agent /m);
});
