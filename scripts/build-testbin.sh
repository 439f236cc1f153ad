#!/usr/bin/env bash
# Builds the pinned test infrastructure that only exists as Go from the Go module proxy into .testbin/
# (git-ignored; TESTBIN_DIR overrides):
#   k8s      kube-apiserver, kube-controller-manager, kubelet, kube-scheduler, kubectl (kubectl carries kustomize),
#            kubeadm, kube-proxy (the kind node image) — ONE wrapper
#            module and one `go build`, so the dependencies they share compile once
#   etcd     etcd (its own wrapper module: its dependency graph differs)
#   helm     helm (its own module)
#   csi-sanity  the kubernetes-csi sanity suite
#   coredns  CoreDNS (the kind node image's cluster DNS, at the version kubeadm names)
#   k8s-oldest  the same binaries at the oldest supported release, into k8s-oldest/ (the kind CLI suite's node)
#   kind     the kind CLI (its podman provider runs the README's "Try it on kind" with the node image built here)
#   prometheus  Prometheus 3 (v3 releases are published as module versions v0.3xx.y; the kind suite's
#            scrape runs it in an image built here, as the examples deploy quay.io/prometheus/prometheus)
#   prometheus-operator  the operator, prometheus-config-reloader and kube-rbac-proxy (the example's gateway
#            serves etcd through it) — the kind suite's PodMonitor variant, in images built here under
#            upstream's tags; one wrapper module, so the Kubernetes libraries they share compile once
# Usage: scripts/build-testbin.sh [component …]   (default: all). Exit 3: Go is not installed.
# k8s.io/kubernetes and etcd's server module replace their sibling modules with local paths, so
# `go install …@version` refuses them; a throw-away wrapper module requires the release and replaces
# each sibling with its published version (the list is read from the go.mod the proxy serves).
# A component whose stamp matches its pinned version is a no-op; Go's module and build caches stay in
# their default places so a rebuild is fast. Each step prints how long it took.
set -euo pipefail

K8S_VERSION="${K8S_VERSION:-v1.37.2}"
# The oldest Kubernetes release upstream still supports: the kind CLI suite's node image (into k8s-oldest/).
K8S_OLDEST_VERSION="${K8S_OLDEST_VERSION:-v1.35.4}"
ETCD_VERSION="${ETCD_VERSION:-v3.6.16}"
HELM_VERSION="${HELM_VERSION:-v3.19.5}"
CSI_TEST_VERSION="${CSI_TEST_VERSION:-v5.4.0}"
KIND_VERSION="${KIND_VERSION:-v0.33.0}"
COREDNS_VERSION="${COREDNS_VERSION:-v1.14.6}"        # what kubeadm v1.37 names
PROMETHEUS_MODULE_VERSION="${PROMETHEUS_MODULE_VERSION:-v0.316.0}"   # = Prometheus 3.16.0
PROMETHEUS_OPERATOR_VERSION="${PROMETHEUS_OPERATOR_VERSION:-v0.85.0}"
KUBE_RBAC_PROXY_VERSION="${KUBE_RBAC_PROXY_VERSION:-v0.19.1}"     # what the prometheus-operator example runs
# remove_all_sd: no service-discovery plugin but static and file configs (the examples' static targets) —
# a fraction of the dependencies to compile cold — and Kubernetes' (the pod targets prometheus-operator
# configures from a PodMonitor).
PROMETHEUS_TAGS=remove_all_sd,enable_kubernetes_sd
K8S_BINARIES=(kube-apiserver kube-controller-manager kubelet kube-scheduler kubectl kubeadm kube-proxy)
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
OUT="${TESTBIN_DIR:-$ROOT/.testbin}"
BUILD="$OUT/build"

