# Shared by the bash strategies: the same compose projects, env and upstream file that
# calmswap uses (lib/compose.ts composeEnv, lib/traffic.ts renderUpstream), so the only
# difference between strategies is the order of the steps.
# In: CALMSWAP_PREFIX CALMSWAP_STATE_DIR CALMSWAP_BLUE_PORT CALMSWAP_GREEN_PORT BENCH_FROM BENCH_TO
# (+ the compose variables: CALMSWAP_RELEASE APP_CPUSET BOOT_DELAY APP_FAULT ...).
# Out on stdout, for the bench's timeline: "@step-start NAME", "@step-end NAME [failed]",
# "@command ARGV" before every docker call.
set -uo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
COMPOSE_FILE=${CALMSWAP_COMPOSE_FILE:-$ROOT/compose.yml}
PREFIX=${CALMSWAP_PREFIX:?}
FROM=${BENCH_FROM:?}
TO=${BENCH_TO:?}
declare -A PORT=([blue]=${CALMSWAP_BLUE_PORT:?} [green]=${CALMSWAP_GREEN_PORT:?})
UPSTREAM_DIR=${CALMSWAP_STATE_DIR:?}/nginx
PROXY_CONTAINER=$PREFIX-shared-proxy-1
export CALMSWAP_PREFIX CALMSWAP_UPSTREAM_DIR=$UPSTREAM_DIR

# Markers go to fd 3 (stdout), so a call inside $(...) still reports itself.
exec 3>&1
step() { echo "@step-start $1"; }
step_end() { echo "@step-end $1 ${2:-}"; }

# docker compose on one color's project, with the env calmswap exports to each call.
dc() {
  local color=$1
  shift
  echo "@command docker compose -p $PREFIX-$color -f $COMPOSE_FILE $*" >&3
  DEPLOY_COLOR=$color WEB_PORT=${PORT[$color]} docker compose -p "$PREFIX-$color" -f "$COMPOSE_FILE" "$@"
}
dk() {
  echo "@command docker $*" >&3
  docker "$@"
}

# One try of the web's health check: 2xx within the timeout (seconds).
healthy() { curl -fsS -o /dev/null -m "${2:-2}" "http://127.0.0.1:$1/health/" 2>/dev/null; }

# The article's check: up to 10 tries, 1 s apart, 2 s timeout each.
health_10x() {
  local i
  for i in 1 2 3 4 5 6 7 8 9 10; do
    healthy "$1" 2 && return 0
    [ "$i" -lt 10 ] && sleep 1
  done
  return 1
}

# Same content as calmswap's renderUpstream; replaced by rename, as calmswap does.
write_upstream() {
  local color=$1 backup=${2:-} tmp="$UPSTREAM_DIR/upstream.conf.tmp-$$"
  mkdir -p "$UPSTREAM_DIR"
  {
    echo "# Written by bench/strategies. Live color: $color."
    echo "upstream calmswap_web {"
    echo "  server 127.0.0.1:${PORT[$color]};"
    if [ -n "$backup" ]; then echo "  server 127.0.0.1:${PORT[$backup]} backup;"; fi
    echo "  keepalive 8;"
    echo "}"
    # example/nginx/nginx.conf proxies to $calmswap_live (set from calmswap's flag files when they
    # exist): without flags, this map names the group.
    echo "map \$host \$calmswap_live { default \"calmswap_web\"; }"
    echo "map \$host \$calmswap_color { default \"$color\"; }"
    # The proxy's access log is off, as calmswap leaves it between deploys (example/nginx/nginx.conf needs the variable).
    echo "map \$host \$calmswap_log { default \"0\"; }"
  } >"$tmp"
  mv "$tmp" "$UPSTREAM_DIR/upstream.conf"
}

switch_to() {
  write_upstream "$@"
  dk exec "$PROXY_CONTAINER" nginx -s reload
}

# The article's health check, then the switch, as two steps. A failed check runs the
# strategy's own rollback function as a "rollback" step, and the script exits 1.
health_then_switch() {
  local rollback=$1
  step health
  if ! health_10x "${PORT[$TO]}"; then
    step_end health failed
    step rollback
    "$rollback"
    step_end rollback
    exit 1
  fi
  step_end health

  step switch
  switch_to "$TO" || { step_end switch failed; exit 1; }
  step_end switch
}
