# syntax=docker/dockerfile:1
# tracking-gateway image: build with dev dependencies, run with production ones only.
# The runtime is read-only-root friendly: it writes only under /var/lib/tracking-gateway
# (data, dead letters, spool) and /tmp, both meant to be volumes.

# Node.js 24 LTS, the line package.json pins (devDependency `node`) for tests and npm scripts.
ARG NODE_IMAGE=node:24-bookworm-slim

FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json ./
COPY src ./src
COPY clients ./clients
RUN npm run build

FROM ${NODE_IMAGE} AS production-deps
WORKDIR /app
COPY package.json package-lock.json ./
# --ignore-scripts: production dependencies are plain JS; no install script should run in the image.
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force

FROM ${NODE_IMAGE} AS runtime
# tini as PID 1: the kernel gives PID 1 no default signal actions, so a SIGTERM that
# arrives before the gateway installs its handler (while it loads topics) would be
# ignored until SIGKILL. Under tini, node is not PID 1, keeps the default actions,
# receives SIGTERM/SIGINT forwarded, and tini reaps any orphaned child and passes
# node's exit code through.
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends tini \
 && rm -rf /var/lib/apt/lists/*

# GATEWAY_WORKERS=auto: the image runs one worker per CPU it may use; without it the gateway
# runs one process (the default for `npm start`). The Helm chart sets the number explicitly.
# MALLOC_ARENA_MAX: at most two glibc malloc arenas, so that memory freed after a burst of
# large request bodies goes back to the system rather than staying in per-thread arenas.
ENV NODE_ENV=production \
    GATEWAY_WORKERS=auto \
    MALLOC_ARENA_MAX=2 \
    GATEWAY_PORT=8080 \
    GATEWAY_ADMIN_PORT=9464 \
    GATEWAY_TOPICS_DIR=/app/topics \
    GATEWAY_DATA_DIR=/var/lib/tracking-gateway \
    GATEWAY_SPOOL_DIR=/var/lib/tracking-gateway/_spool

WORKDIR /app
COPY --from=production-deps /app/node_modules ./node_modules
COPY --from=build /app/dist/src ./dist/src
# The browser tracker the gateway serves at /v1/tracker.js (src/http/routes/tracker.ts).
COPY --from=build /app/dist/clients/browser/tracker.js ./dist/clients/browser/tracker.js
COPY package.json ./
COPY topics ./topics

# Numeric uid/gid (the base image's `node` user) so Kubernetes can verify runAsNonRoot.
RUN mkdir -p /var/lib/tracking-gateway/_spool && chown -R 1000:1000 /var/lib/tracking-gateway
USER 1000:1000
VOLUME ["/var/lib/tracking-gateway"]

# 8080: public ingestion API. 9464: admin (/metrics, /healthz, /readyz), never exposed publicly.
EXPOSE 8080 9464

# Exec form so signals reach tini (a shell form would put /bin/sh in between), and node
# is started directly rather than through `npm start`, which does not forward signals. Its
# flags are those of `npm start` (load-tests/gateway-process.ts says why).
ENTRYPOINT ["/usr/bin/tini", "--", "node", "--max-semi-space-size=32", "--expose-gc", "dist/src/cli.js"]
CMD ["serve"]
