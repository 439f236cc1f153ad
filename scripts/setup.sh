#!/usr/bin/env bash
# Everything a fresh machine needs before the demo or the tests: system tools (socat, iproute2, iperf3), Node 24,
# the npm dependencies, the compiled CLI, and (where Go is installed) the test API server.
# Idempotent: a second run only checks.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
log() { echo "[setup] $*" >&2; }
# step LABEL CMD…: runs CMD and prints how long it took (CI reads these to keep a cold run short)
# Keeps CMD's exit status: a caller's `step … || rc=$?` must see a failure (set -e is off inside it there).
step() { local label=$1 t0=$SECONDS rc=0; shift; "$@" || rc=$?; log "$label: $((SECONDS - t0)) s"; return $rc; }

missing=()
command -v socat >/dev/null 2>&1 || missing+=(socat)
command -v ip >/dev/null 2>&1 || missing+=(iproute2)
command -v iperf3 >/dev/null 2>&1 || missing+=(iperf3)
command -v curl >/dev/null 2>&1 || missing+=(curl)
# Real parts of the scrape benchmark and of the kubeadm-example test (Debian's packages; the versions
# used are printed below and recorded in bench/results/scrape.json): Prometheus, and HAProxy as the
# host-network proxy a user would put in front of a loopback port.
command -v prometheus >/dev/null 2>&1 || missing+=(prometheus)
command -v haproxy >/dev/null 2>&1 || [ -x /usr/sbin/haproxy ] || missing+=(haproxy)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    log "installing ${missing[*]} with apt-get"
    step "apt-get update" apt-get update -qq
    step "apt-get install ${missing[*]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    # The tests and benchmarks start their own Prometheus and HAProxy: on a systemd host, do not leave the
    # packages' services running (Prometheus would listen on every address, port 9090).
    if [ -d /run/systemd/system ]; then
      for svc in prometheus haproxy; do
        case " ${missing[*]} " in *" $svc "*) systemctl disable --now "$svc.service" >/dev/null 2>&1 || true ;; esac
      done
    fi
  else
    log "MISSING: ${missing[*]} — install them (Debian/Ubuntu: sudo apt-get install ${missing[*]}) and run again"
    exit 1
  fi
fi

