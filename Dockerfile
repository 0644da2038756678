# syntax=docker/dockerfile:1
# The IOC platform's image: one image for both processes, the command chooses which one runs.
#
#   docker build -t ioc-platform .
#   docker run ioc-platform apps/broker/src/main.ts     # an MQTT broker node (ports 1883)
#   docker run ioc-platform apps/api/src/main.ts        # an API node (port 3000; the default)
#
# The processes run their TypeScript sources directly, as `npm start` does: the entry point loads
# scripts/register.js (@swc-node/register, a production dependency), which transpiles each file
# on load with tsconfig.base.json's path aliases. There is no separate compile step to drift from
# what the tests run. Only the operators' console (a browser bundle) is built, by Vite, in the
# build stage. Every setting comes from the environment (README "Configuration"); deploy/ holds
# docker-compose.yml and a Helm chart that use this image.
#
# Not built in CI: the CI machine has no Docker daemon. test/deploy-manifests.spec.ts checks that
# every path this file copies exists and is not excluded by .dockerignore.

ARG NODE_IMAGE=node:20-bookworm-slim

# ---- build: all dependencies, the console bundle ----------------------------------------------
FROM ${NODE_IMAGE} AS build
WORKDIR /app
# better-sqlite3 and @swc/core install prebuilt binaries; the compiler is the fallback when none
# matches the platform (e.g. another CPU architecture).
RUN apt-get update \
  && apt-get install -y --no-install-recommends python3 make g++ \
  && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.base.json tsconfig.frontend.json ./
COPY apps/console ./apps/console
COPY libs ./libs
RUN npx vite build --config apps/console/vite.config.mjs

# ---- deps: production dependencies only (includes @swc-node/register and @swc/core) ------------
FROM ${NODE_IMAGE} AS deps
WORKDIR /app
RUN apt-get update \
  && apt-get install -y --no-install-recommends python3 make g++ \
  && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force

# ---- runtime -----------------------------------------------------------------------------------
FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production \
  IOC_DATA_DIR=/data
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY package.json tsconfig.base.json ./
COPY scripts/register.js ./scripts/register.js
COPY apps/broker/src ./apps/broker/src
COPY apps/api/src ./apps/api/src
COPY libs ./libs
COPY seeds ./seeds
# The API serves the console from dist/apps/console by default (IOC_CONSOLE_DIR).
COPY --from=build /app/dist/apps/console ./dist/apps/console
# Local state (spool, embedded store, generated keys) lives in /data, a volume per node; the
# processes run as the image's unprivileged `node` user (uid 1000), which owns it.
RUN mkdir -p /data && chown node:node /data
USER node
VOLUME ["/data"]
# MQTT (IOC_MQTT_PORT) on a broker node; HTTP (IOC_HTTP_PORT) on an API node.
EXPOSE 1883 3000
ENTRYPOINT ["node", "-r", "./scripts/register.js"]
CMD ["apps/api/src/main.ts"]
