#!/usr/bin/env bash
# The orchestrator-cost baseline: the docker compose calls calmswap's deploy makes
# (CALMSWAP_PAUSE_MODE=stop, CALMSWAP_BUILD=never, release given, one live color), in the
# same order, from bash, with the docker CLI for everything else, as a bash script would.
# (calmswap sends its reads, signals, starts and execs through the Engine API socket; the
# compose calls are the same.) The bench prints both call lists side by side (results.json
# "equivalence") so a drift shows. Health polls mirror lib/health.ts: backoff from 100 ms
# to 1 s, 3 consecutive passes 50 ms apart, one `docker inspect` for a healthcheck at the first pass,
# a `docker ps` every 2 s while waiting. Only the good path: it has no rollback.
. "$(dirname "$0")/common.sh"

STOP_GRACE=30
PS_FORMAT=$'{{.ID}}\t{{.Label "com.docker.compose.project"}}\t{{.Label "com.docker.compose.service"}}\t{{.State}}\t{{.Status}}\t{{.Names}}\t{{.Image}}'
# calmswap caches its last `docker ps` until something changes the host; so does INV here.
INV=
inventory() { INV=$(dk ps -a --no-trunc --filter label=com.docker.compose.project --format "$PS_FORMAT"); }
of_project() { awk -F'\t' -v p="$PREFIX-$1" -v s="${2:-}" '$2 == p && (s == "" || $3 == s) {print $1}' <<<"$INV"; }
# Names of a service's containers in one state (running unless told).
names_of() { awk -F'\t' -v p="$PREFIX-$1" -v s="$2" -v st="${3:-running}" '$2 == p && $3 == s && $4 == st {print $6}' <<<"$INV"; }
BACKOFF=(0.1 0.2 0.4 0.8 1)

# lib/pressure.ts calmBefore: PSI "some" stall over 100 ms below CALMSWAP_CPU_CALM (60 %),
# or 20 s passed.
psi_total() {
  local line
  read -r line </proc/pressure/cpu || return 1
  echo "${line##*total=}"
}
calm_before() {
  local tries=0 a b
  [ -r /proc/pressure/cpu ] || return 0
  while [ "$tries" -lt 200 ]; do
    a=$(psi_total)
    sleep 0.1
    b=$(psi_total)
    # stall µs over 100 000 µs, as a percentage: below 60 % means calm
    [ $(((b - a) / 1000)) -lt 60 ] && return 0
    tries=$((tries + 1))
  done
}

# scripts/health.ts: poll the new web until 3 consecutive passes (25 s deadline).
health() {
  local port=${PORT[$1]} id passes=0 fails=0 start last_ps t asked=
  inventory
  id=$(of_project "$1" web)
  start=$((${EPOCHREALTIME/./} / 1000))
  last_ps=$start
  while :; do
    t=$((${EPOCHREALTIME/./} / 1000))
    [ $((t - start)) -ge 25000 ] && return 1
    if [ $((t - last_ps)) -ge 2000 ]; then
      inventory
      last_ps=$t
    fi
    if healthy "$port" 2; then
      # The first pass asks docker whether the container has a healthcheck (it has none).
      [ -z "$asked" ] && asked=$(dk inspect --format '{{if .State.Health}}{{.State.Health.Status}}{{end}}' "$id")x
      passes=$((passes + 1))
      [ "$passes" -ge 3 ] && return 0
      sleep 0.05
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
      sleep 0.05
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

# lib/pressure.ts settleAfter: the container's cgroup CPU counter over 250 ms, until
# under 20 % of a CPU (it finished booting), or 20 s passed.
settle() {
  local id=$1 pid f a b tries=0
  pid=$(dk inspect --format '{{.State.Pid}}' "$id") || return 0
  f=/sys/fs/cgroup/cpuacct$(awk -F: '$2 ~ /cpuacct/ {print $3}' "/proc/$pid/cgroup")/cpuacct.usage
  [ -r "$f" ] || return 0
  while [ "$tries" -lt 80 ]; do
    read -r a <"$f"
    sleep 0.25
    read -r b <"$f"
    # ns over 250 ms as % of one CPU: (b - a) / 250e6 * 100
    [ $(((b - a) / 2500000)) -lt 20 ] && return 0
    tries=$((tries + 1))
  done
}

# preflight
dk info --format '{{.ServerVersion}}' >/dev/null &
dc blue config --format json >/dev/null || exit 1
wait $! || exit 1

step build
step_end build

step shared
inventory
step_end shared

step pause-workers
# shellcheck disable=SC2046
dk pause $(names_of "$FROM" worker) >/dev/null || fail pause-workers
# shellcheck disable=SC2046
dk kill --signal SIGTERM $(names_of "$FROM" beat) >/dev/null || fail pause-workers
step_end pause-workers

step up-core
calm_before
dc "$TO" up -d --no-deps --force-recreate --no-build web || fail up-core
step_end up-core

step health
# The workers are created once the web has finished booting (scripts/up-rest.ts prepareRest).
inventory
(settle "$(of_project "$TO" web)" && dc "$TO" up --no-start --no-deps --force-recreate --no-build beat worker) &
create=$!
health "$TO" || fail health
step_end health

step switch
write_upstream "$TO" "$FROM"
dk exec "$PROXY_CONTAINER" sh -c 'nginx -t || exit 65; exec nginx -s reload' 2>/dev/null || fail switch
verify_proxy "$TO" || fail switch
step_end switch

step up-rest
wait "$create" || fail up-rest
inventory
frozen=$(names_of "$FROM" worker paused)
# shellcheck disable=SC2086
dk unpause $frozen >/dev/null || fail up-rest
# shellcheck disable=SC2086
dk kill --signal SIGTERM $frozen >/dev/null || fail up-rest
inventory
old=$(of_project "$FROM" worker; of_project "$FROM" beat)
# shellcheck disable=SC2086
timeout "$((STOP_GRACE + 1))" docker wait $old >/dev/null
echo "@command docker wait $old" >&3
calm_before
dk start "$PREFIX-$TO-beat-1" >/dev/null || fail up-rest
inventory
settle "$(of_project "$TO" beat)"
calm_before
dk start "$PREFIX-$TO-worker-1" >/dev/null || fail up-rest
step_end up-rest

step verify
verify_proxy "$TO" || fail verify
step_end verify

inventory
ids=$(of_project "$TO")
# shellcheck disable=SC2086
dk inspect --format '{{.Name}} {{.Image}}' $ids >/dev/null
