# Auto Code Server: `docker build -t auto-code-server:0.1.0 .`
# Runs `autocode serve` as user 10001 under tini, listening on 0.0.0.0:8000, with its state
# (SQLite database, generated JWT secret, run workspaces) in /data: mount a volume there.
#   docker run -d -p 127.0.0.1:8000:8000 -v autocode-data:/data auto-code-server:0.1.0
# Agents are external programs started by the server: an image that runs them must have them
# installed (FROM auto-code-server, then install the agent CLIs your profiles name).

ARG NODE_IMAGE=node:20-bookworm-slim

# --- build: compile the TypeScript, then keep only the production dependencies ---------------
FROM ${NODE_IMAGE} AS build
# better-sqlite3 is a native addon that compiles from source when no prebuilt binary fits.
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
# Compile against this image's own Node headers rather than downloading them.
ENV npm_config_nodedir=/usr/local
WORKDIR /app
COPY package.json package-lock.json ./
COPY clients/typescript/package.json ./clients/typescript/
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY scripts/build.mjs scripts/build-stamp.mjs scripts/build-web.mjs ./scripts/
COPY src ./src
# The dashboard, and the API client it bundles.
COPY web ./web
COPY clients/typescript/src ./clients/typescript/src
# Pruning leaves the same tree as `npm ci --omit=dev`, without compiling better-sqlite3 again;
# the runtime stage copies it and needs no compiler.
RUN npm run build \
 && npm prune --omit=dev --no-audit --no-fund \
 && npm cache clean --force

# --- runtime ---------------------------------------------------------------------------------
FROM ${NODE_IMAGE} AS runtime
# tini as PID 1: forwards SIGTERM/SIGINT/SIGHUP to Node (which ends its agents' process groups
# itself) and reaps the orphaned processes that agents leave behind. bubblewrap sandboxes the
# agents where the container runtime lets it create user namespaces (see deploy/README.md).
RUN apt-get update \
 && apt-get install -y --no-install-recommends tini ca-certificates bubblewrap \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 autocode \
 && useradd --system --uid 10001 --gid autocode --home-dir /data --no-create-home \
      --shell /usr/sbin/nologin autocode \
 && mkdir -p /data \
 && chown autocode:autocode /data \
 && chmod 0700 /data
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=8000 \
    DATA_DIR=/data
WORKDIR /app
# package.json carries "type": "module", which dist/ needs. Owned by root: the server cannot
# change its own code.
COPY --from=build /app/package.json ./package.json
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
# Numeric, so that Kubernetes' runAsNonRoot can check it.
USER 10001:10001
EXPOSE 8000
# For plain Docker; Kubernetes uses the probes in deploy/kubernetes/deployment.yaml instead.
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 8000) + '/health/live').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
ENTRYPOINT ["/usr/bin/tini", "--"]
# --max-semi-space-size=4: V8's young generation stops at 3 × 4 MB instead of 3 × 16 MB (README, Performance).
CMD ["node", "--max-semi-space-size=4", "dist/cli.js", "serve"]
