#!/usr/bin/env bash
# Builds the image of the project's Dockerfile with podman, without any image registry, and saves it as
# an OCI archive that containerd imports (`ctr images import`). Three layers of caching, each a fast
# no-op once done:
#   1. a Debian bookworm minbase root filesystem (debootstrap, + ca-certificates and libstdc++6), made
#      once per machine into $OUT/debootstrap-bookworm.tar;
#   2. the base image localhost/socat-relay-node-base:<node>-<npm>: that root filesystem + the node
#      binary NODE_BIN (default: Node >= 24 as scripts/node-env.sh picks it) + the npm package folder
#      NPM_DIR (default: the npm on PATH), passed to the Dockerfile as NODE_IMAGE; and localhost/socat-relay-pause:bookworm (the same
#      root filesystem, `sleep infinity`: the sandbox image of the test node's containerd);
#   3. localhost/socat-relay:src-<hash> (the default target: controller and agent) and
#      localhost/socat-relay-sidecar:src-<hash> (--target sidecar: the injected socat), where <hash>
#      covers the Dockerfile, .dockerignore, every file the Dockerfile COPYs from the build context and
#      the base image's tag — a change to any of them gives a new tag, so no test runs a stale image —
#      saved as $OUT/socat-relay-src-<hash>.oci.tar and $OUT/socat-relay-sidecar-src-<hash>.oci.tar.
# npm inside the build trusts the same CA bundle as this machine's npm (mounted into the build with an
# .npmrc naming it), so a TLS-intercepting proxy with its own CA works as it does on the host.
# Usage: scripts/build-image.sh [--print]
#   --print  only print what the current sources would give (no build).
# Prints (stdout): IMAGE=, ARCHIVE=, SIDECAR_IMAGE=, SIDECAR_ARCHIVE=, PAUSE_IMAGE=, PAUSE_ARCHIVE= (tag or
# OCI archive path each).
# Exit 3: podman or debootstrap is missing (scripts/setup.sh installs them).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
OUT="${TESTBIN_DIR:-$ROOT/.testbin}/image"
SUITE="${DEBIAN_SUITE:-bookworm}"
# The Debian mirror: DEBIAN_MIRROR, else the one this machine's apt already uses (the first main archive
# in its sources), so the base comes from wherever the machine's packages come from.
apt_mirror() {
  { sed -n 's/^URIs:[[:space:]]*\([^[:space:]]*\).*/\1/p' /etc/apt/sources.list.d/*.sources 2>/dev/null
    sed -n 's/^deb[[:space:]]\+\(\[[^]]*\][[:space:]]\+\)\?\([^[:space:]]*\).*/\2/p' /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null
  } | grep -v -- '-security' | head -n 1 || true   # a missing sources file is not an error
}
MIRROR="${DEBIAN_MIRROR:-$(apt_mirror)}"
[ -n "$MIRROR" ] || { echo "[build-image] no Debian mirror: set DEBIAN_MIRROR (none found in /etc/apt/sources*)" >&2; exit 3; }
# The Node.js the project runs on (Node >= 24: the machine's, or the one setup.sh put into .testbin).
if [ -z "${NODE_BIN:-}" ] && [ -f scripts/node-env.sh ]; then
  . scripts/node-env.sh
  use_node24 || true
fi
NODE_BIN="${NODE_BIN:-$(command -v node || true)}"
NPM_DIR="${NPM_DIR:-}"
IMAGE_REPO=localhost/socat-relay
BASE_REPO=localhost/socat-relay-node-base
ROOTFS_IMAGE=localhost/socat-relay-rootfs:$SUITE
PAUSE_IMAGE=localhost/socat-relay-pause:$SUITE

log() { echo "[build-image] $*" >&2; }
# Call it outside `||`/`&&` lists (use if-blocks): there bash ignores set -e inside CMD and a failure would pass.
timed() { local label=$1 t0=$SECONDS; shift; "$@"; log "$label: $((SECONDS - t0)) s"; }

