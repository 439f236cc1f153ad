// The Dockerfile, checked without a Docker engine: one Node LTS base, the build stage bundles exactly
// the folders tsconfig.build.json compiles (scripts/bundle.sh), both final images are scratch images
// holding only the files of the `files` stage — socat for the sidecar; node, socat and the programs the
// processes run for the runtime — with no shell, package manager or build tool; the runtime runs as the
// non-root sidecar user and its entrypoint is the bundled CLI, whose commands include the ones the
// manifests start (controller, agent). The images themselves are built and run by the suites that have
// podman (scripts/build-image.sh).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
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
const files = stage('files');
const sidecar = stage('sidecar');
const final = stages.at(-1)!;
const ops = (s: Stage, op: string) => s.body.filter((i) => i.op === op).map((i) => i.args);
const BUNDLE_SCRIPT = 'scripts/bundle.sh';

test('stages: socat and build on one Node LTS slim image, the files taken from the socat stage, both final images from scratch', () => {
  assert.deepEqual(
    stages.map((s) => s.name),
    ['socat', 'build', 'files', 'sidecar', 'runtime'],
  );
  assert.equal(build.from, socat.from, 'one base');
  assert.equal(files.from, 'socat');
  assert.equal(sidecar.from, 'scratch');
  assert.equal(final.from, 'scratch', 'the runtime (the default target) is the last stage');
  const m = /^node:(\d+)-bookworm-slim$/.exec(socat.from);
  assert.ok(m, `base ${socat.from}`);
  const major = Number(m[1]);
  assert.equal(major % 2, 0, 'even Node majors are the LTS lines');
  const engines = JSON.parse(readFileSync(path.join(REPO, 'package.json'), 'utf8')).engines.node as string;
  assert.ok(major >= Number(/(\d+)/.exec(engines)![1]), `${major} satisfies ${engines}`);
});

test('the build stage installs from the lock file and bundles with scripts/bundle.sh', () => {
  const run = ops(build, 'RUN').join(' && ');
  assert.match(run, /npm ci\b/);
  assert.match(run, new RegExp(`bash ${BUNDLE_SCRIPT} dist/bundle`));
  assert.ok(ops(build, 'COPY').some((c) => c.includes('package-lock.json')));
  // Every folder the build compiles is copied in, and nothing else but the bundle script.
  const include = (JSON.parse(readFileSync(path.join(REPO, 'tsconfig.build.json'), 'utf8')) as { include: string[] })
    .include;
  const copied = ops(build, 'COPY')
    .map((c) => c.split(' ')[0]!)
    .filter((src) => !src.includes('.json'));
  assert.deepEqual(copied.sort(), [...include, BUNDLE_SCRIPT].sort());
  for (const dir of copied) assert.ok(existsSync(path.join(REPO, dir)), `${dir} exists (COPY would fail)`);
});

test('the runtime: scratch with the files stage, no shell or build tools, non-root 65532, the bundled CLI as entrypoint', () => {
  const installs = [...[...ops(socat, 'RUN'), ...ops(files, 'RUN')].join(' && ').matchAll(/apt-get install ([^&]*)/g)];
  assert.deepEqual(
    installs.map((m) => m[1]!.split(' ').filter((w) => w && !w.startsWith('-'))),
    [['socat']],
  );
  assert.deepEqual(ops(final, 'RUN'), [], 'nothing runs in the final stage (it has no shell)');
  // The programs the processes run: node, socat (agent), setpriv (agent: node-agent/supervisor.ts), mount and
  // umount (CSI plugin: node-agent/csi/mount.ts); each copied with its libraries and run from the copy.
  const copy = ops(files, 'RUN').join(' ');
  assert.match(copy, /for b in node socat setpriv mount umount; do copy \/out\/runtime /);
  assert.match(copy, /ldd "\$bin"/, 'the libraries are the ones each program links');
  for (const v of ['node --version', 'socat -V', 'setpriv --version', 'mount --version', 'umount --version'])
    assert.ok(copy.includes(`'${v}'`), `${v} runs from the copied files at build time`);
  assert.match(copy, /ca-certificates\.crt/);
  assert.match(copy, new RegExp(`nonroot:x:${DEFAULT_SIDECAR_UID}:${DEFAULT_SOCKET_GID}:`), 'the non-root user');
  assert.match(copy, /root:x:0:0:/, 'root, as the manifests run the controller, agent and CSI plugin');
  assert.deepEqual(ops(final, 'USER'), [`${DEFAULT_SIDECAR_UID}:${DEFAULT_SOCKET_GID}`]);
  assert.deepEqual(
    ops(final, 'ENTRYPOINT').map((e) => JSON.parse(e)),
    [['/usr/local/bin/node', '/app/dist/bundle/main.js']],
  );
  const copies = ops(final, 'COPY');
  assert.deepEqual(
    copies.filter((c) => c.startsWith('--from=files ')),
    ['--from=files /out/runtime/ /'],
  );
  assert.deepEqual(
    copies
      .filter((c) => c.startsWith('--from=build '))
      .map((c) => c.split(' ')[1])
      .sort(),
    ['/src/dist/bundle', '/src/dist/package.json'],
    'no node_modules: the bundle holds its dependencies',
  );
  assert.deepEqual(
    copies.filter((c) => !c.startsWith('--from=')),
    [`${STATIC_POD_RELATIVE} ./${STATIC_POD_RELATIVE}`],
    'besides the build output only the agent manifest, where `static-pod` finds it (/app/manifests/… above /app/dist/bundle)',
  );
  assert.equal(ops(final, 'WORKDIR')[0], '/app');
});

