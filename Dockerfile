# syntax=docker/dockerfile:1
# Pythia worker image.
# Build: docker build -t pythia .
#        docker build --build-arg WITH_PYTHON=true -t pythia:python .   (python3 for command handlers)
# Run:   docker run -v $PWD/pipelines:/app/pipelines:ro -e REDIS_HOST=redis pythia:python
# Pipelines (and their handlers) are mounted at /app/pipelines; `pythia run` runs every *.yml there.
# The shipped pipelines/ include Python command handlers, hence the python variant in the example.

# Node 22 LTS ("Jod", maintained until April 2027), pinned to an exact release on Debian 12: a
# rebuild gets the same Node. Raise it deliberately (24 LTS works too: engines is >=20.19).
ARG NODE_VERSION=22.20.0

# ---- build: dev dependencies + TypeScript compile -------------------------------------------
FROM node:${NODE_VERSION}-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
# --ignore-scripts: `prepare` compiles, and the sources are not copied yet.
RUN npm ci --ignore-scripts
COPY tsconfig.json tsconfig.build.json ./
COPY scripts/build.mjs ./scripts/build.mjs
COPY schema ./schema
COPY src ./src
RUN npm run build

# ---- runtime: production dependencies only, non-root ----------------------------------------
FROM node:${NODE_VERSION}-bookworm-slim
# true: also install python3, for pipelines whose command handlers are Python scripts.
ARG WITH_PYTHON=false
# tini runs as PID 1: it forwards signals to node and reaps orphans. Node as PID 1 reaps only its
# own children: a process that a command handler left behind (re-parented to PID 1 when the handler
# was killed on a timeout) stayed <defunct> once it exited.
RUN apt-get update \
 && apt-get install -y --no-install-recommends tini $(if [ "$WITH_PYTHON" = "true" ]; then echo python3; fi) \
 && rm -rf /var/lib/apt/lists/*
ENV NODE_ENV=production \
    PYTHIA_LOG_FORMAT=json
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts && npm cache clean --force
COPY bin ./bin
COPY schema ./schema
COPY --from=build /app/dist ./dist
# The TypeScript sources ship too (as in the npm package): handlers written in .ts run through tsx
# and may import from pythia's sources.
COPY src ./src
RUN mkdir -p /app/pipelines && chown node:node /app/pipelines
USER node
EXPOSE 9464
# /livez answers 200 while the process can serve; needs metrics.enabled (the default) on port 9464.
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:9464/livez').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# SIGTERM drains (shutdown.grace_period_ms, 25 s by default): give `docker stop` at least that long.
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/bin/tini", "--", "node", "bin/pythia.js"]
CMD ["run", "/app/pipelines"]
