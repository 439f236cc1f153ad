#!/usr/bin/env bash
# Builds a pinned kube-apiserver and etcd from the Go module proxy into .testbin/ (git-ignored).
# k8s.io/kubernetes and etcd's server module both replace their sibling modules with local paths, so
# `go install …@version` refuses them; a throw-away wrapper module requires the release and replaces
# each sibling with its published version (the list is read from the go.mod the proxy serves).
# A second run with the binaries present is a no-op; Go's module and build caches stay in their default
# places so a rebuild is fast.
set -euo pipefail

K8S_VERSION="${K8S_VERSION:-v1.34.4}"
ETCD_VERSION="${ETCD_VERSION:-v3.6.16}"
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
OUT="${TESTBIN_DIR:-$ROOT/.testbin}"
BUILD="$OUT/build"

log() { echo "[build-apiserver] $*" >&2; }

# version_of BINARY: its --version output (captured first: `grep -q` in a pipe under pipefail could
# report a SIGPIPE of the writer as a mismatch).
version_of() { [ -x "$1" ] && "$1" --version 2>/dev/null || true; }
need_apiserver=1; need_etcd=1
v="$(version_of "$OUT/kube-apiserver")"
if [ "${v%%$'\n'*}" = "Kubernetes $K8S_VERSION" ]; then need_apiserver=0; fi
v="$(version_of "$OUT/etcd")"
if [[ $'\n'"$v"$'\n' == *$'\n'"etcd Version: ${ETCD_VERSION#v}"$'\n'* ]]; then need_etcd=0; fi
if [ $need_apiserver = 0 ] && [ $need_etcd = 0 ]; then
  log "kube-apiserver $K8S_VERSION and etcd $ETCD_VERSION already in $OUT"
  exit 0
fi
if ! command -v go >/dev/null 2>&1; then
  log "Go is not installed: cannot build kube-apiserver and etcd (install Go >= 1.24, or set TESTBIN_DIR to a folder holding them)"
  exit 3
fi

mkdir -p "$BUILD"

# gomod_of MODULE@VERSION -> path of the go.mod that the proxy serves
gomod_of() { go mod download -json "$1" | sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",$/\1/p'; }

if [ $need_apiserver = 1 ]; then
  log "building kube-apiserver $K8S_VERSION (a cold build takes 10-20 minutes on 2 cores)"
  d="$BUILD/kube-apiserver"; rm -rf "$d"; mkdir -p "$d"; cd "$d"
  upstream="$(gomod_of "k8s.io/kubernetes@$K8S_VERSION")"
  minor_patch="${K8S_VERSION#v1.}"            # 34.4
  go_line="$(grep -m1 '^go ' "$upstream")"
  {
    echo "module socat-relay.test/kube-apiserver"
    echo
    echo "$go_line"
    grep '^godebug' "$upstream" || true
  } > go.mod
  cat > tools.go <<'GO'
//go:build tools

package tools

import _ "k8s.io/kubernetes/cmd/kube-apiserver"
GO
  go mod edit -require="k8s.io/kubernetes@$K8S_VERSION"
  count=0
  for m in $(grep -E '^[[:space:]]*k8s\.io/[a-z0-9-]+ => \./staging/' "$upstream" | awk '{print $1}'); do
    go mod edit -replace="$m=$m@v0.$minor_patch"
    count=$((count+1))
  done
  log "replaced $count staging modules with v0.$minor_patch"
  go mod tidy
  minor="${minor_patch%%.*}"
  pkg=k8s.io/component-base/version
  go build -o "$OUT/kube-apiserver" -ldflags "-s -w -X $pkg.gitVersion=$K8S_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor -X $pkg.gitTreeState=clean" k8s.io/kubernetes/cmd/kube-apiserver
  "$OUT/kube-apiserver" --version
fi

if [ $need_etcd = 1 ]; then
  log "building etcd $ETCD_VERSION"
  d="$BUILD/etcd"; rm -rf "$d"; mkdir -p "$d"; cd "$d"
  upstream="$(gomod_of "go.etcd.io/etcd/server/v3@$ETCD_VERSION")"
  {
    echo "module socat-relay.test/etcd"
    echo
    grep -m1 '^go ' "$upstream"
  } > go.mod
  cat > tools.go <<'GO'
//go:build tools

package tools

import _ "go.etcd.io/etcd/server/v3"
GO
  go mod edit -require="go.etcd.io/etcd/server/v3@$ETCD_VERSION"
  for m in $(grep -E '^[[:space:]]*go\.etcd\.io/etcd/[a-z0-9/-]+ => \.\./' "$upstream" | awk '{print $1}'); do
    go mod edit -replace="$m=$m@$ETCD_VERSION"
  done
  go mod tidy
  go build -o "$OUT/etcd" -ldflags "-s -w" go.etcd.io/etcd/server/v3
  "$OUT/etcd" --version
fi
log "done: $OUT"