[ -n "$NODE_BIN" ] && [ -x "$NODE_BIN" ] || { log "no node binary (NODE_BIN or node on PATH)"; exit 3; }
NODE_BIN="$(readlink -f "$NODE_BIN")"
if [ -z "$NPM_DIR" ]; then
  npm_cli="$(readlink -f "$(command -v npm || true)" 2>/dev/null || true)"   # …/npm/bin/npm-cli.js
  [ -n "$npm_cli" ] && NPM_DIR="$(cd "$(dirname "$npm_cli")/.." && pwd)"
fi
[ -f "$NPM_DIR/package.json" ] || { log "no npm package folder (NPM_DIR or npm on PATH)"; exit 3; }
node_version="$("$NODE_BIN" --version)"
npm_version="$("$NODE_BIN" -p "require('$NPM_DIR/package.json').version")"
BASE_IMAGE="$BASE_REPO:$node_version-npm$npm_version"

# The files the Dockerfile copies from the build context: every COPY without --from, all but the last word.
copied_sources() {
  sed -n 's/^[[:space:]]*COPY[[:space:]]\+//p' Dockerfile | grep -v -- '--from=' | awk '{ for (i = 1; i < NF; i++) print $i }'
}
source_hash() {
  { echo "$BASE_IMAGE"
    # shellcheck disable=SC2046
    find Dockerfile .dockerignore $(copied_sources) -type f -print0 2>/dev/null | LC_ALL=C sort -z | xargs -0 sha256sum
  } | sha256sum | cut -c1-16
}
HASH="$(source_hash)"
IMAGE="$IMAGE_REPO:src-$HASH"
ARCHIVE="$OUT/socat-relay-src-$HASH.oci.tar"
SIDECAR_IMAGE="$IMAGE_REPO-sidecar:src-$HASH"
SIDECAR_ARCHIVE="$OUT/socat-relay-sidecar-src-$HASH.oci.tar"
PAUSE_ARCHIVE="$OUT/socat-relay-pause-$SUITE.oci.tar"
print() {
  printf 'IMAGE=%s\nARCHIVE=%s\nSIDECAR_IMAGE=%s\nSIDECAR_ARCHIVE=%s\nPAUSE_IMAGE=%s\nPAUSE_ARCHIVE=%s\n' \
    "$IMAGE" "$ARCHIVE" "$SIDECAR_IMAGE" "$SIDECAR_ARCHIVE" "$PAUSE_IMAGE" "$PAUSE_ARCHIVE"
}
if [ "${1:-}" = --print ]; then print; exit 0; fi
if [ -s "$ARCHIVE" ] && [ -s "$SIDECAR_ARCHIVE" ] && [ -s "$PAUSE_ARCHIVE" ]; then
  log "up to date: $IMAGE ($ARCHIVE)"
  print
  exit 0
fi

for tool in podman debootstrap; do
  command -v "$tool" >/dev/null 2>&1 || { log "MISSING: $tool (scripts/setup.sh installs it)"; exit 3; }
done
mkdir -p "$OUT"
work="$(mktemp -d "${TMPDIR:-/tmp}/socat-relay-image.XXXXXX")"
trap 'rm -rf "$work"' EXIT

