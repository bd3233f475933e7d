#!/usr/bin/env bash
# Builds the example stack's one base image with no container registry:
# debootstrap a minimal Debian with the packages the stack runs, then `docker import`.
# Redis, nginx, the web app, the Celery worker and beat all run from this image.
set -euo pipefail

image=${CALMSWAP_BASE_IMAGE:-calmswap-base:bookworm}
suite=${DEBIAN_SUITE:-bookworm}
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
packages=python3-celery,python3-redis,redis-server,nginx-light,curl,ca-certificates

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
debootstrap --variant=minbase --include="$packages" "$suite" "$root" "$mirror" >/var/tmp/calmswap-debootstrap.log 2>&1 \
  || { tail -n 30 /var/tmp/calmswap-debootstrap.log >&2; exit 1; }
# Trim what a container never uses; keeps the import small and quick on a Pi's SD card.
rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/* "$root"/usr/share/doc "$root"/usr/share/man
log "docker import -> $image"
tar -C "$root" -c . | docker import \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'ENV PYTHONUNBUFFERED=1' \
  --change 'CMD ["/bin/bash"]' - "$image" >/dev/null
log "built $image ($(docker image inspect -f '{{.Size}}' "$image" | awk '{printf "%.0f MB", $1/1e6}'))"
