# One image for every gently service; docker-compose.yml picks the service
# with the command (its compiled entry, e.g. services/hardware/dist/main.js).

# Build: every dependency, the native libraries and the compiled output.
FROM node:20-bookworm-slim AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends build-essential ca-certificates python3 \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json package-lock.json .npmrc ./
COPY native native
COPY libs libs
COPY services services
COPY scripts scripts
COPY tsconfig.base.json tsconfig.build.json ./
# onnxruntime-node: the bundled CPU build only (no CUDA download).
RUN ONNXRUNTIME_NODE_INSTALL=skip npm ci --no-audit --no-fund && make -s -C native && npm run build

# Production dependencies only: the build's node_modules (native addons
# already compiled for this image) without the dev dependencies.
FROM build AS production-dependencies
RUN npm prune --omit=dev --no-audit --no-fund && npm cache clean --force

# Runtime: compiled output, production dependencies, native libraries; no
# compiler, no TypeScript, no dev dependency; not root.
FROM node:20-bookworm-slim
WORKDIR /app
COPY --from=production-dependencies /app/node_modules node_modules
COPY --from=build /app/package.json ./
COPY --from=build /app/native/build native/build
COPY --from=build /app/libs libs
COPY --from=build /app/services services
ENV GENTLY_STORAGE=/data/storage \
    NODE_ENV=production
USER node
# e.g. `command: ["services/hardware/dist/main.js"]`
ENTRYPOINT ["node"]
