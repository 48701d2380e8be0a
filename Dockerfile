# Darkroom worker and reviewer tool. Build: docker build -t darkroom .
# Default command runs a worker; the reviewer tool is `node bin/darkroom.js review --host 0.0.0.0`.
# TypeScript runs through tsx (a runtime dependency), so there is no compile step.

FROM node:22.12.0-bookworm-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
# npm install, not npm ci: the README's install command, resolving from the lock file
# (see .ci/run for why npm ci is not used). Dev dependencies (tests, lint) are left out.
RUN npm install --omit=dev --no-audit --no-fund && npm cache clean --force
# The C2PA SDK that signs published assets (README, Provenance), outside the app's own packages as
# scripts/c2pa.ts installs it; its prebuilt binary is in the npm package (SKIP_RUST_BUILD skips the
# download). Node 22 loads it in-process, so the extra Node binary is not needed here.
RUN SKIP_RUST_BUILD=1 npm install --prefix /opt/c2pa --no-save --no-audit --no-fund @contentauth/c2pa-node@0.8.0 && npm cache clean --force

FROM node:22.12.0-bookworm-slim AS runtime
# glibc malloc: two arenas, and large blocks always mmapped (a fixed threshold), so the buffers
# libvips frees go back to the system instead of fragmenting the heap (bench/format-throughput.ts).
ENV NODE_ENV=production MALLOC_ARENA_MAX=2 MALLOC_MMAP_THRESHOLD_=131072
WORKDIR /app
COPY --from=deps --chown=node:node /app/node_modules ./node_modules
COPY --from=deps /opt/c2pa /opt/c2pa
ENV DARKROOM_C2PA_DIR=/opt/c2pa
COPY --chown=node:node . .
RUN mkdir -p /app/.darkroom && chown node:node /app/.darkroom
USER node
# SIGTERM drains the worker (workers/main.ts); node runs as PID 1 and receives it directly.
CMD ["node", "--import", "tsx", "workers/main.ts"]