test('the sidecar: socat and its libraries from the files stage only, nothing run in it, non-root 65532', () => {
  assert.deepEqual(
    sidecar.body.map((i) => i.op),
    ['COPY', 'ENV', 'USER', 'ENTRYPOINT'],
  );
  assert.deepEqual(ops(sidecar, 'COPY'), ['--from=files /out/sidecar/ /']);
  assert.deepEqual(ops(sidecar, 'USER'), [`${DEFAULT_SIDECAR_UID}:${DEFAULT_SOCKET_GID}`]);
  assert.deepEqual(
    ops(sidecar, 'ENTRYPOINT').map((e) => JSON.parse(e)),
    [['/usr/bin/socat']],
  );
  const copy = ops(files, 'RUN').join(' ');
  assert.match(copy, /copy \/out\/sidecar \/usr\/bin\/socat;/, 'socat alone');
  assert.match(copy, /chroot \/out\/sidecar \/usr\/bin\/socat -V/, 'the copied socat runs from the copied files');
});

test('.dockerignore keeps local builds, dependencies and the test binaries out of the context', () => {
  const ignored = readFileSync(path.join(REPO, '.dockerignore'), 'utf8')
    .split('\n')
    .map((l) => l.trim());
  for (const p of ['node_modules', 'dist', '.testbin', '.git']) assert.ok(ignored.includes(p), p);
  for (const i of ops(build, 'COPY').map((c) => c.split(' ')[0]!))
    assert.ok(!ignored.includes(i), `${i} is copied but ignored`);
  assert.ok(ignored.includes(`!${STATIC_POD_RELATIVE}`), 'the agent manifest is let back into the context');
  assert.ok(ignored.includes(`!${BUNDLE_SCRIPT}`), 'the bundle script is let back into the context');
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

interface Metafile {
  outputs: Record<string, { imports: { path: string; kind: string }[]; inputs: Record<string, unknown> }>;
}

/** The sources an output loads before it runs: its own and its static imports', transitively (not dynamic import()). */
function staticInputs(meta: Metafile, output: string, seen = new Set<string>()): Set<string> {
  if (seen.has(output)) return new Set();
  seen.add(output);
  const o = meta.outputs[output]!;
  const inputs = new Set(Object.keys(o.inputs));
  for (const i of o.imports)
    if (i.kind === 'import-statement' && meta.outputs[i.path])
      for (const x of staticInputs(meta, i.path, seen)) inputs.add(x);
  return inputs;
}

test('the bundle (scripts/bundle.sh) runs alone, with the .proto files beside it; the agent never loads the Kubernetes client, a reconcile-only controller never loads express', async (t) => {
  // node_modules/.cache exists only once a tool made it (a fresh `npm ci` has none).
  mkdirSync(path.join(REPO, 'node_modules', '.cache'), { recursive: true });
  const out = mkdtempSync(path.join(REPO, 'node_modules', '.cache', 'socat-relay-bundle-'));
  t.after(() => rmSync(out, { recursive: true, force: true }));
  const metafile = `${out}.meta.json`;
  t.after(() => rmSync(metafile, { force: true }));
  await exec('bash', [path.join(REPO, BUNDLE_SCRIPT), out, metafile], { cwd: REPO, timeout: 120_000 });
  const names = readdirSync(out);
  assert.ok(names.includes('main.js'));
  for (const proto of readdirSync(path.join(REPO, 'node-agent', 'csi')).filter((f) => f.endsWith('.proto')))
    assert.ok(names.includes(proto), `${proto} beside the bundle (node-agent/csi/proto.ts reads it there)`);
  // No node_modules above the copy: the bundle must hold every dependency it loads.
  const alone = mkdtempSync(path.join(os.tmpdir(), 'socat-relay-bundle-'));
  t.after(() => rmSync(alone, { recursive: true, force: true }));
  cpSync(out, path.join(alone, 'bundle'), { recursive: true });
  writeFileSync(path.join(alone, 'package.json'), '{"name":"socat-relay","version":"9.9.9","type":"module"}\n');
  const main = path.join(alone, 'bundle', 'main.js');
  const { stdout } = await exec(process.execPath, [main, '--help'], { cwd: alone, timeout: 30_000 });
  assert.match(stdout, /^ {2}controller /m);
  assert.match(stdout, /^ {2}agent /m);
  assert.match((await exec(process.execPath, [main, 'version'], { cwd: alone })).stdout, /9\.9\.9/);
  // Each command's chunk and what it imports statically: the code that is parsed when it starts.
  const meta = JSON.parse(readFileSync(metafile, 'utf8')) as Metafile;
  const loads = (cmd: string) => {
    const f = Object.keys(meta.outputs).find((o) => path.basename(o).startsWith(`${cmd}-`) && o.endsWith('.js'));
    assert.ok(f, `a chunk of its own for ${cmd} (cli/main.ts imports each command lazily)`);
    return [...staticInputs(meta, f)];
  };
  const has = (inputs: string[], p: string) => inputs.some((i) => i.includes(p));
  const agent = loads('agent');
  assert.ok(has(agent, 'node_modules/prom-client/'), 'the walk sees the dependencies');
  for (const heavy of ['@kubernetes/client-node', 'express', '@grpc/grpc-js'])
    assert.ok(!has(agent, `node_modules/${heavy}/`), `the agent does not load ${heavy}`);
  // The controller loads the admission server (express) only when it serves admission (cli/controller.ts
  // loadServing): a reconcile-only controller, on every worker, never does.
  const controller = loads('controller');
  assert.ok(has(controller, 'node_modules/@kubernetes/client-node/'));
  for (const serving of ['node_modules/express/', 'webhook/server/app.ts', 'webhook/certs/self-managed.ts'])
    assert.ok(!has(controller, serving), `the controller loads ${serving} only when it serves admission`);
});
