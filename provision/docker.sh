#!/usr/bin/env bash
# Makes a Debian 12 host able to run the example stack with no container registry:
# Docker Engine from Debian, the Compose v2 plugin lifted out of trixie's .deb
# (bookworm only ships Compose v1), and a running dockerd.
# Idempotent: every step checks before it acts, so `make deploy` can call it each time.
set -euo pipefail

log() { printf '\033[2m[provision]\033[0m %s\n' "$*" >&2; }
need_root() { [ "$(id -u)" = 0 ] || { log "needs root to install $1 (run: sudo $0)"; exit 2; }; }

apt_updated=
apt_install() {
  need_root "$*"
  if [ -z "$apt_updated" ]; then apt-get update -qq >&2; apt_updated=1; fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >&2
}

if ! command -v dockerd >/dev/null 2>&1; then
  log "installing Debian's docker.io"
  apt_install docker.io
fi

if ! docker compose version >/dev/null 2>&1; then
  log "installing the Compose v2 plugin from Debian trixie's docker-compose package"
  need_root "the compose plugin"
  # A private sources file and list folder: the system's apt sources stay bookworm-only.
  work=$(mktemp -d)
  mkdir -p "$work/lists/partial" "$work/archives/partial"
  echo "deb http://deb.debian.org/debian trixie main" >"$work/sources.list"
  opts=(-o "Dir::Etc::SourceList=$work/sources.list" -o "Dir::Etc::SourceParts=/dev/null"
        -o "Dir::State::Lists=$work/lists" -o "Dir::Cache::Archives=$work/archives"
        -o "APT::Get::List-Cleanup=0")
  apt-get "${opts[@]}" update -qq >&2
  (cd "$work" && apt-get "${opts[@]}" download docker-compose >&2)
  dpkg-deb -x "$work"/docker-compose_*.deb "$work/root"
  bin=$(find "$work/root" -type f -name docker-compose -perm -u+x | head -n1)
  [ -n "$bin" ] || { log "no docker-compose binary inside the .deb"; exit 1; }
  install -D -m 0755 "$bin" /usr/local/lib/docker/cli-plugins/docker-compose
  rm -rf "$work"
fi

if ! docker info >/dev/null 2>&1; then
  need_root "and start dockerd"
  log "starting dockerd in the background (log: /var/log/dockerd.log)"
  # Only stdin, stdout and stderr go along: a dockerd started under someone's flock (a bench,
  # a test that restarts it) would otherwise hold that lock for as long as it runs.
  (
    for fd in /proc/$BASHPID/fd/*; do
      n=${fd##*/}
      [ "$n" -gt 2 ] && eval "exec $n>&-" 2>/dev/null
    done
    exec setsid dockerd --storage-driver=overlay2 >/var/log/dockerd.log 2>&1 </dev/null
  ) &
  for _ in $(seq 1 60); do docker info >/dev/null 2>&1 && break; sleep 0.5; done
  docker info >/dev/null 2>&1 || { log "dockerd did not come up; see /var/log/dockerd.log"; exit 1; }
fi

log "docker $(docker version --format '{{.Server.Version}}'), compose $(docker compose version --short)"
