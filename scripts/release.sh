#!/usr/bin/env bash
# Cuts a release: one version stamped everywhere, the chart packaged and the images saved, all local
# (no registry, no push). docs/upgrade.md#releasing says what it does and how to publish the result.
# Usage: scripts/release.sh VERSION [--allow-dirty] [--skip-images] [--from-images CONTROLLER,SIDECAR]
#   VERSION       semver MAJOR.MINOR.PATCH[-PRERELEASE] (no +build metadata: it cannot be an image tag)
#   --allow-dirty     run on a working tree with uncommitted changes (only the stamped files are committed)
#   --skip-images     stamp, commit, tag and package the chart; build and save no image
#   --from-images C,S label and save these already built images (controller, sidecar) instead of
#                     building the stamped sources with scripts/build-image.sh (tests; a rebuild takes minutes)
# Steps:
#   1. stamps VERSION into package.json (and package-lock.json), the chart's version and appVersion (the
#      chart's image.tag defaults to appVersion), and every image reference `…/socat-relay[-sidecar]:OLD`
#      in the repository (manifests, lib/image.ts's default image, docs, the tests that spell it), and
#      the kustomizations' `newTag: OLD`;
#   2. adds a CHANGELOG.md entry (the commit subjects since the previous v* tag), commits "release: VERSION"
#      and tags vVERSION (local);
#   3. `helm package`s the chart into dist/release/VERSION/;
#   4. builds the images of the stamped sources (scripts/build-image.sh), tags them
#      $IMAGE_REPOSITORY:VERSION and $IMAGE_REPOSITORY-sidecar:VERSION with the OCI labels and annotations
#      org.opencontainers.image.{version,revision,source,created,title,licenses}, and saves each as an
#      OCI archive (`podman save --format oci-archive`) into dist/release/VERSION/, with SHA256SUMS.
# Env: IMAGE_REPOSITORY (default ghcr.io/socat-relay/socat-relay), SOURCE_URL (default the chart's home).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
log() { echo "[release] $*" >&2; }
die() { echo "[release] $*" >&2; exit 2; }

VERSION="" ALLOW_DIRTY=0 SKIP_IMAGES=0 FROM_IMAGES=""
while [ $# -gt 0 ]; do
  case "$1" in
    --allow-dirty) ALLOW_DIRTY=1 ;;
    --skip-images) SKIP_IMAGES=1 ;;
    --from-images) [ $# -ge 2 ] || die "--from-images needs CONTROLLER,SIDECAR"; FROM_IMAGES="$2"; shift ;;
    -h|--help) sed -n '2,22p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) die "unknown option $1" ;;
    *) [ -z "$VERSION" ] || die "one VERSION only (got \"$VERSION\" and \"$1\")"; VERSION="$1" ;;
  esac
  shift
done
[ -n "$VERSION" ] || die "usage: scripts/release.sh VERSION [--allow-dirty] [--skip-images] [--from-images CONTROLLER,SIDECAR]"
SEMVER='^(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)(-(0|[1-9][0-9]*|[0-9]*[A-Za-z-][0-9A-Za-z-]*)(\.(0|[1-9][0-9]*|[0-9]*[A-Za-z-][0-9A-Za-z-]*))*)?$'
if [[ "$VERSION" == *+* ]]; then die "VERSION \"$VERSION\": +build metadata cannot be part of an image tag; use a pre-release (-rc.1)"; fi
[[ "$VERSION" =~ $SEMVER ]] || die "VERSION \"$VERSION\" is not semver MAJOR.MINOR.PATCH[-PRERELEASE] (e.g. 1.2.0, 1.2.0-rc.1; no leading v)"
if [ -n "$FROM_IMAGES" ] && { [ "$SKIP_IMAGES" = 1 ] || [[ "$FROM_IMAGES" != *,* ]]; }; then
  die "--from-images takes CONTROLLER,SIDECAR and does not go with --skip-images"
