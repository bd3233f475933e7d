#!/usr/bin/env bash
# Builds the example stack's one base image with no container registry:
# debootstrap a minimal Debian with the packages the stack runs, then `docker import`.
# Redis, nginx, the web app, the Celery worker and beat all run from this image.
# Other images reuse it (provision/django-image.sh): CALMSWAP_BASE_PACKAGES replaces the
# package list, CALMSWAP_BASE_HOOK names a program run with the root folder as $1 after
# debootstrap and before the import (to add files or drop what a package set up), and
# CALMSWAP_BASE_LOG is where debootstrap's output goes. Unset, they change nothing.
set -euo pipefail

image=${CALMSWAP_BASE_IMAGE:-calmswap-base:bookworm}
suite=${DEBIAN_SUITE:-bookworm}
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
packages=${CALMSWAP_BASE_PACKAGES:-python3-celery,python3-redis,redis-server,nginx-light,curl,ca-certificates}
hook=${CALMSWAP_BASE_HOOK:-}
build_log=${CALMSWAP_BASE_LOG:-/var/tmp/calmswap-debootstrap.log}

log() { printf '\033[2m[base-image]\033[0m %s\n' "$*" >&2; }

if docker image inspect "$image" >/dev/null 2>&1 && [ "${1:-}" != --force ]; then
  log "$image already present (pass --force to rebuild)"
  exit 0
fi
[ "$(id -u)" = 0 ] || { log "debootstrap needs root (run: sudo $0)"; exit 2; }
if ! command -v debootstrap >/dev/null 2>&1; then
  apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends debootstrap >&2
fi

root=$(mktemp -d /var/tmp/calmswap-rootfs.XXXXXX)
trap 'rm -rf "$root"' EXIT
log "debootstrap $suite with $packages"
debootstrap --variant=minbase --include="$packages" "$suite" "$root" "$mirror" >"$build_log" 2>&1 \
  || { tail -n 30 "$build_log" >&2; exit 1; }
if [ -n "$hook" ]; then
  log "hook: $hook $root"
  "$hook" "$root"
fi
# Trim what a container never uses; keeps the import small and quick on a Pi's SD card.
rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/* "$root"/usr/share/doc "$root"/usr/share/man
log "docker import -> $image"
tar -C "$root" -c . | docker import \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'ENV PYTHONUNBUFFERED=1' \
  --change 'CMD ["/bin/bash"]' - "$image" >/dev/null
log "built $image ($(docker image inspect -f '{{.Size}}' "$image" | awk '{printf "%.0f MB", $1/1e6}'))"
