# syntax=docker/dockerfile:1
# Pythia worker image. Build: docker build -t pythia .
# Run:   docker run -v $PWD/pipelines:/app/pipelines:ro -e REDIS_HOST=redis pythia
# Pipelines (and their handlers) are mounted at /app/pipelines; `pythia run` runs every *.yml there.

# ---- build: dev dependencies + TypeScript compile -------------------------------------------
FROM node:20-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
# --ignore-scripts: `prepare` compiles, and the sources are not copied yet.
RUN npm ci --ignore-scripts
COPY tsconfig.json tsconfig.build.json ./
COPY schema ./schema
COPY src ./src
RUN npm run build

# ---- runtime: production dependencies only, non-root ----------------------------------------
FROM node:20-slim
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
ENTRYPOINT ["node", "bin/pythia.js"]
CMD ["run", "/app/pipelines"]