log() { echo "[build-testbin] $*" >&2; }
components=("$@")
[ ${#components[@]} -gt 0 ] || components=(k8s etcd helm csi-sanity coredns prometheus prometheus-operator kind k8s-oldest)

# stamp NAME VERSION FILE…: true when every FILE is executable and the stamp says VERSION
fresh() {
  local name=$1 version=$2; shift 2
  local f; for f in "$@"; do [ -x "$OUT/$f" ] || return 1; done
  [ "$(cat "$OUT/.$name.stamp" 2>/dev/null)" = "$version" ]
}
stamp() { echo "$2" > "$OUT/.$1.stamp"; }

todo=()
for c in "${components[@]}"; do
  case $c in
    k8s) fresh k8s "$K8S_VERSION" "${K8S_BINARIES[@]}" || todo+=(k8s) ;;
    k8s-oldest) fresh k8s-oldest "$K8S_OLDEST_VERSION" "${K8S_BINARIES[@]/#/k8s-oldest/}" || todo+=(k8s-oldest) ;;
    etcd) fresh etcd "$ETCD_VERSION" etcd || todo+=(etcd) ;;
    helm) fresh helm "$HELM_VERSION" helm || todo+=(helm) ;;
    csi-sanity) fresh csi-sanity "$CSI_TEST_VERSION" csi-sanity || todo+=(csi-sanity) ;;
    coredns) fresh coredns "$COREDNS_VERSION" coredns || todo+=(coredns) ;;
    prometheus) fresh prometheus "$PROMETHEUS_MODULE_VERSION+$PROMETHEUS_TAGS" prometheus || todo+=(prometheus) ;;
    prometheus-operator) { fresh prometheus-operator "$PROMETHEUS_OPERATOR_VERSION" operator prometheus-config-reloader \
      && fresh kube-rbac-proxy "$KUBE_RBAC_PROXY_VERSION" kube-rbac-proxy; } || todo+=(prometheus-operator) ;;
    kind) fresh kind "$KIND_VERSION" kind || todo+=(kind) ;;
    *) log "unknown component $c (k8s, etcd, helm, csi-sanity, coredns, prometheus, prometheus-operator, kind, k8s-oldest)"; exit 2 ;;
  esac