# 1. The root filesystem, once per machine (about a minute; podman's copy of it is enough).
rootfs_tar="$OUT/debootstrap-$SUITE.tar"
make_rootfs() {
  local dir="$work/rootfs"
  debootstrap --variant=minbase --include=ca-certificates,libstdc++6 "$SUITE" "$dir" "$MIRROR" >"$work/debootstrap.log" 2>&1 \
    || { tail -20 "$work/debootstrap.log" >&2; return 1; }
  rm -rf "$dir"/var/cache/apt/archives/*.deb "$dir"/var/lib/apt/lists/*
  tar --numeric-owner -C "$dir" -cf "$rootfs_tar.tmp" . && mv "$rootfs_tar.tmp" "$rootfs_tar"
}
if ! podman image exists "$ROOTFS_IMAGE"; then
  if ! [ -s "$rootfs_tar" ]; then timed "debootstrap $SUITE minbase" make_rootfs; fi
  timed "import $ROOTFS_IMAGE" podman import -q "$rootfs_tar" "$ROOTFS_IMAGE" >/dev/null
fi

# 2. The base image with Node.js, and the sandbox image.
make_base() {
  local ctx="$work/base"
  mkdir -p "$ctx/npm"
  cp "$NODE_BIN" "$ctx/node"
  cp -a "$NPM_DIR/." "$ctx/npm/"
  cat >"$ctx/Containerfile" <<EOF
FROM $ROOTFS_IMAGE
COPY node /usr/local/bin/node
COPY npm /usr/local/lib/node_modules/npm
RUN ln -s ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm \\
 && ln -s ../lib/node_modules/npm/bin/npx-cli.js /usr/local/bin/npx \\
 && node --version && npm --version
EOF
  podman build -q --network host -t "$BASE_IMAGE" "$ctx" >/dev/null
}
if ! podman image exists "$BASE_IMAGE"; then timed "base image $BASE_IMAGE" make_base; fi
make_pause() {
  printf 'FROM %s\nENTRYPOINT ["/bin/sleep", "infinity"]\n' "$ROOTFS_IMAGE" | podman build -q -t "$PAUSE_IMAGE" -f - "$work" >/dev/null
}
if ! podman image exists "$PAUSE_IMAGE"; then timed "sandbox image $PAUSE_IMAGE" make_pause; fi
if [ ! -s "$PAUSE_ARCHIVE" ]; then
  podman save -q --format oci-archive -o "$PAUSE_ARCHIVE.tmp" "$PAUSE_IMAGE" && mv "$PAUSE_ARCHIVE.tmp" "$PAUSE_ARCHIVE"
fi

# 3. The project's images, then their archives.
make_image() { # make_image TAG [--target T]
  local tag=$1 ca npmrc="$work/npmrc"; shift
  ca="$(npm config get cafile 2>/dev/null || true)"
  [ -f "$ca" ] || ca=/etc/ssl/certs/ca-certificates.crt
  { echo "registry=$(npm config get registry)"; echo "cafile=/etc/ssl/certs/build-ca.crt"; } >"$npmrc"
  podman build --network host --build-arg "NODE_IMAGE=$BASE_IMAGE" \
    -v "$ca:/etc/ssl/certs/build-ca.crt:ro" -v "$npmrc:/root/.npmrc:ro" \
    "$@" -t "$tag" -f Dockerfile . >"$work/build.log" 2>&1 || { tail -30 "$work/build.log" >&2; return 1; }
}
save() { # save TAG ARCHIVE
  podman save -q --format oci-archive -o "$2.tmp" "$1" && mv "$2.tmp" "$2"
}
if ! podman image exists "$IMAGE"; then timed "podman build $IMAGE" make_image "$IMAGE"; fi
if ! podman image exists "$SIDECAR_IMAGE"; then timed "podman build --target sidecar $SIDECAR_IMAGE" make_image "$SIDECAR_IMAGE" --target sidecar; fi
timed "save $ARCHIVE" save "$IMAGE" "$ARCHIVE"
timed "save $SIDECAR_ARCHIVE" save "$SIDECAR_IMAGE" "$SIDECAR_ARCHIVE"
# Images and archives of older sources: the newest few stay (other checkouts sharing TESTBIN_DIR may use
# them), the rest go, so podman's storage does not grow with every change.
for prefix in socat-relay-src- socat-relay-sidecar-src-; do
  # shellcheck disable=SC2012
  ls -t "$OUT/$prefix"*.oci.tar 2>/dev/null | tail -n +5 | xargs -r rm -f
done
for repo in "$IMAGE_REPO" "$IMAGE_REPO-sidecar"; do
  podman images --sort created --format '{{.Repository}}:{{.Tag}}' --filter "reference=$repo:src-*" | tail -n +5 | xargs -r podman rmi -f >/dev/null 2>&1 || true
done
# The Dockerfile's build stage leaves an untagged image per build (about 0.5 GB): the newest two stay as
# the layer cache of the next build, older ones go.
podman images --sort created --format '{{.ID}}' --filter dangling=true --filter label=io.socat-relay.stage=build | tail -n +3 | xargs -r podman rmi -f >/dev/null 2>&1 || true
print
