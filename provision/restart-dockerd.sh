#!/usr/bin/env bash
# Restarts the Docker daemon the way a reboot does: dockerd shuts down (stopping its
# containers, a frozen one included), then starts again, and the restart policies bring back
# what ran. For the power-cut tests; on a systemd host it is `systemctl restart docker`.
set -euo pipefail
cd "$(dirname "$0")/.."
log() { printf '\033[2m[restart-dockerd]\033[0m %s\n' "$*" >&2; }

if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet docker 2>/dev/null; then
  systemctl restart docker
else
  # The daemon of the default socket only (its default pidfile): other dockerds on the box
  # (a test lab's, each with its own pidfile) are left alone.
  pid=$(cat /var/run/docker.pid 2>/dev/null || true)
  if [ -n "$pid" ]; then
    log "stopping dockerd ($pid)"
    kill -TERM $pid
    for _ in $(seq 1 120); do kill -0 $pid 2>/dev/null || break; sleep 0.5; done
    kill -0 $pid 2>/dev/null && { log "dockerd did not stop within 60 s"; exit 1; }
  fi
  provision/docker.sh
fi
for _ in $(seq 1 120); do docker info >/dev/null 2>&1 && break; sleep 0.5; done
docker info >/dev/null 2>&1 || { log "dockerd did not come back"; exit 1; }
log "dockerd is back"
