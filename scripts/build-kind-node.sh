#!/usr/bin/env bash
# Builds a kind node image here, without any image registry: what `kind build node-image` makes from
# kindest/base, made from local parts instead —
#   - the Debian root filesystem scripts/build-image.sh makes (localhost/socat-relay-rootfs), plus
#     Debian's systemd, containerd, runc, CNI plugins, iptables, conntrack;
#   - kind's own base files (entrypoint, systemd units, kubelet drop-ins, containerd config, sysctls) from
#     the sigs.k8s.io/kind Go module, with the changes this kind of VM needs (below);
#   - kubeadm, kubelet, kubectl from .testbin/ (scripts/build-testbin.sh, one wrapper module);
#   - the images kubeadm expects — kube-apiserver, kube-controller-manager, kube-scheduler, kube-proxy,
#     etcd, CoreDNS, pause — each built with podman from the rootfs and a Go-built binary, plus the pod
#     network's own image (kindnet's pattern: a ptp CNI config per node and a route to every other node's
#     pod subnet), saved into the node image and imported into its containerd at boot (kind-preload.service).
# Changes to kind's files, each needed on a cgroup v1 host that withholds CAP_SYS_RESOURCE:
#   - containerd: restrict_oom_score_adj = true (the container may not lower oom_score_adj), no
#     base_runtime_spec (kind generates that file at its image build) and no fuse-overlayfs proxy plugin;
#     the sandbox image is the pause image kubeadm names; CNI plugins from Debian's /usr/lib/cni;
#   - the kubelet: its cgroup folders made in every cgroup v1 controller before it starts (systemd mounts
#     hugetlb, net_cls and perf_event after kind's entrypoint ran, and the kubelet refuses missing paths).
# The tag is localhost/socat-relay-kind-node:<kubernetes version>-<hash of every input>; an image of that
# tag in podman's store is reused (a no-op).
# Also a Prometheus image (localhost/prometheus:v<version>, from .testbin/prometheus) for the kind suite's
# scrape, saved as an OCI archive; so are the images of the prometheus-operator variant, tagged as
# upstream publishes them: the operator, its config reloader (the tag the operator is told with
# --prometheus-config-reloader) and kube-rbac-proxy (the tag the example's gateway runs).
# Usage: [K8S_BIN_DIR=.testbin/k8s-oldest] scripts/build-kind-node.sh [--print]   Prints NODE_IMAGE=, KUBERNETES_VERSION=, ETCD_IMAGE=,
# COREDNS_IMAGE=, PROMETHEUS_IMAGE=, PROMETHEUS_ARCHIVE=, and <NAME>_IMAGE=, <NAME>_ARCHIVE= for
# OPERATOR, CONFIG_RELOADER, KUBE_RBAC_PROXY, and OPERATOR_CRDS= (the CRD folder of the operator's Go module).
# Exit 3: a part is missing (podman, Go, a .testbin binary: scripts/setup.sh builds them).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
TESTBIN="${TESTBIN_DIR:-$ROOT/.testbin}"
KIND_VERSION="${KIND_VERSION:-v0.33.0}"
SUITE="${DEBIAN_SUITE:-bookworm}"
ROOTFS_IMAGE=localhost/socat-relay-rootfs:$SUITE
NODE_REPO=localhost/socat-relay-kind-node
CNI_IMAGE=localhost/socat-relay-kind-cni:1
# The Kubernetes binaries come from K8S_BIN_DIR (default .testbin; .testbin/k8s-oldest for the oldest
# supported release), etcd, CoreDNS and Prometheus from .testbin.
K8S_BIN_DIR="${K8S_BIN_DIR:-$TESTBIN}"
BINARIES=(kubeadm kubelet kubectl kube-apiserver kube-controller-manager kube-scheduler kube-proxy etcd coredns prometheus)
bin() { case $1 in etcd | coredns | prometheus) echo "$TESTBIN/$1" ;; *) echo "$K8S_BIN_DIR/$1" ;; esac; }