fi
git rev-parse --git-dir >/dev/null 2>&1 || die "not a git repository: $ROOT"
if [ "$ALLOW_DIRTY" = 0 ] && [ -n "$(git status --porcelain)" ]; then
  die "the working tree has uncommitted changes (git status): commit or stash them, or pass --allow-dirty"
fi
git rev-parse -q --verify "refs/tags/v$VERSION" >/dev/null && die "tag v$VERSION exists already"

NODE="$(command -v node || true)"
if [ -f scripts/node-env.sh ]; then . scripts/node-env.sh; use_node24 >/dev/null 2>&1 || true; NODE="$(command -v node || echo "$NODE")"; fi
[ -n "$NODE" ] || die "node is needed to edit package.json"
HELM="$(command -v helm || true)"; [ -n "$HELM" ] || HELM="${TESTBIN_DIR:-$ROOT/.testbin}/helm"
[ -x "$HELM" ] || die "helm not found (PATH or .testbin/helm: npm run build:testbin)"
if [ "$SKIP_IMAGES" = 0 ]; then command -v podman >/dev/null || die "podman not found (or pass --skip-images)"; fi

OLD="$("$NODE" -p "require('./package.json').version")"
CHART=charts/socat-relay
OUT="dist/release/$VERSION"
IMAGE_REPOSITORY="${IMAGE_REPOSITORY:-ghcr.io/socat-relay/socat-relay}"
SOURCE_URL="${SOURCE_URL:-$(sed -n 's/^home:[[:space:]]*//p' "$CHART/Chart.yaml")}"
log "version $OLD -> $VERSION"

# 1. Stamp.
"$NODE" -e '
  const fs = require("fs"), v = process.argv[1];
  for (const f of ["package.json", "package-lock.json"]) {
    if (!fs.existsSync(f)) continue;
    const j = JSON.parse(fs.readFileSync(f, "utf8"));
    j.version = v;
    if (j.packages && j.packages[""]) j.packages[""].version = v;
    fs.writeFileSync(f, JSON.stringify(j, null, 2) + "\n");
  }' "$VERSION"
sed -i -E "s/^version:.*/version: $VERSION/; s/^appVersion:.*/appVersion: \"$VERSION\"/" "$CHART/Chart.yaml"
stamped=(package.json "$CHART/Chart.yaml")
[ -f package-lock.json ] && stamped+=(package-lock.json)
if [ "$OLD" != "$VERSION" ]; then
  # Any image named socat-relay or socat-relay-sidecar tagged OLD: ours, a mirror's or an example registry's.
  old_re="socat-relay(-sidecar)?:${OLD//./\\.}([^0-9A-Za-z.+-]|\$)"
  while IFS= read -r f; do
    sed -i -E "s#(socat-relay(-sidecar)?):${OLD//./\\.}([^0-9A-Za-z.+-]|\$)#\\1:$VERSION\\3#g" "$f"
    stamped+=("$f")
  done < <(git grep -lE "$old_re" -- . ':!CHANGELOG.md' || true)
  # kustomize `images:` entries (newTag) and the chart README's `--set image.tag=` example.
  while IFS= read -r f; do
    sed -i -E "s#^([[:space:]]*newTag:[[:space:]]*)([\"']?)${OLD//./\\.}([\"']?)[[:space:]]*\$#\\1\\2$VERSION\\3#; s#image\.tag=${OLD//./\\.}([^0-9A-Za-z.+-]|\$)#image.tag=$VERSION\\1#g" "$f"
    stamped+=("$f")
  done < <(git grep -lE "newTag:[[:space:]]*[\"']?${OLD//./\\.}[\"']?[[:space:]]*\$|image\.tag=${OLD//./\\.}([^0-9A-Za-z.+-]|\$)" -- . ':!CHANGELOG.md' || true)
fi

