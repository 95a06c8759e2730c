# Trine: an OpenAI-compatible CPU inference server for MatMul-free (ternary) language models.
#
#   docker build -t trine .                         # Node 22 (current LTS)
#   docker build --build-arg NODE_VERSION=20 -t trine .
#   docker run --rm -p 8000:8000 trine
#
# docs/DEPLOY.md has the settings, how to mount your own model (at /models) and the Kubernetes
# manifests. test/container/smoke-test.sh builds and exercises this file without Docker.

ARG NODE_VERSION=22

# ---------------------------------------------------------------------------------------------
# Build: the toolchain (python3, make and g++ for the node-gyp kernel), all dependencies, then
# TypeScript, the WASM kernels and the native kernel; finally the dev dependencies are pruned.
FROM node:${NODE_VERSION}-bookworm-slim AS build

# tini is taken from here into the runtime stage as its init, so that stage needs no apt run.
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ tini \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /app

# Dependencies first, so that a source change reuses this layer. native/ comes along because
# the install script compiles the native kernel from it.
COPY package.json package-lock.json ./
COPY native/ native/
RUN npm ci --no-audit --no-fund

COPY . .
# The install script builds the native kernel only optionally (a machine without a compiler
# still installs); here a failed native build must fail the image, so build it if it is missing.
RUN npm run build \
 && { test -f native/build/Release/trine_native.node || node native/build.mjs; } \
 && test -f native/build/Release/trine_native.node \
 && npm prune --omit=dev --no-audit --no-fund \
 && mkdir -p models

# ---------------------------------------------------------------------------------------------
# Runtime: Node, tini, the compiled server, production node_modules, the native addon and the
# shipped model. Everything is owned by root and only readable by the `node` user it runs as.
FROM node:${NODE_VERSION}-bookworm-slim AS runtime

# A release build passes VERSION=$(node -p "require('./package.json').version") and
# REVISION=$(git rev-parse HEAD).
ARG VERSION=unknown
ARG REVISION=unknown
LABEL org.opencontainers.image.title="trine" \
      org.opencontainers.image.description="OpenAI-compatible CPU inference server for MatMul-free (ternary) language models" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.documentation="docs/DEPLOY.md"

COPY --from=build /usr/bin/tini-static /usr/bin/tini

WORKDIR /app
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules/ node_modules/
COPY --from=build /app/bin/ bin/
COPY --from=build /app/dist/ dist/
COPY --from=build /app/native/build/Release/trine_native.node native/build/Release/
COPY --from=build /app/models/ models/
COPY deploy/container/healthcheck.mjs /usr/local/lib/trine/healthcheck.mjs

# /models is where an operator mounts a model to serve instead of the shipped one
# (TRINE_MODEL=/models/<dir>); it exists so that a read-only root filesystem can take the mount.
RUN mkdir -p /models
# The embedded state store of the Responses API (TRINE_STATE_STORE): a volume, so stored
# conversations survive the container; with a read-only root filesystem, mount one here.
RUN mkdir -p /var/lib/trine/state && chown node:node /var/lib/trine/state
VOLUME /var/lib/trine/state

ENV NODE_ENV=production \
    TRINE_HOST=0.0.0.0 \
    TRINE_PORT=8000 \
    TRINE_STATE_STORE=/var/lib/trine/state

USER node
EXPOSE 8000

# Liveness only (/health): a saturated server answers /ready with 503 and must not be restarted.
# Slim images have no curl; node is there. start-period covers loading the model.
HEALTHCHECK --interval=30s --timeout=5s --start-period=120s --retries=3 \
  CMD ["node", "/usr/local/lib/trine/healthcheck.mjs"]

# tini as PID 1 forwards SIGTERM to node (which drains running streams, then exits 0) and reaps
# zombies. node is started directly, not through npm, so the signal reaches the server. The main
# thread's young generation is capped at 2 MB semi-spaces, as the workers' are: V8's default grows
# it to ~16 MB resident and keeps that idle (docs/PERFORMANCE.md, "Worker memory").
ENTRYPOINT ["/usr/bin/tini", "--"]
CMD ["node", "--max-semi-space-size=2", "bin/trine.js", "serve"]
