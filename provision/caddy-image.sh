#!/usr/bin/env bash
# Builds calmswap-caddy:bookworm, the image of the example Caddy proxy (example/caddy/):
# Debian bookworm's caddy package (2.6.2) and curl, by base-image.sh (debootstrap + docker
# import, no registry). Idempotent: an existing image is kept (--force rebuilds).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
log() { printf '\033[2m[caddy-image]\033[0m %s\n' "$*" >&2; }

image=${CALMSWAP_CADDY_IMAGE:-calmswap-caddy:bookworm}
if docker image inspect "$image" >/dev/null 2>&1 && [ "${1:-}" != --force ]; then
  log "$image already present (pass --force to rebuild)"
  exit 0
fi

# The Caddyfile and JSON the example writes are checked against bookworm's Caddy 2.6.2.
DEBIAN_SUITE=bookworm \
CALMSWAP_BASE_IMAGE=$image \
CALMSWAP_BASE_PACKAGES=caddy,curl,ca-certificates \
CALMSWAP_BASE_LOG=/var/tmp/calmswap-caddy-debootstrap.log \
  "$here/base-image.sh" "$@"

# One container start to catch a package that installs but does not run in a bare root.
docker run --rm "$image" caddy version >/dev/null || { log "$image: caddy does not run; rebuild with --force"; exit 1; }
log "$image ready"