log() { echo "[build-kind-node] $*" >&2; }
timed() { local label=$1 t0=$SECONDS; shift; "$@"; log "$label: $((SECONDS - t0)) s"; }
missing() { log "MISSING: $*"; exit 3; }

command -v podman >/dev/null 2>&1 || missing "podman (scripts/setup.sh installs it)"
# Not in the node image (so not in its hash): the prometheus-operator variant's images.
OPERATOR_BINARIES=(operator prometheus-config-reloader kube-rbac-proxy)
for b in "${BINARIES[@]}"; do
  [ -x "$(bin "$b")" ] || missing "$(bin "$b") (scripts/build-testbin.sh builds it)"
done
for b in "${OPERATOR_BINARIES[@]}"; do
  [ -x "$TESTBIN/$b" ] || missing "$TESTBIN/$b (scripts/build-testbin.sh builds it)"
done
K8S_VERSION="$("$(bin kubeadm)" version -o short)"
ETCD_VERSION="$("$TESTBIN/etcd" --version | sed -n 's/^etcd Version: //p')"
COREDNS_VERSION="$(cat "$TESTBIN/.coredns.stamp")"
# What kubeadm of this version expects (it names the images; etcd's tag is set in the kubeadm config).
images_list="$("$(bin kubeadm)" config images list --kubernetes-version "$K8S_VERSION")"
image_named() { echo "$images_list" | grep "/$1:" | head -n 1; }
PAUSE_TAG="$(image_named pause)"
ETCD_TAG="registry.k8s.io/etcd:$ETCD_VERSION-0"
COREDNS_TAG="registry.k8s.io/coredns/coredns:$COREDNS_VERSION"
[ "$(image_named coredns)" = "$COREDNS_TAG" ] || log "note: kubeadm names $(image_named coredns); the node has $COREDNS_TAG (set in the kubeadm config)"

if ! command -v go >/dev/null 2>&1; then missing "Go (kind's base files come from its Go module)"; fi
KIND_DIR="$(go mod download -json "sigs.k8s.io/kind@$KIND_VERSION" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')"
KIND_FILES="$KIND_DIR/images/base/files"
[ -f "$KIND_FILES/usr/local/bin/entrypoint" ] || missing "kind's base files in $KIND_FILES"

if ! podman image exists "$ROOTFS_IMAGE"; then
  timed "rootfs (scripts/build-image.sh)" bash scripts/build-image.sh >/dev/null
