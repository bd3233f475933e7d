#!/usr/bin/env bash
# Builds calmswap-django:bookworm, the one image every service of example/django/ runs:
# Django 3.2, gunicorn, psycopg2, Celery 5.2 with django-celery-beat, Redis, Postgres 15
# and nginx, all Debian bookworm packages (no PyPI, no registry), by base-image.sh
# (debootstrap + docker import). Idempotent: an existing image is kept (--force rebuilds).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
log() { printf '\033[2m[django-image]\033[0m %s\n' "$*" >&2; }

image=${CALMSWAP_DJANGO_IMAGE:-calmswap-django:bookworm}
if docker image inspect "$image" >/dev/null 2>&1 && [ "${1:-}" != --force ]; then
  log "$image already present (pass --force to rebuild)"
  exit 0
fi

# The package names (postgresql-15) and the versions the example is written for are bookworm's.
DEBIAN_SUITE=bookworm \
CALMSWAP_BASE_IMAGE=$image \
CALMSWAP_BASE_PACKAGES=python3-django,gunicorn,python3-psycopg2,python3-celery,python3-django-celery-beat,python3-redis,postgresql-15,redis-server,nginx-light,curl,ca-certificates \
CALMSWAP_BASE_HOOK=$here/django-rootfs.sh \
CALMSWAP_BASE_LOG=/var/tmp/calmswap-django-debootstrap.log \
  "$here/base-image.sh" "$@"

# One container start to catch a package that imports but does not work in a bare root.
docker run --rm "$image" sh -ec '
  python3 -c "import django, celery, django_celery_beat, psycopg2, redis, gunicorn"
  test -x /usr/local/bin/postgres-entrypoint
  for b in gunicorn redis-server nginx pg_isready /usr/lib/postgresql/15/bin/postgres; do command -v "$b" >/dev/null || { echo "missing: $b" >&2; exit 1; }; done
' || { log "$image is missing something; rebuild with --force"; exit 1; }
log "$image ready"
