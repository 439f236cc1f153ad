// socat-relay static-pod: the static-pod manifest printed from manifests/node-agent/static-pod.yaml
// (the one agent manifest) with the chosen image on every container, comments kept, nothing else
// changed; a bad image or manifest is a clear error, not a manifest.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parse } from 'yaml';
import { findStaticPodManifest, run, staticPodManifest, STATIC_POD_RELATIVE } from '../../cli/static-pod.js';
import { DEFAULT_IMAGE } from '../../lib/image.js';
import { REPO } from '../harness/manifest-load.js';

function io() {
  const out = { stdout: '', stderr: '' };
  return {
    out,
    io: {
      stdin: process.stdin,
      stdout: { write: (s: string) => (out.stdout += s) },
      stderr: { write: (s: string) => (out.stderr += s) },
      env: {},
    },
  };
}
const source = readFileSync(path.join(REPO, STATIC_POD_RELATIVE), 'utf8');

test("it finds the repository's manifest from cli/ (and would from dist/cli/ or /app/dist/cli/)", () => {
  assert.equal(findStaticPodManifest(), path.join(REPO, STATIC_POD_RELATIVE));
  assert.equal(findStaticPodManifest(path.join(REPO, 'dist', 'cli')), path.join(REPO, STATIC_POD_RELATIVE));
  assert.equal(findStaticPodManifest('/'), undefined);
});

test("--image sets every container's image; everything else is the shipped manifest, comments included", async () => {
  const { out, io: cio } = io();
  assert.equal(await run(['--image', 'registry.example.com/mirror/socat-relay:9.9.9'], cio), 0, out.stderr);
  const got = parse(out.stdout);
  const want = parse(source);
  const images = [...(got.spec.containers ?? []), ...(got.spec.initContainers ?? [])].map(
    (c: { image: string }) => c.image,
  );
  assert.ok(
    images.length > 0 && images.every((i) => i === 'registry.example.com/mirror/socat-relay:9.9.9'),
    images.join(),
  );
  for (const list of ['containers', 'initContainers'])
    for (const c of want.spec[list] ?? []) c.image = 'registry.example.com/mirror/socat-relay:9.9.9';
  assert.deepEqual(got, want);
  assert.equal(
    out.stdout.split('\n').filter((l) => l.trimStart().startsWith('#')).length,
    source.split('\n').filter((l) => l.trimStart().startsWith('#')).length,
    'comments kept',
  );
  assert.doesNotMatch(out.stdout, /ghcr\.io/);
});

test('without --image: the default image, i.e. the shipped manifest as is', async () => {
  const { out, io: cio } = io();
  assert.equal(await run([], cio), 0);
  assert.deepEqual(parse(out.stdout), parse(source));
  assert.match(out.stdout, new RegExp(DEFAULT_IMAGE.replace(/[./]/g, '\\$&')));
});

test('a bad image, an unknown flag, a manifest that is not a Pod: an error and no manifest', async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'socat-relay-sp-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const notPod = path.join(dir, 'ds.yaml');
  writeFileSync(notPod, 'apiVersion: apps/v1\nkind: DaemonSet\nmetadata: {name: x}\n');
  const cases: [string[], number, RegExp][] = [
    [['--image', 'Not An Image'], 2, /--image: "Not An Image": repository/],
    [['--bogus'], 2, /Unknown option '--bogus'/],
    [['--manifest', notPod], 1, /is a DaemonSet, not a Pod/],
    [['--manifest', path.join(dir, 'missing.yaml')], 1, /ENOENT/],
  ];
  for (const [args, code, message] of cases) {
    const { out, io: cio } = io();
    assert.equal(await run(args, cio), code, args.join(' '));
    assert.match(out.stderr, message);
    assert.equal(out.stdout, '');
  }
  assert.throws(() => staticPodManifest('kind: Pod\nspec: {containers: []}\n', DEFAULT_IMAGE), /no container/);
});
