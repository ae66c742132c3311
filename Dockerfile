# One image for every gently service; docker-compose.yml picks the service
# with the command. Native libraries are built inside the image.
FROM node:20-bookworm-slim

RUN apt-get update \
 && apt-get install -y --no-install-recommends build-essential ca-certificates \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /app
COPY package.json package-lock.json .npmrc ./
COPY libs libs
COPY services services
COPY native native
COPY tsconfig.json nats.conf ./
RUN npm ci --no-audit --no-fund && make -s -C native && npm cache clean --force

ENV GENTLY_STORAGE=/data/storage \
    NODE_ENV=production
USER node
# e.g. `command: ["services/hardware/src/main.ts"]`
ENTRYPOINT ["node", "--import", "tsx"]
