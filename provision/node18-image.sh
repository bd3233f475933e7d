#!/usr/bin/env bash
# Builds calmswap-node18:bookworm: Debian 12 with Debian's own nodejs package (18.19) and no
# other Node, by base-image.sh (debootstrap + docker import, no registry). The package test
# (test/e2e/package.test.ts) runs the installed calmswap in it, as on a stock Pi.
# Idempotent: an existing image is kept (--force rebuilds).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
log() { printf '\033[2m[node18-image]\033[0m %s\n' "$*" >&2; }

image=${CALMSWAP_NODE18_IMAGE:-calmswap-node18:bookworm}
if docker image inspect "$image" >/dev/null 2>&1 && [ "${1:-}" != --force ]; then
  log "$image already present (pass --force to rebuild)"
  exit 0
fi
DEBIAN_SUITE=bookworm \
CALMSWAP_BASE_IMAGE=$image \
CALMSWAP_BASE_PACKAGES=nodejs,ca-certificates \
CALMSWAP_BASE_LOG=/var/tmp/calmswap-node18-debootstrap.log \
  "$here/base-image.sh" "$@"
docker run --rm "$image" node -e 'if (!process.versions.node.startsWith("18.")) { console.error(`expected Debian 12 nodejs 18, got ${process.versions.node}`); process.exit(1) }' \
  || { log "$image does not hold Debian 12's nodejs 18; rebuild with --force"; exit 1; }
log "$image ready ($(docker run --rm "$image" node --version))"
