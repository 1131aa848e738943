# syntax=docker/dockerfile:1
# Build stage: compiles TypeScript (and bundles the server's own modules) and the better-sqlite3 native addon.
FROM node:24-bookworm-slim AS build
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci
COPY tsconfig.json tsconfig.build.json ./
COPY scripts/bundle.mjs ./scripts/bundle.mjs
COPY server ./server
COPY test/fixtures ./test/fixtures
RUN npm run build && npm prune --omit=dev

# Runtime stage: no compilers, non-root, state in /data, workspaces in /workspace.
FROM node:24-bookworm-slim
# bubblewrap and socat: Claude Code's sandbox, which every Claude run uses (CLAUDE_SANDBOX=required, docs/security.md);
# git: what Claude's commands most often need in a workspace.
RUN apt-get update && apt-get install -y --no-install-recommends bubblewrap socat git ca-certificates && rm -rf /var/lib/apt/lists/*
ENV NODE_ENV=production HOST=0.0.0.0 PORT=3000 DATA_DIR=/data LOG_FORMAT=json WORKSPACE_ROOTS=/workspace
WORKDIR /app
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/build ./build
COPY package.json ./
RUN mkdir -p /data /workspace && chown node:node /data /workspace
USER node
VOLUME ["/data", "/workspace"]
EXPOSE 3000
HEALTHCHECK --interval=30s --timeout=3s --start-period=10s CMD node -e "fetch('http://127.0.0.1:'+(process.env.PORT||3000)+'/health/ready').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
# Exec form: the server is PID 1's child-free main process and receives SIGTERM directly for a graceful stop.
CMD ["node", "build/server/main.js", "serve"]
