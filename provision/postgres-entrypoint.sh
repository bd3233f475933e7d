#!/bin/sh
# Postgres of the Django example (calmswap-django image), started as the official image's
# entrypoint starts it: initdb on an empty data folder with POSTGRES_USER, POSTGRES_PASSWORD
# and POSTGRES_DB, password logins from the network, the server run as the postgres user.
# Arguments are passed to postgres (`-c name=value`).
set -eu
PATH=/usr/lib/postgresql/15/bin:$PATH
PGDATA=${PGDATA:-/var/lib/postgresql/data}
export PGDATA
: "${POSTGRES_USER:=postgres}"
: "${POSTGRES_DB:=$POSTGRES_USER}"

if [ "$(id -u)" = 0 ]; then
  # A volume mounted from elsewhere may belong to root: hand it to postgres, then run
  # this script again as postgres, so nothing below (nor the server) runs as root.
  mkdir -p "$PGDATA" /run/postgresql
  find "$PGDATA" /run/postgresql \! -user postgres -exec chown postgres:postgres '{}' +
  chmod 700 "$PGDATA"
  exec setpriv --reuid=postgres --regid=postgres --init-groups "$0" "$@"
fi

if [ ! -s "$PGDATA/PG_VERSION" ]; then
  if [ -z "${POSTGRES_PASSWORD:-}" ]; then
    echo "postgres-entrypoint: POSTGRES_PASSWORD is empty; refusing to create a database that listens on the network without one" >&2
    exit 1
  fi
  echo "postgres-entrypoint: empty $PGDATA, initdb for user $POSTGRES_USER, database $POSTGRES_DB" >&2
  pwfile=$(mktemp)
  printf '%s\n' "$POSTGRES_PASSWORD" >"$pwfile"
  # C.UTF-8 is built into glibc: the image needs no locales package for it.
  initdb --username="$POSTGRES_USER" --pwfile="$pwfile" --auth-local=trust --auth-host=scram-sha-256 \
    --encoding=UTF8 --locale=C.UTF-8 >/dev/null
  rm -f "$pwfile"
  echo "host all all all scram-sha-256" >>"$PGDATA/pg_hba.conf"
  if [ "$POSTGRES_DB" != postgres ]; then
    # Single-user mode: no server, so nobody can connect before the database exists.
    db=$(printf '%s' "$POSTGRES_DB" | sed 's/"/""/g')
    echo "CREATE DATABASE \"$db\"" | postgres --single -D "$PGDATA" postgres >/dev/null
  fi
fi

# Every address of the container; what reaches it is decided by compose (its network, its ports).
exec postgres -D "$PGDATA" -c listen_addresses='*' "$@"
