#!/usr/bin/env bash
# The orchestrator-cost baseline: the docker and docker compose calls calmswap's deploy
# makes (CALMSWAP_PAUSE_MODE=stop, CALMSWAP_BUILD=never, release given, one live color),
# in the same order, from bash. Taken from the "command" events of
# `node dist/deploy.mjs --json`; the health polls mirror lib/health.ts (backoff from
# 100 ms to the interval, 3 consecutive passes, a `docker inspect` after each pass, a
# `docker ps` every 2 s while waiting). Only the good path: it has no rollback.
. "$(dirname "$0")/common.sh"

STOP_GRACE=30
PS_FORMAT=$'{{.ID}}\t{{.Label "com.docker.compose.project"}}\t{{.Label "com.docker.compose.service"}}\t{{.State}}\t{{.Status}}\t{{.Names}}\t{{.Image}}'
inventory() { dk ps -a --no-trunc --filter label=com.docker.compose.project --format "$PS_FORMAT"; }
BACKOFF=(0.1 0.2 0.4 0.8 1)

# lib/pressure.ts calmBefore: PSI avg10 below CALMSWAP_CPU_CALM (60) or 20 s passed.
calm_before() {
  local waited=0 avg
  while :; do
    avg=$(sed -n 's/^some avg10=\([0-9]*\).*/\1/p' /proc/pressure/cpu 2>/dev/null)
    { [ -z "$avg" ] || [ "$avg" -lt 60 ] || [ "$waited" -ge 40 ]; } && return 0
    sleep 0.5
    waited=$((waited + 1))
  done
}

# scripts/health.ts: poll the new web until 3 consecutive passes (25 s deadline).
health() {
  local port=${PORT[$1]} id passes=0 fails=0 start last_ps t
  id=$(inventory | awk -F'\t' -v p="$PREFIX-$1" '$2 == p && $3 == "web" {print $1; exit}')
  start=$((${EPOCHREALTIME/./} / 1000))
  last_ps=$start
  while :; do
    t=$((${EPOCHREALTIME/./} / 1000))
    [ $((t - start)) -ge 25000 ] && return 1
    if [ $((t - last_ps)) -ge 2000 ]; then
      inventory >/dev/null
      last_ps=$t
    fi
    if healthy "$port" 2 && [ -z "$(dk inspect --format '{{if .State.Health}}{{.State.Health.Status}}{{end}}' "$id")" ]; then
      passes=$((passes + 1))
      [ "$passes" -ge 3 ] && return 0
      sleep 0.1
    else
      passes=0
      sleep "${BACKOFF[fails < 4 ? fails : 4]}"
      fails=$((fails + 1))
    fi
  done
}

# lib/traffic.ts verifyThroughProxy: 3 passes through the proxy, answered by the new color.
verify_proxy() {
  local passes=0 tries=0 headers
  while [ "$tries" -lt 20 ]; do
    tries=$((tries + 1))
    headers=$(curl -s -D - -o /dev/null -m 2 "${CALMSWAP_PROXY_URL:?}/health/")
    if [[ $headers == "HTTP/1.1 200"* && $headers == *"X-Calmswap-Color: $1"* && $headers == *"X-Calmswap-Upstream: 127.0.0.1:${PORT[$1]}"* ]]; then
      passes=$((passes + 1))
      [ "$passes" -ge 3 ] && return 0
      sleep 0.1
    else
      passes=0
      sleep 0.5
    fi
  done
  return 1
}

fail() {
  step_end "$1" failed
  exit 1
}

# preflight
dk info --format '{{.ServerVersion}}' >/dev/null || exit 1
dc blue config --format json >/dev/null || exit 1

step shared
inventory >/dev/null
step_end shared

step pause-workers
dc "$FROM" stop -t "$STOP_GRACE" worker beat || fail pause-workers
inventory >/dev/null
step_end pause-workers

step up-core
calm_before
dc "$TO" up -d --no-deps --force-recreate --no-build web || fail up-core
step_end up-core

step health
health "$TO" || fail health
step_end health

step switch
write_upstream "$TO" "$FROM"
dk exec "$PROXY_CONTAINER" nginx -t 2>/dev/null || fail switch
dk exec "$PROXY_CONTAINER" nginx -s reload || fail switch
verify_proxy "$TO" || fail switch
step_end switch

step up-rest
inventory >/dev/null
calm_before
dc "$TO" up -d --no-deps --force-recreate --no-build worker beat || fail up-rest
step_end up-rest

step verify
health "$TO" || fail verify
verify_proxy "$TO" || fail verify
step_end verify

ids=$(inventory | awk -F'\t' -v p="$PREFIX-$TO" '$2 == p {print $1}')
# shellcheck disable=SC2086
dk inspect --format '{{.Name}} {{.Image}}' $ids >/dev/null