# The real test node (test/node-e2e, the demo's node flow): containerd, runc and the CNI plugins, and
# podman + buildah + debootstrap to build the Dockerfile's image without a registry (scripts/build-image.sh);
# netavark + aardvark-dns, the podman network backend kind's podman provider needs.
if [ "${SKIP_APISERVER_BUILD:-}" != 1 ]; then
  node_missing=()
  command -v containerd >/dev/null 2>&1 || node_missing+=(containerd)
  command -v runc >/dev/null 2>&1 || node_missing+=(runc)
  [ -x /usr/lib/cni/bridge ] || node_missing+=(containernetworking-plugins)
  command -v podman >/dev/null 2>&1 || node_missing+=(podman)
  command -v buildah >/dev/null 2>&1 || node_missing+=(buildah)
  command -v debootstrap >/dev/null 2>&1 || node_missing+=(debootstrap)
  # kind's podman provider (test/kind/kind-cli.test.ts) needs container-name DNS: netavark + aardvark-dns.
  [ -x /usr/lib/podman/netavark ] || node_missing+=(netavark)
  [ -x /usr/lib/podman/aardvark-dns ] || node_missing+=(aardvark-dns)
  if [ ${#node_missing[@]} -gt 0 ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
      log "installing ${node_missing[*]} with apt-get (the test node)"
      step "apt-get install ${node_missing[*]}" bash -c 'apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq -o DPkg::Lock::Timeout=300 --no-install-recommends "$@" >/dev/null' _ "${node_missing[@]}"
    else
      log "MISSING for the test node: ${node_missing[*]} (Debian/Ubuntu: sudo apt-get install ${node_missing[*]}); the node-e2e suite will say so"
    fi
  fi
fi

# Node >= 24 (the supported runtime): the machine's own, or Node 24 LTS from the npm registry. Everything
# below (npm ci, tsc) and scripts/test.sh, node.sh run under it.
. scripts/node-env.sh
if ! use_node24; then
  log "installing Node $NODE24_VERSION ($NODE24_PKG from the npm registry) into $NODE24_DIR; the machine has $(node --version 2>/dev/null || echo 'no node')"
  step "Node $NODE24_VERSION" npm install --prefix "$NODE24_DIR" --no-save --no-package-lock --no-audit --no-fund "$NODE24_PKG@$NODE24_VERSION"
  use_node24 || { log "MISSING: Node >= $NODE_MIN_MAJOR ($NODE24_BIN/node did not install)"; exit 1; }
fi
log "node $(node --version) ($(command -v node))"
log "Debian packages: $(dpkg-query -W -f '${Package} ${Version}  ' socat prometheus haproxy 2>/dev/null || true)"

# node_modules is reinstalled when the lock file or the node major changes (native add-ons are built per ABI).
stamp=node_modules/.socat-relay-lock
node_stamp=node_modules/.socat-relay-node
if [ ! -f "$stamp" ] || ! cmp -s package-lock.json "$stamp" || [ "$(cat "$node_stamp" 2>/dev/null)" != "$(node_major)" ]; then
  log "installing npm dependencies (npm ci)"
  step "npm ci" npm ci --no-audit --no-fund
  cp package-lock.json "$stamp"
  node_major > "$node_stamp"
fi

log "compiling the CLI (dist/)"
step "compile" npx tsc -p tsconfig.build.json
# npm links the bins of dependencies, not the package's own: link it so `npx socat-relay …` works from
# the checkout, as the README says.
chmod +x dist/cli/main.js
ln -sf ../../dist/cli/main.js node_modules/.bin/socat-relay

if [ "${SKIP_APISERVER_BUILD:-}" != 1 ]; then
  # A no-op when the pinned binaries are already in .testbin (or TESTBIN_DIR); exit 3 = no Go to build them.
  rc=0; step "Go-built test binaries" bash scripts/build-testbin.sh || rc=$?
  if [ $rc = 3 ]; then
    if [ "${REQUIRE_APISERVER:-}" = 1 ]; then
      log "MISSING: Go (>= 1.24) is needed to build the test binaries (kube-apiserver, etcd, kubelet, kube-scheduler, kubectl, kubeadm, kube-proxy, helm, csi-sanity, coredns, prometheus, prometheus-operator, kube-rbac-proxy), and REQUIRE_APISERVER=1 (CI) does not allow skipping the API-server suite"
      exit 1
    fi
    log "Go is not installed: the API-server suite and the demo's API server will be skipped"
  elif [ $rc != 0 ]; then
    exit $rc
  fi
fi

if [ "${SKIP_APISERVER_BUILD:-}" != 1 ]; then
  # The image of the Dockerfile for the test node (a no-op when its sources did not change); exit 3 =
  # podman/debootstrap missing, which the node-e2e suite reports (and CI fails on).
  rc=0; step "image (scripts/build-image.sh)" bash scripts/build-image.sh >/dev/null || rc=$?
  if [ $rc = 3 ] && [ "${REQUIRE_APISERVER:-}" != 1 ]; then
    log "the test node's image could not be built (podman/debootstrap missing): the node-e2e suite will be skipped"
  elif [ $rc != 0 ]; then
    exit $rc
  fi
fi

if [ "${SKIP_APISERVER_BUILD:-}" != 1 ]; then
  # The kind node image (and the suite's Prometheus image) from .testbin's binaries (a no-op when they did
  # not change); exit 3 = a part missing, which the kind suite reports (and CI fails on).
  rc=0; step "kind node image (scripts/build-kind-node.sh)" bash scripts/build-kind-node.sh >/dev/null || rc=$?
  if [ $rc = 0 ] && [ -x "${TESTBIN_DIR:-$ROOT/.testbin}/k8s-oldest/kubeadm" ]; then
    step "kind node image, oldest supported release" env K8S_BIN_DIR="${TESTBIN_DIR:-$ROOT/.testbin}/k8s-oldest" bash scripts/build-kind-node.sh >/dev/null || rc=$?
  fi
  if [ $rc = 3 ] && [ "${REQUIRE_APISERVER:-}" != 1 ]; then
    log "the kind node image could not be built (a part is missing): the kind suite will be skipped"
  elif [ $rc != 0 ]; then
    exit $rc
  fi
fi
