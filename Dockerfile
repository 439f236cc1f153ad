# Two images from one Dockerfile, named from one setting:
#   <repository>:<tag>          (default target, the last stage) controller and node agent:
#       controller  args: [controller]   (DaemonSet, manifests/controller/daemonset.yaml)
#       agent       args: [agent]        (static pod or DaemonSet, manifests/node-agent/)
#       csi         args: [csi]          (the privileged CSI container beside the agent)
#   <repository>-sidecar:<tag>  (--target sidecar) the socat sidecar the webhook injects into every
#       consumer pod: socat and the libraries it links, nothing else (no shell, no Node.js).
# Build: docker build -t ghcr.io/socat-relay/socat-relay:0.1.0 .
#        docker build --target sidecar -t ghcr.io/socat-relay/socat-relay-sidecar:0.1.0 .
ARG NODE_IMAGE=node:24-bookworm-slim

# --- socat: the base with socat, shared by the runtime and the sidecar's file list ---------------
FROM ${NODE_IMAGE} AS socat
RUN apt-get update \
 && apt-get install -y --no-install-recommends socat \
 && rm -rf /var/lib/apt/lists/*

# --- build: compile the TypeScript, then drop the dev dependencies -----------------------------
FROM ${NODE_IMAGE} AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY relay ./relay
COPY lib ./lib
COPY cli ./cli
COPY webhook ./webhook
COPY node-agent ./node-agent
COPY node-contract ./node-contract
COPY certs ./certs
RUN npx tsc -p tsconfig.build.json \
 && cp node-agent/csi/*.proto dist/node-agent/csi/ \
 && npm prune --omit=dev --no-audit --no-fund
# Lets a builder find (and prune) this stage's images, left untagged once the final image is built.
LABEL io.socat-relay.stage=build

# --- sidecar-files: socat, every shared library ldd lists for it, the loader cache --------------
FROM socat AS sidecar-files
RUN mkdir -p /out \
 && for f in /usr/bin/socat /etc/ld.so.cache $(ldd /usr/bin/socat | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }'); do \
      cp --parents -L "$f" /out/ || exit 1; \
    done \
 && /out/usr/bin/socat -V >/dev/null

# --- sidecar: socat alone, non-root (65532 = the sidecar's uid and the sockets' group) ------------
FROM scratch AS sidecar
COPY --from=sidecar-files /out/ /
ENV PATH=/usr/bin
USER 65532:65532
ENTRYPOINT ["/usr/bin/socat"]

# --- runtime (default target): Node, socat, the compiled CLI and its production dependencies ------
FROM socat AS runtime
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build /src/package.json ./package.json
COPY --from=build /src/node_modules ./node_modules
COPY --from=build /src/dist ./dist
# `socat-relay static-pod` prints this manifest with the chosen image.
COPY manifests/node-agent/static-pod.yaml ./manifests/node-agent/static-pod.yaml
# 65532 = the sidecar's uid and the relay sockets' group (relay/constants.ts). The controller and
# the agent run as root by their manifests, because they write root-owned files on the node.
USER 65532:65532
ENTRYPOINT ["node", "/app/dist/cli/main.js"]
