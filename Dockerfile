# The container image of a Kaffix app, here the origin example (examples/double-number): compiled in a build stage,
# run as a non-root user from a slim Node LTS stage. Recipe and reasoning: docs/deploy/kubernetes.md ("The image").

# One pinned base for both stages. Pin the digest too once you have pulled it: node:22.22.0-bookworm-slim@sha256:…
ARG NODE_IMAGE=node:22.22.0-bookworm-slim

FROM ${NODE_IMAGE} AS build
WORKDIR /app
# Dependencies first, so this layer is rebuilt only when the manifest or the lockfile change.
# --ignore-scripts: the package's own `prepare` script would compile before the sources are copied in.
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json ./
COPY src ./src
COPY examples ./examples
# Compiles the program and the parts of Kaffix it imports into out/, with the repository's layout
# (out/examples/…, out/src/…), then drops the devDependencies. In your own project this is `npm run build`.
RUN npx tsc --outDir out --rootDir . --module nodenext --moduleResolution nodenext --target es2022 \
      --types node --skipLibCheck --sourceMap examples/double-number/main.ts \
 && npm prune --omit=dev --ignore-scripts --no-audit --no-fund

FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production \
    SAVE_NUMBERS_FILE=/data/saved-numbers.txt
WORKDIR /app
# Owned by root and read-only to the app's user: the running program cannot rewrite itself.
COPY --from=build /app/package.json ./package.json
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/out ./
# The one writable place (the example's saved numbers); mount a volume here to keep them.
RUN mkdir /data && chown 1000:1000 /data
# The base image's `node` user, by number so that Kubernetes' runAsNonRoot can verify it.
USER 1000:1000
# 12345: the cluster port (every node dials every other). 8080: the admin endpoint (/health, /metrics, /publish).
EXPOSE 12345 8080
# /health on the admin endpoint. Bound to 0.0.0.0 it wants the cluster token: the first of KAFFIX_TOKEN.
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "const t=(process.env.KAFFIX_TOKEN||'').split(',')[0].trim();fetch('http://127.0.0.1:8080/health',{headers:t?{authorization:'Bearer '+t}:{},signal:AbortSignal.timeout(3000)}).then(r=>process.exit(r.status===200?0:1),()=>process.exit(1))"]
ENTRYPOINT ["node", "examples/double-number/main.js"]
# Flags for every node; add --peer, --advertise and the token (KAFFIX_TOKEN or --token-file) when you run it.
CMD ["--http", "8080", "--http-host", "0.0.0.0"]
