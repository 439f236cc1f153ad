# One image for the controller, the node agent and the injected sidecar:
#   controller  args: [controller]   (DaemonSet, manifests/controller/daemonset.yaml)
#   agent       args: [agent]        (static pod, manifests/node-agent/)
#   sidecar     command: [socat, …]  (set by the webhook)
# Build: docker build -t ghcr.io/socat-relay/socat-relay:0.1.0 .
ARG NODE_IMAGE=node:24-bookworm-slim

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
COPY certs ./certs
RUN npx tsc -p tsconfig.build.json \
 && npm prune --omit=dev --no-audit --no-fund

# --- runtime: Node, socat, the compiled CLI and its production dependencies; no build tools -----
FROM ${NODE_IMAGE}
RUN apt-get update \
 && apt-get install -y --no-install-recommends socat \
 && rm -rf /var/lib/apt/lists/*
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build /src/package.json ./package.json
COPY --from=build /src/node_modules ./node_modules
COPY --from=build /src/dist ./dist
# 65532 = the sidecar's uid and the relay sockets' group (relay/constants.ts). The controller and
# the agent run as root by their manifests, because they write root-owned files on the node.
USER 65532:65532
ENTRYPOINT ["node", "/app/dist/cli/main.js"]