done
if [ ${#todo[@]} -eq 0 ]; then
  log "already in $OUT: ${components[*]}"
  exit 0
fi
if ! command -v go >/dev/null 2>&1; then
  log "Go is not installed: cannot build ${todo[*]} (install Go >= 1.24, or set TESTBIN_DIR to a folder holding them)"
  exit 3
fi
mkdir -p "$BUILD"

# gomod_of MODULE@VERSION -> path of the go.mod that the proxy serves
gomod_of() { go mod download -json "$1" | sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",$/\1/p'; }

# wrapper DIR MODULE-NAME UPSTREAM-GOMOD PACKAGE…: a fresh module in DIR importing PACKAGEs
wrapper() {
  local dir=$1 name=$2 upstream=$3; shift 3
  rm -rf "$dir"; mkdir -p "$dir"; cd "$dir"
  { echo "module $name"; echo; grep -m1 '^go ' "$upstream"; grep '^godebug' "$upstream" || true; } > go.mod
  { echo '//go:build tools'; echo; echo 'package tools'; echo; echo 'import ('
    local p; for p in "$@"; do echo "	_ \"$p\""; done; echo ')'; } > tools.go
}

timed() { # timed LABEL CMD…: runs CMD and logs how long it took
  local label=$1 t0=$SECONDS; shift
  "$@"
  log "$label: $((SECONDS - t0)) s"
}

# build_k8s VERSION DEST STAMP: the Kubernetes binaries of VERSION into DEST, in one wrapper module.
build_k8s() {
  local version=$1 dest=$2 name=$3
  log "building ${K8S_BINARIES[*]} $version in one wrapper module (cold: about 7 minutes on 2 cores)"
  local upstream minor_patch pkgs=() m count=0
  upstream="$(gomod_of "k8s.io/kubernetes@$version")"
  for b in "${K8S_BINARIES[@]}"; do pkgs+=("k8s.io/kubernetes/cmd/$b"); done
  wrapper "$BUILD/$name" "socat-relay.test/$name" "$upstream" "${pkgs[@]}"
  go mod edit -require="k8s.io/kubernetes@$version"
  minor_patch="${version#v1.}"            # 37.2
  for m in $(grep -E '^[[:space:]]*k8s\.io/[a-z0-9-]+ => \./staging/' "$upstream" | awk '{print $1}'); do
    go mod edit -replace="$m=$m@v0.$minor_patch"
    count=$((count+1))
  done
  log "replaced $count staging modules with v0.$minor_patch"
  go mod tidy
  local pkg=k8s.io/component-base/version minor="${minor_patch%%.*}"
  local ld="-s -w -X $pkg.gitVersion=$version -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor -X $pkg.gitTreeState=clean"
  ld+=" -X k8s.io/client-go/pkg/version.gitVersion=$version -X k8s.io/client-go/pkg/version.gitMajor=1 -X k8s.io/client-go/pkg/version.gitMinor=$minor"
  mkdir -p "$dest"
  go build -o "$dest/" -ldflags "$ld" "${pkgs[@]}"
  "$dest/kube-apiserver" --version
  stamp "$name" "$version"
}

build_etcd() {
  log "building etcd $ETCD_VERSION"
  local upstream m
  upstream="$(gomod_of "go.etcd.io/etcd/server/v3@$ETCD_VERSION")"
  wrapper "$BUILD/etcd" socat-relay.test/etcd "$upstream" go.etcd.io/etcd/server/v3
  go mod edit -require="go.etcd.io/etcd/server/v3@$ETCD_VERSION"
  for m in $(grep -E '^[[:space:]]*go\.etcd\.io/etcd/[a-z0-9/-]+ => \.\./' "$upstream" | awk '{print $1}'); do
    go mod edit -replace="$m=$m@$ETCD_VERSION"
  done
  go mod tidy
  go build -o "$OUT/etcd" -ldflags "-s -w" go.etcd.io/etcd/server/v3
  "$OUT/etcd" --version | sed -n 1p
  stamp etcd "$ETCD_VERSION"
}

build_helm() {
  log "building helm $HELM_VERSION"
  GOBIN="$OUT" go install -ldflags "-s -w -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION" "helm.sh/helm/v3/cmd/helm@$HELM_VERSION"
  "$OUT/helm" version --short
  stamp helm "$HELM_VERSION"
}

build_csi_sanity() {
  log "building csi-sanity $CSI_TEST_VERSION"
  GOBIN="$OUT" go install -ldflags "-s -w" "github.com/kubernetes-csi/csi-test/v5/cmd/csi-sanity@$CSI_TEST_VERSION"
  stamp csi-sanity "$CSI_TEST_VERSION"
}

build_coredns() {
  log "building coredns $COREDNS_VERSION"
  GOBIN="$OUT" go install -ldflags "-s -w -X github.com/coredns/coredns/coremain.GitCommit=$COREDNS_VERSION" "github.com/coredns/coredns@$COREDNS_VERSION"
  "$OUT/coredns" -version | sed -n 1p
  stamp coredns "$COREDNS_VERSION"
}

# Prometheus' main package lives in a module with replace-free but heavy dependencies: a wrapper module
# (as for k8s), stamped with its version (empty otherwise); no web UI assets (the API is what the tests use).
build_prometheus() {
  log "building prometheus $PROMETHEUS_MODULE_VERSION"
  local upstream version   # module v0.316.0 = Prometheus 3.16.0
  version="3.$(echo "${PROMETHEUS_MODULE_VERSION#v0.}" | awk -F. '{ printf "%d.%s", $1 - 300, $2 }')"
  upstream="$(gomod_of "github.com/prometheus/prometheus@$PROMETHEUS_MODULE_VERSION")"
  wrapper "$BUILD/prometheus" socat-relay.test/prometheus "$upstream" github.com/prometheus/prometheus/cmd/prometheus
  go mod edit -require="github.com/prometheus/prometheus@$PROMETHEUS_MODULE_VERSION"
  go mod tidy
  go build -o "$OUT/prometheus" -tags "$PROMETHEUS_TAGS" -ldflags "-s -w -X github.com/prometheus/common/version.Version=$version" github.com/prometheus/prometheus/cmd/prometheus
  "$OUT/prometheus" --version | sed -n 1p
  stamp prometheus "$PROMETHEUS_MODULE_VERSION+$PROMETHEUS_TAGS"
}

# The operator's root module replaces its two API modules with local paths (as k8s.io/kubernetes does),
# kube-rbac-proxy's replaces one dependency (`go install …@version` refuses both): one wrapper module
# requires both releases, each API module at the operator's version, and kube-rbac-proxy's replace.
build_prometheus_operator() {
  log "building prometheus-operator $PROMETHEUS_OPERATOR_VERSION (operator, prometheus-config-reloader) and kube-rbac-proxy $KUBE_RBAC_PROXY_VERSION"
  local op=github.com/prometheus-operator/prometheus-operator proxy=github.com/brancz/kube-rbac-proxy
  local upstream proxy_gomod m r pkgs
  upstream="$(gomod_of "$op@$PROMETHEUS_OPERATOR_VERSION")"
  proxy_gomod="$(gomod_of "$proxy@$KUBE_RBAC_PROXY_VERSION")"
  pkgs=("$op/cmd/operator" "$op/cmd/prometheus-config-reloader" "$proxy/cmd/kube-rbac-proxy")
  wrapper "$BUILD/prometheus-operator" socat-relay.test/prometheus-operator "$upstream" "${pkgs[@]}"
  go mod edit -require="$op@$PROMETHEUS_OPERATOR_VERSION" -require="$proxy@$KUBE_RBAC_PROXY_VERSION"
  for m in $(grep -E '^[[:space:]]*github\.com/prometheus-operator/[a-z0-9/-]+ => \./' "$upstream" | awk '{print $1}'); do
    go mod edit -replace="$m=$m@$PROMETHEUS_OPERATOR_VERSION"
  done
  while read -r r; do go mod edit -replace="$r"; done < <(sed -n 's/^replace \(.*\) => \(.*\) \(v[^ ]*\)$/\1=\2@\3/p' "$proxy_gomod")
  go mod tidy
  # thanos (the operator's) asks for an otelgrpc without the interceptor k8s.io/apiserver (kube-rbac-proxy's)
  # calls; only apiserver compiles it here: the version apiserver's go.mod names.
  local otelgrpc=go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc apiserver v
  apiserver="$(go list -m -f '{{.Path}}@{{.Version}}' k8s.io/apiserver)"
  v="$(sed -n "s|^[[:space:]]*$otelgrpc \(v[^ ]*\).*|\1|p" "$(gomod_of "$apiserver")")"
  go mod edit -replace="$otelgrpc=$otelgrpc@$v"
  go mod tidy
  go build -o "$OUT/" -ldflags "-s -w -X github.com/prometheus/common/version.Version=${PROMETHEUS_OPERATOR_VERSION#v}" "${pkgs[@]}"
  "$OUT/prometheus-config-reloader" --version 2>&1 | sed -n 1p
  stamp prometheus-operator "$PROMETHEUS_OPERATOR_VERSION"
  stamp kube-rbac-proxy "$KUBE_RBAC_PROXY_VERSION"
}

build_kind() {
  log "building kind $KIND_VERSION"
  GOBIN="$OUT" go install "sigs.k8s.io/kind@$KIND_VERSION"
  "$OUT/kind" version
  stamp kind "$KIND_VERSION"
}

for c in "${todo[@]}"; do
  case $c in
    k8s) timed "k8s binaries" build_k8s "$K8S_VERSION" "$OUT" k8s ;;
    k8s-oldest) timed "k8s binaries $K8S_OLDEST_VERSION" build_k8s "$K8S_OLDEST_VERSION" "$OUT/k8s-oldest" k8s-oldest ;;
    etcd) timed etcd build_etcd ;;
    helm) timed helm build_helm ;;
    csi-sanity) timed csi-sanity build_csi_sanity ;;
    coredns) timed coredns build_coredns ;;
    prometheus) timed prometheus build_prometheus ;;
    prometheus-operator) timed prometheus-operator build_prometheus_operator ;;
    kind) timed kind build_kind ;;
  esac
done
log "done: $OUT"
