// The one image setting: controller and agent run `<repository>:<tag>`, the injected sidecar (socat
// and its libraries only, the Dockerfile's `sidecar` target) runs `<repository>-sidecar:<tag>`. The
// sidecar's name is derived here and nowhere else, so a kustomize `images:` entry or the Helm values
// `image.repository`/`image.tag` move all three.

/** The image the manifests and the chart ship with. */
export const DEFAULT_IMAGE = 'ghcr.io/socat-relay/socat-relay:0.1.0';
const SIDECAR_SUFFIX = '-sidecar';

export interface ImageRef {
  /** registry/path/name, without tag or digest */
  repository: string;
  tag?: string;
  digest?: string;
}

export class ImageRefError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ImageRefError';
  }
}

// A reference as container runtimes read it: [registry[:port]/]path[:tag][@algo:hex].
const REPOSITORY = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$/;
const REGISTRY =
  /^(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*(?::\d+)?|\[[0-9a-fA-F:]+\](?::\d+)?)$/;
const TAG = /^[\w][\w.-]{0,127}$/;
const DIGEST = /^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-fA-F0-9]{32,}$/;

/** Parses an image reference; throws ImageRefError saying what is wrong. */
export function parseImageRef(ref: string): ImageRef {
  if (ref.trim() !== ref || ref === '')
    throw new ImageRefError(`"${ref}" is not an image reference (empty or surrounded by spaces)`);
  let rest = ref;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!DIGEST.test(digest)) throw new ImageRefError(`"${ref}": digest "${digest}" is not algorithm:hex`);
  }
  let tag: string | undefined;
  const lastSlash = rest.lastIndexOf('/');
  const colon = rest.lastIndexOf(':');
  if (colon > lastSlash) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG.test(tag)) throw new ImageRefError(`"${ref}": tag "${tag}" is not a valid tag`);
  }
  const parts = rest.split('/');
  const first = parts[0]!;
  const hasRegistry =
    parts.length > 1 && (first.includes('.') || first.includes(':') || first === 'localhost' || first.startsWith('['));
  if (hasRegistry && !REGISTRY.test(first))
    throw new ImageRefError(`"${ref}": registry "${first}" is not a host[:port]`);
  const path = hasRegistry ? parts.slice(1).join('/') : rest;
  if (!REPOSITORY.test(path))
    throw new ImageRefError(`"${ref}": repository "${path}" must be lowercase letters, digits and separators`);
  return { repository: rest, ...(tag !== undefined ? { tag } : {}), ...(digest !== undefined ? { digest } : {}) };
}

/**
 * `<repository>-sidecar:<tag>` for the controller/agent image `ref`. A digest names one image's bytes
 * and cannot be carried over to the other image, so a reference without a tag is refused: set the
 * sidecar image explicitly then.
 */
export function sidecarImageOf(ref: string): string {
  const r = parseImageRef(ref);
  if (r.tag === undefined) {
    throw new ImageRefError(
      `cannot derive the sidecar image from "${ref}": it has no tag${r.digest ? ' (a digest belongs to one image only)' : ''}; set the sidecar image explicitly`,
    );
  }
  return `${r.repository}${SIDECAR_SUFFIX}:${r.tag}`;
}

export const DEFAULT_SIDECAR_IMAGE = sidecarImageOf(DEFAULT_IMAGE);
