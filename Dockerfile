# syntax=docker/dockerfile:1
# The nodemeta image: one executable, `nodemeta agent | controller | emulator`.
#
#   docker build -t ghcr.io/nodemeta/nodemeta:0.1.0 .
#   docker buildx build --platform linux/amd64,linux/arm64 -t ... --push .
#
# Two stages: the build stage compiles TypeScript and keeps only production dependencies; the
# runtime stage is distroless Node.js 24 (no shell, no package manager) running as the non-root
# user 65532, which the chart's securityContext also enforces (runAsNonRoot, read-only root
# filesystem: nothing is written at run time). Pin the base images by digest in release builds.
# test/e2e/artefact.test.ts builds this file system the same way (no container engine there) and runs
# the chart's containers from it; it reads this file's runtime stage, so change both together
# (docs/cluster.md, "The artefact as shipped").

ARG NODE_BUILD_IMAGE=node:24-bookworm-slim
ARG NODE_RUNTIME_IMAGE=gcr.io/distroless/nodejs24-debian12:nonroot

FROM ${NODE_BUILD_IMAGE} AS build
WORKDIR /src
# Dependencies first, so that a source change reuses this layer. The lock file pins every version;
# `npm install` honours it (`npm ci` rejects this lock file, which leaves out other platforms'
# optional packages; see the Makefile). No install scripts run.
COPY package.json package-lock.json ./
RUN npm install --no-audit --no-fund --ignore-scripts
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npx tsc -p tsconfig.build.json \
 && npm prune --omit=dev --no-audit --no-fund --ignore-scripts \
 && find dist -name '*.map' -delete

FROM ${NODE_RUNTIME_IMAGE}
LABEL org.opencontainers.image.title="nodemeta" \
      org.opencontainers.image.description="Cloud instance metadata to Kubernetes node labels, taints and maintenance drains" \
      org.opencontainers.image.source="https://github.com/nodemeta/nodemeta" \
      org.opencontainers.image.licenses="Apache-2.0"
WORKDIR /app
ENV NODE_ENV=production
COPY --from=build --chown=0:0 /src/package.json ./package.json
COPY --from=build --chown=0:0 /src/node_modules ./node_modules
COPY --from=build --chown=0:0 /src/dist ./dist
# Files owned by root and read-only for the process: it cannot change its own code.
USER 65532:65532
# The agent serves :9102, the controller :8080 (metrics, /healthz, /readyz).
EXPOSE 8080 9102
ENTRYPOINT ["/nodejs/bin/node", "/app/dist/cmd/nodemeta.js"]
