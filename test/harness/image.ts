// The image the project's Dockerfile builds, as OCI archives for containerd: scripts/build-image.sh
// (podman, a local debootstrap base, no registry) is the one place that knows the tag — a hash of the
// sources the Dockerfile copies — so a test asks it, and it rebuilds first when the sources changed.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { REPO_ROOT } from './binaries.js';

export interface ProjectImage {
  /** localhost/socat-relay:src-<hash> (controller and agent) */
  image: string;
  archive: string;
  /** localhost/socat-relay-sidecar:src-<hash> (the Dockerfile's sidecar target: socat alone) */
  sidecarImage: string;
  sidecarArchive: string;
  /** The sandbox ("pause") image: the same Debian base, `sleep infinity`. */
  pauseImage: string;
  pauseArchive: string;
}

const SCRIPT = path.join(REPO_ROOT, 'scripts', 'build-image.sh');

function parse(stdout: string): ProjectImage {
  const kv = Object.fromEntries(
    stdout
      .trim()
      .split('\n')
      .map((l) => l.split('=', 2) as [string, string]),
  );
  const img = {
    image: kv.IMAGE,
    archive: kv.ARCHIVE,
    sidecarImage: kv.SIDECAR_IMAGE,
    sidecarArchive: kv.SIDECAR_ARCHIVE,
    pauseImage: kv.PAUSE_IMAGE,
    pauseArchive: kv.PAUSE_ARCHIVE,
  };
  if (Object.values(img).some((v) => !v)) throw new Error(`scripts/build-image.sh printed no image:\n${stdout}`);
  return img as ProjectImage;
}

class ImageBuildError extends Error {
  constructor(
    readonly exitCode: number | null,
    readonly output: string,
  ) {
    super(
      `scripts/build-image.sh failed (exit ${exitCode}${exitCode === 3 ? ': podman or debootstrap missing, run scripts/setup.sh' : ''}):\n${output.split('\n').slice(-30).join('\n')}`,
    );
    this.name = 'ImageBuildError';
  }
}

/** Builds the image when the sources changed (a no-op otherwise) and returns it. */
export function buildProjectImage(): Promise<ProjectImage> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', [SCRIPT], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (err += c.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) reject(new ImageBuildError(code, err + out));
      else resolve(parse(out));
    });
  });
}
