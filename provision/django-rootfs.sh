#!/usr/bin/env bash
# base-image.sh runs this on the debootstrapped root of calmswap-django (see django-image.sh)
# before the import: adds the Postgres entrypoint, and drops what a container never uses.
set -euo pipefail
root=$1
install -m 0755 "$(dirname "$0")/postgres-entrypoint.sh" "$root/usr/local/bin/postgres-entrypoint"
# Message translations of every package (~55 MB); Django's own live in its package folder.
rm -rf "$root"/usr/share/locale/*
# Docker copies an image folder into a fresh named volume mounted on it, owner included:
# the volume then starts as postgres's, mode 700, as initdb wants it.
chroot "$root" install -d -o postgres -g postgres -m 0700 /var/lib/postgresql/data
