# One image for every Praxa app (issue 18, docs/deploy.md):
#   docker run praxa start ingest|worker|monitor|api     one app in the foreground
#   docker run praxa migrate                             the one-shot migration task before a rollout
#
# Build it with `node scripts/image/build.mjs`: that builds the workspace and runs `pnpm deploy --prod` for each app
# into .image/app (production dependencies only: no testkit, no jest/TypeScript/swc), and this file only copies that
# in — the build reaches no registry. BASE defaults to the official Node 20 image; the build script passes a local
# Debian base with the machine's node where no registry is reachable.
ARG BASE=node:20-bookworm-slim

# ---- stage 1: the deployed apps, pruned of what a running app never reads ----
FROM ${BASE} AS prune
LABEL praxa.stage=prune
COPY .image/app /app
RUN set -eu; \
    rm -rf /app/apps/*/src /app/apps/*/tsconfig.json /app/apps/*/dist/.tsbuildinfo; \
    find -L /app/apps -type d -name node_modules -prune -o -type f \( -name '*.map' -o -name '*.d.ts' \) -print | xargs -r rm -f; \
    find /app/apps/*/node_modules/.pnpm -path '*/@praxa/*/dist/*' -type f \( -name '*.map' -o -name '*.d.ts' -o -name '.tsbuildinfo' \) -delete; \
    find /app -type f \( -name '*.test.js' -o -name '*.test.ts' -o -name 'test-harness.js' \) -path '*@praxa*' -delete; \
    find /app/apps -maxdepth 3 -type f -name '*.test.js' -delete; \
    rm -rf /app/apps/cli/dist/commands/demo.js /app/apps/cli/dist/commands/demo-fleet.js /app/apps/cli/dist/commands/demo-webhook.js; \
    chmod -R a+rX,go-w /app

# ---- stage 2: the runtime ----
FROM ${BASE}
ENV NODE_ENV=production \
    HOME=/tmp
WORKDIR /app
COPY --from=prune /app /app
# Non-root, owning nothing it runs: the root filesystem can be mounted read-only (give it --tmpfs /tmp).
USER 10001:10001
EXPOSE 3001 3002
# Node handles SIGTERM itself: `praxa start` forwards it to the app, which drains and exits 0.
STOPSIGNAL SIGTERM
ENTRYPOINT ["node", "apps/cli/dist/main.js"]
CMD ["--help"]
