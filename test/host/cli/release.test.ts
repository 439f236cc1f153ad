// scripts/release.sh in a temporary clone of this repository (the working tree is never touched):
// refusals (not semver, dirty tree, existing tag) change nothing; a release stamps one version into
// package.json, the chart, the image references and the CHANGELOG, commits and tags it, packages the
// chart and saves the images as OCI archives whose config carries the OCI labels (read with tar + JSON).
// The images: the script's --from-images on the small sidecar image scripts/build-image.sh already made
// (stamping a 10 MB image takes seconds; rebuilding the stamped sources, the script's default, takes
// minutes and is not run here).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { podmanMissing } from '../../harness/podman.js';
import { required } from '../../harness/required.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const TESTBIN = process.env.TESTBIN_DIR ?? path.join(ROOT, '.testbin');
const REPO = 'localhost/release-test/socat-relay';
const OLD = (JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;

// Skips (outside CI; in CI they fail) decided by required(): helm from .testbin, podman and the image.
const podmanGone = podmanMissing();
// The sidecar image of the current sources (setup builds it), else the newest one of earlier sources:
// the test looks only at the labels the script adds.
const sidecarImages = podmanGone
  ? []
  : execFileSync(
      'podman',
      ['images', '--format', '{{.Repository}}:{{.Tag}}', '--filter', 'reference=localhost/socat-relay-sidecar:src-*'],
      { encoding: 'utf8' },
    )
      .split('\n')
      .filter(Boolean);
const current = podmanGone
  ? undefined
  : /^SIDECAR_IMAGE=(.*)$/m.exec(
      execFileSync('bash', ['scripts/build-image.sh', '--print'], { cwd: ROOT, encoding: 'utf8' }),
    )?.[1];
const sidecarSrc = current !== undefined && sidecarImages.includes(current) ? current : sidecarImages[0];
const haveImage = sidecarSrc !== undefined;
const skipImages = required(
  podmanGone ??
    (haveImage
      ? null
      : `no sidecar image of scripts/build-image.sh (${current ?? '?'}) in podman: npm run setup builds it`),
);
const skipHelm = required(
  existsSync(path.join(TESTBIN, 'helm')) ? null : `helm not found in ${TESTBIN}: npm run build:testbin`,
);

describe('scripts/release.sh in a temporary clone', () => {
  let dir = '';
  const git = (...args: string[]) => execFileSync('git', ['-C', dir, ...args], { encoding: 'utf8' }).trim();
  const release = (...args: string[]) =>
    spawnSync('bash', ['scripts/release.sh', ...args], {
      cwd: dir,
      encoding: 'utf8',
      env: {
        ...process.env,
        TESTBIN_DIR: TESTBIN,
        IMAGE_REPOSITORY: REPO,
        GIT_AUTHOR_NAME: 't',
        GIT_AUTHOR_EMAIL: 't@example.invalid',
      },
    });
  const read = (f: string) => readFileSync(path.join(dir, f), 'utf8');

  before(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'release-test-'));
    execFileSync('git', ['clone', '-q', ROOT, dir]);
    // The script as it is in the working tree (maybe not committed yet), committed in the clone so it is clean.
    copyFileSync(path.join(ROOT, 'scripts/release.sh'), path.join(dir, 'scripts/release.sh'));
    git(
      '-c',
      'user.name=t',
      '-c',
      'user.email=t@example.invalid',
      'commit',
      '-q',
      '--allow-empty',
      '-m',
      'test: release.sh under test',
      '--',
      'scripts/release.sh',
    );
  });
  after(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
    for (const v of ['1.2.0-rc.1']) spawnSync('podman', ['rmi', '-f', `${REPO}:${v}`, `${REPO}-sidecar:${v}`]);
  });

  test('refuses a VERSION that is not semver, naming it; nothing changes', { skip: skipHelm }, () => {
    const head = git('rev-parse', 'HEAD');
    for (const [v, why] of [
      ['v1.2.0', /not semver/],
      ['1.2', /not semver/],
      ['01.2.0', /not semver/],
      ['1.2.0+build.5', /\+build metadata cannot be part of an image tag/],
      ['1.2.0-', /not semver/],
    ] as const) {
      const r = release(v, '--skip-images');
      assert.equal(r.status, 2, `${v}: ${r.stderr}`);
      assert.match(r.stderr, why, v);
      assert.match(r.stderr, new RegExp(v.replace(/[.+]/g, '\\$&')));
    }
    assert.equal(git('rev-parse', 'HEAD'), head);
    assert.equal(git('status', '--porcelain'), '');
    assert.equal(git('tag'), '');
  });

  test('refuses a dirty tree unless --allow-dirty', { skip: skipHelm }, () => {
    writeFileSync(path.join(dir, 'scratch.txt'), 'not part of the release\n');
    const r = release('1.2.0-rc.1', '--skip-images');
    assert.equal(r.status, 2);
    assert.match(r.stderr, /uncommitted changes .*--allow-dirty/);
    assert.equal(git('tag'), '');
  });

  test(
    'a release: one version in package.json, the chart, the image references, the CHANGELOG; committed and tagged; the chart packaged; images labeled and saved',
    { skip: skipHelm || skipImages },
    () => {
      const v = '1.2.0-rc.1';
      const r = release(v, '--allow-dirty', '--from-images', `${sidecarSrc},${sidecarSrc}`);
      assert.equal(r.status, 0, r.stderr);
      assert.equal((JSON.parse(read('package.json')) as { version: string }).version, v);
      assert.equal(
        (JSON.parse(read('package-lock.json')) as { packages: Record<string, { version: string }> }).packages['']!
          .version,
        v,
      );
      const chart = parse(read('charts/socat-relay/Chart.yaml')) as { version: string; appVersion: string };
      assert.deepEqual([chart.version, chart.appVersion], [v, v]);
      assert.match(
        read('lib/image.ts'),
        new RegExp(`DEFAULT_IMAGE = 'ghcr\\.io/socat-relay/socat-relay:${v.replace(/\./g, '\\.')}'`),
      );
      assert.match(
        read('manifests/controller/daemonset.yaml'),
        new RegExp(`image: ghcr\\.io/socat-relay/socat-relay:${v.replace(/\./g, '\\.')}`),
      );
      const left = spawnSync(
        'git',
        [
          '-C',
          dir,
          'grep',
          '-nE',
          `socat-relay(-sidecar)?:${OLD.replace(/\./g, '\\.')}([^0-9A-Za-z.+-]|$)`,
          '--',
          '.',
          ':!CHANGELOG.md',
        ],
        { encoding: 'utf8' },
      );
      assert.equal(left.stdout, '', 'no image reference of the old version is left');
      const tags = spawnSync(
        'git',
        ['-C', dir, 'grep', '-nE', `newTag:\\s*["']?${OLD.replace(/\./g, '\\.')}["']?\\s*$`],
        { encoding: 'utf8' },
      );
      assert.equal(tags.stdout, '', 'no kustomize newTag of the old version is left');
      assert.match(read('manifests/kustomization.yaml'), new RegExp(`newTag: ${v.replace(/\./g, '\\.')}\\n`));
      assert.match(
        read('CHANGELOG.md'),
        new RegExp(
          `^# Changelog\\n[\\s\\S]*?\\n## ${v.replace(/\./g, '\\.')} — \\d{4}-\\d{2}-\\d{2}\\n\\n- first versioned release`,
        ),
      );
      // Committed (only the stamped files; the scratch file stays untracked) and tagged.
      assert.equal(git('log', '-1', '--format=%s'), `release: ${v}`);
      assert.equal(git('rev-parse', `v${v}^{commit}`), git('rev-parse', 'HEAD'));
      assert.equal(git('status', '--porcelain'), '?? scratch.txt');
      const revision = git('rev-parse', 'HEAD');

      const out = path.join(dir, 'dist/release', v);
      const packaged = parse(
        execFileSync('tar', ['-xOzf', path.join(out, `socat-relay-${v}.tgz`), 'socat-relay/Chart.yaml'], {
          encoding: 'utf8',
        }),
      ) as { version: string; appVersion: string };
      assert.deepEqual([packaged.version, packaged.appVersion], [v, v]);
      for (const [name, title] of [
        ['socat-relay', 'socat-relay'],
        ['socat-relay-sidecar', 'socat-relay-sidecar'],
      ] as const) {
        const archive = path.join(out, `${name}-${v}.oci.tar`);
        const blob = (digest: string) =>
          JSON.parse(
            execFileSync('tar', ['-xOf', archive, `blobs/sha256/${digest.replace(/^sha256:/, '')}`], {
              encoding: 'utf8',
            }),
          );
        const index = JSON.parse(execFileSync('tar', ['-xOf', archive, 'index.json'], { encoding: 'utf8' })) as {
          manifests: { digest: string; annotations?: Record<string, string> }[];
        };
        assert.equal(
          index.manifests[0]!.annotations?.['org.opencontainers.image.ref.name'],
          `${REPO}${name.slice('socat-relay'.length)}:${v}`,
        );
        const manifest = blob(index.manifests[0]!.digest) as {
          config: { digest: string };
          annotations?: Record<string, string>;
        };
        const labels = (blob(manifest.config.digest) as { config: { Labels: Record<string, string> } }).config.Labels;
        for (const where of [labels, manifest.annotations ?? {}]) {
          assert.equal(where['org.opencontainers.image.version'], v, name);
          assert.equal(where['org.opencontainers.image.revision'], revision, name);
          assert.equal(where['org.opencontainers.image.source'], 'https://github.com/socat-relay/socat-relay', name);
          assert.equal(where['org.opencontainers.image.title'], title, name);
          assert.ok(
            Math.abs(Date.parse(where['org.opencontainers.image.created']!) - Date.now()) < 10 * 60_000,
            `${name}: created ${where['org.opencontainers.image.created']}`,
          );
        }
      }
      const sums = spawnSync('sha256sum', ['-c', 'SHA256SUMS'], { cwd: out, encoding: 'utf8' });
      assert.equal(sums.status, 0, sums.stdout + sums.stderr);
      assert.equal(sums.stdout.trim().split('\n').length, 3, sums.stdout);
    },
  );

  test(
    'the next release lists the commits since the previous tag, newest entry first; an existing tag is refused',
    { skip: skipHelm || skipImages },
    () => {
      git(
        '-c',
        'user.name=t',
        '-c',
        'user.email=t@example.invalid',
        'commit',
        '-q',
        '--allow-empty',
        '-m',
        'docs: a change after the rc',
      );
      const r = release('1.2.0', '--allow-dirty', '--skip-images');
      assert.equal(r.status, 0, r.stderr);
      const log = read('CHANGELOG.md');
      const rc = log.indexOf('## 1.2.0-rc.1');
      const final = log.indexOf('## 1.2.0 ');
      assert.ok(final > 0 && rc > final, log);
      assert.match(log.slice(final, rc), /\n- docs: a change after the rc\n/);
      assert.ok(existsSync(path.join(dir, 'dist/release/1.2.0/socat-relay-1.2.0.tgz')));
      assert.ok(
        !existsSync(path.join(dir, 'dist/release/1.2.0/socat-relay-1.2.0.oci.tar')),
        '--skip-images saves no image',
      );
      const again = release('1.2.0', '--allow-dirty', '--skip-images');
      assert.equal(again.status, 2);
      assert.match(again.stderr, /tag v1\.2\.0 exists already/);
    },
  );
});