fi
input_hash() {
  { cat "$0" scripts/kind-node/*
    podman image inspect --format '{{.Id}}' "$ROOTFS_IMAGE"
    echo "$KIND_VERSION"
    for b in "${BINARIES[@]}"; do sha256sum "$(bin "$b")" | cut -d' ' -f1; done
  } | sha256sum | cut -c1-12
}
NODE_IMAGE="$NODE_REPO:$K8S_VERSION-$(input_hash)"
# Prometheus for the suite's scrape, as the examples run quay.io/prometheus/prometheus (entrypoint, user
# nobody, /prometheus): built here from .testbin/prometheus, saved as an OCI archive to import into the nodes.
PROM_VERSION="$("$TESTBIN/prometheus" --version | sed -n 's/^prometheus, version \([^ ]*\).*/\1/p')"
PROM_IMAGE="localhost/prometheus:v$PROM_VERSION"
PROM_ARCHIVE="$TESTBIN/image/prometheus-v$PROM_VERSION-$(sha256sum "$TESTBIN/prometheus" | cut -c1-12).oci.tar"
# The prometheus-operator variant: NAME, image, binary, its path in the image (upstream's entrypoint).
OPERATOR_VERSION="$(cat "$TESTBIN/.prometheus-operator.stamp")"
KUBE_RBAC_PROXY_VERSION="$(cat "$TESTBIN/.kube-rbac-proxy.stamp")"
OPERATOR_IMAGES=(
  "OPERATOR quay.io/prometheus-operator/prometheus-operator:$OPERATOR_VERSION operator /bin/operator"
  "CONFIG_RELOADER quay.io/prometheus-operator/prometheus-config-reloader:$OPERATOR_VERSION prometheus-config-reloader /bin/prometheus-config-reloader"
  "KUBE_RBAC_PROXY quay.io/brancz/kube-rbac-proxy:$KUBE_RBAC_PROXY_VERSION kube-rbac-proxy /usr/local/bin/kube-rbac-proxy"
)
OPERATOR_CRDS="$(go mod download -json "github.com/prometheus-operator/prometheus-operator@$OPERATOR_VERSION" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')/example/prometheus-operator-crd"
[ -f "$OPERATOR_CRDS/monitoring.coreos.com_podmonitors.yaml" ] || missing "prometheus-operator's CRDs in $OPERATOR_CRDS"
archive_of() { echo "$TESTBIN/image/$1-$(sha256sum "$TESTBIN/$1" | cut -c1-12).oci.tar"; }  # BINARY
print() {
  printf 'NODE_IMAGE=%s\nKUBERNETES_VERSION=%s\nETCD_IMAGE=%s\nCOREDNS_IMAGE=%s\nPROMETHEUS_IMAGE=%s\nPROMETHEUS_ARCHIVE=%s\n' \
    "$NODE_IMAGE" "$K8S_VERSION" "$ETCD_TAG" "$COREDNS_TAG" "$PROM_IMAGE" "$PROM_ARCHIVE"
  local name image binary entry
  for i in "${OPERATOR_IMAGES[@]}"; do
    read -r name image binary entry <<<"$i"
    printf '%s_IMAGE=%s\n%s_ARCHIVE=%s\n' "$name" "$image" "$name" "$(archive_of "$binary")"
  done
  printf 'OPERATOR_CRDS=%s\n' "$OPERATOR_CRDS"
}
[ "${1:-}" = --print ] && { print; exit 0; }

work="$(mktemp -d "${TMPDIR:-/tmp}/socat-relay-kind-node.XXXXXX")"
trap 'rm -rf "$work"' EXIT
build_prometheus() {
  local ctx="$work/ctx-prometheus"
  mkdir -p "$ctx" && cp "$TESTBIN/prometheus" "$ctx/"
  printf 'global:\n  scrape_interval: 30s\n' >"$ctx/prometheus.yml"
  cat >"$ctx/Containerfile" <<CONTAINERFILE
FROM $ROOTFS_IMAGE
COPY prometheus /bin/prometheus
COPY prometheus.yml /etc/prometheus/prometheus.yml
RUN mkdir -p /prometheus && chown 65534:65534 /prometheus
USER 65534
WORKDIR /prometheus
EXPOSE 9090
ENTRYPOINT ["/bin/prometheus"]
CMD ["--config.file=/etc/prometheus/prometheus.yml", "--storage.tsdb.path=/prometheus"]
CONTAINERFILE
  podman build -q -t "$PROM_IMAGE" "$ctx" >/dev/null
  mkdir -p "$(dirname "$PROM_ARCHIVE")"
  podman save -q --format oci-archive -o "$PROM_ARCHIVE.tmp" "$PROM_IMAGE" && mv "$PROM_ARCHIVE.tmp" "$PROM_ARCHIVE"
}
if [ ! -s "$PROM_ARCHIVE" ]; then timed "prometheus image $PROM_IMAGE" build_prometheus; fi
# binary_image IMAGE BINARY ENTRYPOINT ARCHIVE: FROM the rootfs, the binary at ENTRYPOINT, user nobody
# (as upstream's images), saved as an OCI archive.
binary_image() {
  local image=$1 binary=$2 entry=$3 archive=$4 ctx="$work/ctx-$2"
  mkdir -p "$ctx" && cp "$TESTBIN/$binary" "$ctx/"
  printf 'FROM %s\nCOPY %s %s\nUSER 65534\nENTRYPOINT ["%s"]\n' "$ROOTFS_IMAGE" "$binary" "$entry" "$entry" >"$ctx/Containerfile"
  podman build -q -t "$image" "$ctx" >/dev/null
  mkdir -p "$(dirname "$archive")"
  podman save -q --format oci-archive -o "$archive.tmp" "$image" && mv "$archive.tmp" "$archive"
}
for i in "${OPERATOR_IMAGES[@]}"; do
  read -r name image binary entry <<<"$i"
  archive="$(archive_of "$binary")"
  if [ ! -s "$archive" ]; then timed "image $image" binary_image "$image" "$binary" "$entry" "$archive"; fi
done
if podman image exists "$NODE_IMAGE"; then
  log "up to date: $NODE_IMAGE"
  print
  exit 0
fi

# apt_install PACKAGE…: the shell command of a Containerfile RUN that installs Debian packages and
# leaves no apt lists or archives in the layer.
apt_install() {
  echo "apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq -o=Dpkg::Use-Pty=0 --no-install-recommends $* >/dev/null && rm -rf /var/lib/apt/lists/* /var/cache/apt/archives/*.deb"
}

# component IMAGE BINARY: FROM the rootfs, the binary in /usr/local/bin (the commands kubeadm's
# manifests run).
component() {
  local image=$1 binary=$2 ctx="$work/ctx-$2"
  mkdir -p "$ctx"
  cp "$(bin "$binary")" "$ctx/"
  printf 'FROM %s\nCOPY %s /usr/local/bin/%s\n' "$ROOTFS_IMAGE" "$binary" "$binary" >"$ctx/Containerfile"
  podman build -q --network host -t "$image" "$ctx" >/dev/null
}
build_components() {
  component "registry.k8s.io/kube-apiserver:$K8S_VERSION" kube-apiserver
  component "registry.k8s.io/kube-controller-manager:$K8S_VERSION" kube-controller-manager
  component "registry.k8s.io/kube-scheduler:$K8S_VERSION" kube-scheduler
  component "registry.k8s.io/etcd:$ETCD_VERSION-0" etcd
  # CoreDNS runs as kubeadm's Deployment starts it: the image's entrypoint, args -conf …
  mkdir -p "$work/ctx-coredns" && cp "$TESTBIN/coredns" "$work/ctx-coredns/"
  printf 'FROM %s\nCOPY coredns /coredns\nENTRYPOINT ["/coredns"]\n' "$ROOTFS_IMAGE" >"$work/ctx-coredns/Containerfile"
  podman build -q -t "$COREDNS_TAG" "$work/ctx-coredns" >/dev/null
  # kube-proxy programs iptables: it needs Debian's iptables and conntrack, in the mode the node uses.
  local ctx="$work/ctx-proxy"
  mkdir -p "$ctx" && cp "$(bin kube-proxy)" scripts/kind-node/iptables-mode "$ctx/"
  cat >"$ctx/Containerfile" <<EOF
FROM $ROOTFS_IMAGE
RUN $(apt_install iptables conntrack ipset)
COPY iptables-mode /usr/local/bin/iptables-mode
COPY kube-proxy /usr/local/bin/kube-proxy.bin
RUN printf '#!/bin/sh\n/usr/local/bin/iptables-mode\nexec /usr/local/bin/kube-proxy.bin "\$@"\n' >/usr/local/bin/kube-proxy && chmod 755 /usr/local/bin/kube-proxy
EOF
  podman build -q --network host -t "registry.k8s.io/kube-proxy:$K8S_VERSION" "$ctx" >/dev/null
  # The pod network (kindnet's pattern, scripts/kind-node/cni-routes).
  ctx="$work/ctx-cni"
  mkdir -p "$ctx" && cp "$(bin kubectl)" scripts/kind-node/iptables-mode scripts/kind-node/cni-routes "$ctx/"
  cat >"$ctx/Containerfile" <<EOF
FROM $ROOTFS_IMAGE
RUN $(apt_install iptables iproute2)
COPY kubectl iptables-mode cni-routes /usr/local/bin/
ENTRYPOINT ["/usr/local/bin/cni-routes"]
EOF
  podman build -q --network host -t "$CNI_IMAGE" "$ctx" >/dev/null
  podman tag localhost/socat-relay-pause:"$SUITE" "$PAUSE_TAG"
}
timed "control-plane, kube-proxy, CoreDNS, pause and CNI images" build_components

ctx="$work/node"
mkdir -p "$ctx/images"
timed "save the node's images" podman save -q --multi-image-archive -o "$ctx/images/images.tar" \
  "registry.k8s.io/kube-apiserver:$K8S_VERSION" "registry.k8s.io/kube-controller-manager:$K8S_VERSION" \
  "registry.k8s.io/kube-scheduler:$K8S_VERSION" "registry.k8s.io/kube-proxy:$K8S_VERSION" \
  "$ETCD_TAG" "$COREDNS_TAG" "$PAUSE_TAG" "$CNI_IMAGE"
cp -a "$KIND_FILES" "$ctx/files"
chmod -R u+w "$ctx/files"
# The Go module cache keeps files read-only, without their exec bits.
chmod 755 "$ctx/files/usr/local/bin/"* "$ctx/files/kind/bin/"*
rm -f "$ctx/files/etc/systemd/system/containerd-fuse-overlayfs.service"
# containerd: kind's config with this VM's changes (see the header).
sed -i -e '/^\[proxy_plugins\]/,/^  address = /d' -e '/base_runtime_spec/d' \
  -e 's/restrict_oom_score_adj = false/restrict_oom_score_adj = true/' \
  -e "s#sandbox_image = .*#sandbox_image = \"$PAUSE_TAG\"#" "$ctx/files/etc/containerd/config.toml"
grep -q 'restrict_oom_score_adj = true' "$ctx/files/etc/containerd/config.toml" || { log "kind's containerd config changed shape"; exit 1; }
cp scripts/kind-node/kind-preload.service scripts/kind-node/12-cgroup-v1.conf scripts/kind-node/default-cni.yaml "$ctx/"
for b in kubeadm kubelet kubectl; do cp "$(bin "$b")" "$ctx/"; done
cat >"$ctx/Containerfile" <<EOF
FROM $ROOTFS_IMAGE
RUN $(apt_install systemd systemd-sysv dbus containerd runc containernetworking-plugins iptables iproute2 conntrack \
      ipset procps kmod mount util-linux socat ethtool ca-certificates curl) \
 && find /lib/systemd/system/sysinit.target.wants/ -name systemd-tmpfiles-setup.service -delete \
 && rm -f /lib/systemd/system/multi-user.target.wants/* /etc/systemd/system/*.wants/* \
      /lib/systemd/system/local-fs.target.wants/* /lib/systemd/system/sockets.target.wants/*udev* \
      /lib/systemd/system/sockets.target.wants/*initctl* /lib/systemd/system/basic.target.wants/* \
 && echo ReadKMsg=no >>/etc/systemd/journald.conf \
 && ln -sf /usr/lib/systemd/systemd /sbin/init \
 && ln -s /usr/bin/containerd /usr/local/bin/containerd \
 && mkdir -p /opt/cni && ln -s /usr/lib/cni /opt/cni/bin
COPY files/ /
COPY kubeadm kubelet kubectl /usr/bin/
COPY kind-preload.service /etc/systemd/system/kind-preload.service
COPY 12-cgroup-v1.conf /etc/systemd/system/kubelet.service.d/12-cgroup-v1.conf
COPY images/images.tar /kind/images/images.tar
COPY default-cni.yaml /kind/manifests/default-cni.yaml
# kind's units, as its base image enables them
RUN echo "$K8S_VERSION" >/kind/version && mkdir -p /etc/kubernetes/manifests \
 && systemctl enable kubelet.service containerd.service undo-mount-hacks.service kind-preload.service \
 && systemctl mask systemd-binfmt.service
ENV container=docker
STOPSIGNAL SIGRTMIN+3
ENTRYPOINT ["/usr/local/bin/entrypoint", "/sbin/init"]
EOF
timed "node image $NODE_IMAGE" podman build -q --network host -t "$NODE_IMAGE" "$ctx" >/dev/null
# Node images of older inputs (of this Kubernetes version): the newest two stay.
podman images --sort created --format '{{.Repository}}:{{.Tag}}' --filter "reference=$NODE_REPO:$K8S_VERSION-*" | tail -n +3 | xargs -r podman rmi -f >/dev/null 2>&1 || true
print
