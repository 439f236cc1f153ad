# Two images from one Dockerfile, named from one setting:
#   <repository>:<tag>          (default target, the last stage) controller and node agent:
#       controller  args: [controller]   (DaemonSet, manifests/controller/daemonset.yaml)
#       agent       args: [agent]        (static pod or DaemonSet, manifests/node-agent/)
#       csi         args: [csi]          (the privileged CSI container beside the agent)
#   <repository>-sidecar:<tag>  (--target sidecar) the socat sidecar the webhook injects into every
#       consumer pod: socat and the libraries it links, nothing else (no shell, no Node.js).
# Neither final image holds a package manager, npm, a shell or build tools: each is a scratch image with
# exactly the files it runs (149 MB and 9.9 MB: BENCHMARKS.md, "Image and footprint").
# Build: docker build -t ghcr.io/socat-relay/socat-relay:0.1.0 .
#        docker build --target sidecar -t ghcr.io/socat-relay/socat-relay-sidecar:0.1.0 .
ARG NODE_IMAGE=node:24-bookworm-slim

# --- socat: the base with socat, where the final images' files are taken from ---------------------
FROM ${NODE_IMAGE} AS socat
RUN apt-get update \
 && apt-get install -y --no-install-recommends socat \
 && rm -rf /var/lib/apt/lists/*

# --- build: bundle the CLI and its dependencies into dist/bundle (scripts/bundle.sh, esbuild) ----
FROM ${NODE_IMAGE} AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY scripts/bundle.sh ./scripts/bundle.sh
COPY relay ./relay
COPY lib ./lib
COPY cli ./cli
COPY webhook ./webhook
COPY node-agent ./node-agent
COPY node-contract ./node-contract
COPY certs ./certs
RUN bash scripts/bundle.sh dist/bundle \
 && node -e 'const p = require("./package.json"); console.log(JSON.stringify({ name: p.name, version: p.version, type: p.type }))' >dist/package.json
# Lets a builder find (and prune) this stage's images, left untagged once the final image is built.
LABEL io.socat-relay.stage=build

# --- files: what the two final images hold, each program with every shared library ldd lists for it
#   /out/sidecar: socat.
#   /out/runtime: node; socat (the agent's relays); setpriv (the agent starts each socat through it:
#     node-agent/supervisor.ts); mount and umount (the CSI plugin's bind mounts: node-agent/csi/mount.ts);
#     the CA bundle; users and groups root (the manifests run the controller, agent and CSI plugin as 0)
#     and 65532 (the image's default user, the sidecar's uid and the sockets' group: relay/constants.ts).
# Each program is run from its copy (chroot) at build time, so a missing library fails the build.
FROM socat AS files
RUN set -e; \
    copy() { \
      dest=$1; shift; mkdir -p "$dest"; \
      for bin in "$@"; do \
        for f in "$bin" /etc/ld.so.cache $(ldd "$bin" | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }'); do \
          cp --parents -L "$f" "$dest/"; \
        done; \
      done; \
    }; \
    copy /out/sidecar /usr/bin/socat; \
    chroot /out/sidecar /usr/bin/socat -V >/dev/null; \
    for b in node socat setpriv mount umount; do copy /out/runtime "$(command -v "$b")"; done; \
    mkdir -p /out/runtime/etc/ssl/certs /out/runtime/tmp; \
    chmod 1777 /out/runtime/tmp; \
    cp -L /etc/ssl/certs/ca-certificates.crt /out/runtime/etc/ssl/certs/; \
    printf 'root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n' >/out/runtime/etc/passwd; \
    printf 'root:x:0:\nnonroot:x:65532:\n' >/out/runtime/etc/group; \
    printf 'hosts: files dns\n' >/out/runtime/etc/nsswitch.conf; \
    for v in 'node --version' 'socat -V' 'setpriv --version' 'mount --version' 'umount --version'; do \
      set -- $v; chroot /out/runtime "$(command -v "$1")" "$2" >/dev/null; \
    done

# --- sidecar: socat alone, non-root (65532 = the sidecar's uid and the sockets' group) ------------
FROM scratch AS sidecar
COPY --from=files /out/sidecar/ /
ENV PATH=/usr/bin
USER 65532:65532
ENTRYPOINT ["/usr/bin/socat"]

# --- runtime (default target): Node.js, socat and the tools above, the bundled CLI -----------------
FROM scratch AS runtime
COPY --from=files /out/runtime/ /
ENV PATH=/usr/local/bin:/usr/bin:/bin NODE_ENV=production
WORKDIR /app
# package.json: name, version and module type only (the version is what `socat-relay version` and the
# socat_relay_build_info metric report).
COPY --from=build /src/dist/package.json ./package.json
COPY --from=build /src/dist/bundle ./dist/bundle
# `socat-relay static-pod` prints this manifest with the chosen image.
COPY manifests/node-agent/static-pod.yaml ./manifests/node-agent/static-pod.yaml
# 65532 = the sidecar's uid and the relay sockets' group (relay/constants.ts). The controller and
# the agent run as root by their manifests, because they write root-owned files on the node.
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/node", "/app/dist/bundle/main.js"]
