# syntax=docker/dockerfile:1.7
#
# The two Meridian images, one Dockerfile with one final target each (built from the repository root):
#
#   docker build --target agent           -t ghcr.io/meridian-dev/meridian-agent:0.1.0 .
#   docker build --target workspace-agent -t ghcr.io/meridian-dev/meridian-workspace-agent:0.1.0 .
#
# Meridian runs its TypeScript sources directly on Node 24 (type stripping), so there is no compile step:
# a Node build stage installs the production dependencies of one workspace package plus `shared`, and the
# final stage is distroless Node 24 (no shell, no package manager) with those node_modules and the `src/`
# trees. node_modules/@meridian/* stay symlinks to /app/<pkg>: Node follows them to their real path,
# which is outside node_modules, so type stripping applies to shared's .ts files.
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

FROM manifests AS agent-deps
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund -w shared -w agent

FROM manifests AS workspace-agent-deps
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund -w shared -w workspace-agent

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
COPY --from=agent-deps /app/package.json ./package.json
COPY --from=agent-deps /app/node_modules ./node_modules
COPY shared/package.json shared/
COPY shared/src shared/src
COPY agent/package.json agent/
COPY agent/src agent/src
# The chart runs the pod as 10001:10001 too; the image says the same so it is non-root anywhere.
USER 10001:10001
EXPOSE 8080
ENTRYPOINT ["/nodejs/bin/node", "--disable-warning=ExperimentalWarning", "/app/agent/src/main.ts"]
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
COPY --from=workspace-agent-deps /app/package.json ./package.json
COPY --from=workspace-agent-deps /app/node_modules ./node_modules
COPY shared/package.json shared/
COPY shared/src shared/src
COPY workspace-agent/package.json workspace-agent/
COPY workspace-agent/src workspace-agent/src
USER 10001:10001
EXPOSE 8080
ENTRYPOINT ["/nodejs/bin/node", "--disable-warning=ExperimentalWarning", "/app/workspace-agent/src/main.ts"]
CMD ["run"]
