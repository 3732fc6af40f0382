# syntax=docker/dockerfile:1.7
#
# The two Meridian images, one Dockerfile with one final target each (built from the repository root):
#
#   docker build --target agent           -t ghcr.io/meridian-dev/meridian-agent:0.1.0 .
#   docker build --target workspace-agent -t ghcr.io/meridian-dev/meridian-workspace-agent:0.1.0 .
#
# Each image runs one file: its agent bundled with esbuild (shared/build/bundle.ts) into
# <pkg>/dist/main.js, which holds every dependency. A Node build stage installs all dependencies and
# bundles; the final stage is distroless Node 24 (no shell, no package manager, no node_modules) with the
# bundle, its source map and license file, and the package's package.json (the version it reports).
# Bundling rather than running the TypeScript sources saves ~28 MB of resident memory per process
# (docs/decisions.md, "Bundled entry points").
#
# The runtime settings live here, with the image: V8 flags on the ENTRYPOINT (Node refuses most V8
# flags in NODE_OPTIONS) and glibc malloc settings in ENV (docs/performance.md measures them). The node
# simulator runs exactly this ENTRYPOINT and ENV for the two images (test/images/runtime.ts), so the
# tests and benchmarks run what ships.
#
# Signals: distroless runs node as PID 1 (no tini). PID 1 gets no default signal handlers from the
# kernel, so the agents install their own SIGTERM/SIGINT handlers and shut down gracefully
# (test/images/dockerfile.test.ts checks that the entry points' code handles SIGTERM).
#
# Release builds should pin both base images by digest (--build-arg NODE_IMAGE=node:24-bookworm-slim@sha256:...).

ARG NODE_IMAGE=node:24-bookworm-slim
ARG RUNTIME_IMAGE=gcr.io/distroless/nodejs24-debian12:nonroot

# Manifests only, so the dependency layers are rebuilt only when a manifest or the lockfile changes.
# All four workspace manifests are present so that `npm ci` finds the lockfile in sync.
FROM ${NODE_IMAGE} AS manifests
WORKDIR /app
COPY package.json package-lock.json ./
COPY shared/package.json shared/
COPY agent/package.json agent/
COPY workspace-agent/package.json workspace-agent/
COPY test/package.json test/

FROM manifests AS build
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY shared/build shared/build
COPY shared/src shared/src
COPY agent/src agent/src
COPY workspace-agent/src workspace-agent/src
RUN node shared/build/bundle.ts

# ---------------------------------------------------------------------------------------------------
FROM ${RUNTIME_IMAGE} AS agent
ARG VERSION=0.1.0
ARG REVISION=unknown
LABEL org.opencontainers.image.title="meridian-agent" \
      org.opencontainers.image.description="Meridian data-plane agent for Apache Flink on Kubernetes (cluster agent)" \
      org.opencontainers.image.source="https://github.com/meridian-dev/meridian" \
      org.opencontainers.image.url="https://github.com/meridian-dev/meridian" \
      org.opencontainers.image.documentation="https://github.com/meridian-dev/meridian/blob/main/docs/install.md" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.vendor="Meridian" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}"
WORKDIR /app
ENV NODE_ENV=production
ENV MALLOC_ARENA_MAX=1 \
    MALLOC_TRIM_THRESHOLD_=0
COPY agent/package.json agent/
COPY --from=build /app/agent/dist agent/dist
USER 10001:10001
EXPOSE 8080
ENTRYPOINT ["/nodejs/bin/node", "--max-semi-space-size=1", "--optimize-for-size", "/app/agent/dist/main.js"]
CMD ["run"]

# ---------------------------------------------------------------------------------------------------
FROM ${RUNTIME_IMAGE} AS workspace-agent
ARG VERSION=0.1.0
ARG REVISION=unknown
LABEL org.opencontainers.image.title="meridian-workspace-agent" \
      org.opencontainers.image.description="Meridian workspace agent: runs the Flink deployments of one workspace" \
      org.opencontainers.image.source="https://github.com/meridian-dev/meridian" \
      org.opencontainers.image.url="https://github.com/meridian-dev/meridian" \
      org.opencontainers.image.documentation="https://github.com/meridian-dev/meridian/blob/main/docs/install.md" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.vendor="Meridian" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}"
WORKDIR /app
ENV NODE_ENV=production
ENV MALLOC_ARENA_MAX=1 \
    MALLOC_TRIM_THRESHOLD_=0
COPY workspace-agent/package.json workspace-agent/
COPY --from=build /app/workspace-agent/dist workspace-agent/dist
USER 10001:10001
EXPOSE 8080
ENTRYPOINT ["/nodejs/bin/node", "--max-semi-space-size=1", "--optimize-for-size", "--no-opt", "--no-maglev", "/app/workspace-agent/dist/main.js"]
CMD ["run"]
