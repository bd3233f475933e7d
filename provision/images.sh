#!/usr/bin/env bash
# Picks the example stack's images. With a registry: the official images, untouched.
# Without one (CI, air-gapped boxes): builds calmswap-base from Debian packages and points
# the stack at it through .env, which Compose reads for interpolation.
set -euo pipefail
cd "$(dirname "$0")/.."
log() { printf '\033[2m[images]\033[0m %s\n' "$*" >&2; }

base=${CALMSWAP_BASE_IMAGE:-calmswap-base:bookworm}
if [ -f .env ] && grep -q '^PYTHON_IMAGE=' .env; then
  img=$(sed -n 's/^PYTHON_IMAGE=//p' .env)
  if [ "$img" != "$base" ] || docker image inspect "$base" >/dev/null 2>&1; then
    log "using images from .env (delete .env to choose again)"; exit 0
  fi
fi
if [ "${CALMSWAP_OFFLINE:-}" != 1 ] && timeout 120 docker pull -q python:3.12-slim >/dev/null 2>&1 \
   && timeout 120 docker pull -q redis:7-alpine >/dev/null 2>&1 && timeout 120 docker pull -q nginx:1.27-alpine >/dev/null 2>&1; then
  log "registry reachable: using the official python, redis and nginx images"
  exit 0
fi
log "no registry: building $base from Debian packages"
"$(dirname "$0")/base-image.sh"
touch .env
sed -i '/^\(PYTHON\|REDIS\|NGINX\)_IMAGE=/d' .env
printf 'PYTHON_IMAGE=%s\nREDIS_IMAGE=%s\nNGINX_IMAGE=%s\n' "$base" "$base" "$base" >> .env
log "wrote PYTHON_IMAGE, REDIS_IMAGE, NGINX_IMAGE=$base to .env"