# 2. CHANGELOG entry, commit, tag.
prev="$(git describe --tags --abbrev=0 --match 'v[0-9]*' 2>/dev/null || true)"
entry="$(mktemp)"; trap 'rm -f "$entry"' EXIT
{
  echo "## $VERSION — $(date -u +%Y-%m-%d)"
  echo
  if [ -n "$prev" ]; then
    git log --no-merges --format='- %s' "$prev..HEAD" | grep -v '^- release: ' || echo "- no changes since $prev"
  else
    echo "- first versioned release ($(git rev-list --count HEAD) commits); upgrading: docs/upgrade.md"
  fi
  echo
} >"$entry"
if [ -f CHANGELOG.md ]; then
  # After the file's header (the lines before the first "## " entry).
  awk -v entry="$entry" 'BEGIN { done = 0 } /^## / && !done { while ((getline l < entry) > 0) print l; done = 1 } { print } END { if (!done) while ((getline l < entry) > 0) print l }' CHANGELOG.md >CHANGELOG.md.tmp
  mv CHANGELOG.md.tmp CHANGELOG.md
else
  { printf '# Changelog\n\nOne entry per release (scripts/release.sh); upgrade notes: docs/upgrade.md.\n\n'; cat "$entry"; } >CHANGELOG.md
fi
stamped+=(CHANGELOG.md)
git add -- "${stamped[@]}"
git -c user.name="${GIT_AUTHOR_NAME:-socat-relay release}" -c user.email="${GIT_AUTHOR_EMAIL:-release@socat-relay.invalid}" \
  commit -q -m "release: $VERSION" -- "${stamped[@]}"
git tag "v$VERSION"
REVISION="$(git rev-parse HEAD)"
CREATED="$(date -u +%Y-%m-%dT%H:%M:%SZ)"
log "committed and tagged v$VERSION ($REVISION)"

# 3. The chart.
mkdir -p "$OUT"
"$HELM" package "$CHART" --destination "$OUT" >/dev/null
log "chart: $OUT/socat-relay-$VERSION.tgz"

# 4. The images.
if [ "$SKIP_IMAGES" = 0 ]; then
  if [ -n "$FROM_IMAGES" ]; then
    src_controller="${FROM_IMAGES%%,*}" src_sidecar="${FROM_IMAGES#*,}"
  else
    built="$(bash scripts/build-image.sh)"
    src_controller="$(sed -n 's/^IMAGE=//p' <<<"$built")" src_sidecar="$(sed -n 's/^SIDECAR_IMAGE=//p' <<<"$built")"
  fi
  ctx="$(mktemp -d)"; trap 'rm -f "$entry"; rm -rf "$ctx"' EXIT
  stamp_image() { # stamp_image SOURCE TARGET TITLE
    local meta=() k v
    for kv in "version=$VERSION" "revision=$REVISION" "source=$SOURCE_URL" "created=$CREATED" "title=$3" "licenses=Apache-2.0"; do
      k="org.opencontainers.image.${kv%%=*}" v="${kv#*=}"
      meta+=(--label "$k=$v" --annotation "$k=$v")
    done
    printf 'FROM %s\n' "$1" | podman build -q --pull=never "${meta[@]}" -t "$2" -f - "$ctx" >/dev/null
    podman save -q --format oci-archive -o "$OUT/$(basename "${2%%:*}")-$VERSION.oci.tar" "$2"
    log "image: $2 ($OUT/$(basename "${2%%:*}")-$VERSION.oci.tar)"
  }
  stamp_image "$src_controller" "$IMAGE_REPOSITORY:$VERSION" socat-relay
  stamp_image "$src_sidecar" "$IMAGE_REPOSITORY-sidecar:$VERSION" socat-relay-sidecar
fi
(cd "$OUT" && sha256sum -- * | grep -v ' SHA256SUMS$' >SHA256SUMS)
log "done: $OUT (publish: docs/upgrade.md#releasing)"
ls -1 "$OUT"
