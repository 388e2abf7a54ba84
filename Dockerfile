# syntax=docker/dockerfile:1

# Build: full dependencies, compile TypeScript to dist/.
FROM node:22-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json .swcrc nest-cli.json ./
COPY src ./src
COPY config ./config
ARG GIT_COMMIT=unknown
RUN npm run build && printf '%s\n' "$GIT_COMMIT" > dist/COMMIT

# Production dependencies only.
FROM node:22-bookworm-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force

# Runtime: no compiler, no dev dependencies, not root.
FROM node:22-bookworm-slim
ENV NODE_ENV=production
# glibc gives each thread that allocates (V8's helpers, libuv's pool) an arena of its own, up to 8 per core,
# and keeps what they freed: two arenas cost no measurable CPU here and 3 to 9 MB less RSS (npm run bench).
ENV MALLOC_ARENA_MAX=2
WORKDIR /app
COPY --from=deps --chown=node:node /app/node_modules ./node_modules
COPY --from=build --chown=node:node /app/dist ./dist
COPY --chown=node:node package.json ./
COPY --chown=node:node config ./config
USER node
EXPOSE 3000
# A heap budget well inside the pod's 384Mi limit: without one, V8 sizes the heap from the host's memory and,
# under load, lets garbage pile up to 300+ MB of RSS before collecting it (npm run bench shows the difference).
# Node 22 grows the young generation to 2 x 16 MB semi-spaces already while the service boots: 8 MB each keeps
# the peak RSS of an API process under load at 191-194 MB instead of 215 (a worker's 182-191 instead of 207),
# with no measurable cost in CPU per request (npm run bench, which runs the servers on this image's Node).
# The request's log context (AsyncLocalStorage: the request id on every line) is, on Node 22 by default, kept by
# hooks run on every promise (about 0.2 us each). Node 22's async context frame keeps it in V8's own promise context
# instead, as Node 24 does by default. Over five runs of npm run bench:compare -- . with the flag on one side only
# (BENCH_OTHER_NODE_ARGS), at 50 and at 2 connections: 0.77-1.01 x the CPU per send and 0.74-0.96 x per check, lower
# in 36 of 44 rounds each. .ci/docker-image checks that the lines a request and its delivery write still carry its id.
CMD ["node", "--experimental-async-context-frame", "--max-old-space-size=160", "--max-semi-space-size=8", "dist/main.js"]
