#!/usr/bin/env bash
# Smoke test of the Django example, on real Docker:
#  1. plain.yml as one project: orders placed through nginx are all processed by the worker,
#     beat ticks (django-celery-beat's DatabaseScheduler);
#  2. schema 2's migration, run by the migrations service while schema-1 code serves;
#  3. compose.yml: resolves for a color, a second project starts django alone (--no-deps) on
#     the shared network and reaches the first project's postgres and redis by name, and the
#     calmswap-style nginx routes to it and writes its JSON access log.
# Starts from nothing each time (leftovers of an earlier run are removed first) and removes
# everything at the end (down -v), unless --keep or SMOKE_KEEP=1. The image stays.
#
#   example/django/smoke.sh [--keep]
# Env: SMOKE_PROJECT (myproj), SMOKE_COLOR_PROJECT (djlab-blue), SMOKE_SHARED_PROJECT
# (djlab-shared), PROXY_PORT (22080), WEB_PORT (22001), CALMSWAP_PROXY_PORT (22081), ORDERS (50).
set -euo pipefail
cd "$(dirname "$0")"

project=${SMOKE_PROJECT:-myproj}
color_project=${SMOKE_COLOR_PROJECT:-djlab-blue}
shared_project=${SMOKE_SHARED_PROJECT:-djlab-shared}
proxy_port=${PROXY_PORT:-22080}
web_port=${WEB_PORT:-22001}
calm_proxy_port=${CALMSWAP_PROXY_PORT:-22081}
orders=${ORDERS:-50}
keep=${SMOKE_KEEP:-0}
[ "${1:-}" = --keep ] && keep=1
work=$(mktemp -d /tmp/djlab-smoke.XXXXXX)
export CALMSWAP_RELEASE=smoke-2  # the second project's release, and its image tag

# compose.yml's network and volumes are named after the plain project.
export APP_NETWORK=${project}_default POSTGRES_VOLUME=${project}_postgres_data REDIS_VOLUME=${project}_redis_data
plain=(docker compose -p "$project" -f plain.yml)
colored=(docker compose -p "$color_project" -f compose.yml)
shared=(docker compose -p "$shared_project" -f compose.yml)

log() { printf '\033[1m[smoke %3ds]\033[0m %s\n' "$SECONDS" "$*" >&2; }
fail() { printf '\033[31mFAILED:\033[0m %s\n' "$*" >&2; exit 1; }
json() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }
# Compose warns that the second projects reuse the plain project's network and volumes: by design.
quiet() { "$@" 2> >(grep -v 'level=warning' >&2); }
logged() { # logged <name> <command...>: output to a file, shown when the command fails
  local name=$1; shift
  "$@" >"$work/$name.log" 2>&1 || { tail -n 40 "$work/$name.log" >&2; fail "$*"; }
}
sql() { "${plain[@]}" exec -T postgres sh -c 'psql -qAt -v ON_ERROR_STOP=1 -U "$POSTGRES_USER" -d "$POSTGRES_DB"' <<<"$1"; }

down_all() {
  local v=$1
  quiet "${shared[@]}" down -t 5 >/dev/null 2>&1 || true
  # No -v for the two compose.yml projects: their named volumes are the plain project's.
  WEB_PORT=$web_port quiet "${colored[@]}" down -t 5 >/dev/null 2>&1 || true
  "${plain[@]}" down -t 10 --remove-orphans ${v:+"$v"} >/dev/null 2>&1 || true
}
finish() {
  local rc=$?
  if [ "$keep" = 1 ]; then
    log "kept running: $project (nginx 127.0.0.1:$proxy_port), $color_project (127.0.0.1:$web_port), $shared_project (127.0.0.1:$calm_proxy_port)"
  else
    log "down -v"
    down_all -v
    # The app images this run built; the base image calmswap-django:bookworm stays.
    docker image rm myproj_production_django:latest "myproj_production_django:$CALMSWAP_RELEASE" >/dev/null 2>&1 || true
  fi
  rm -rf "$work"
  if [ "$rc" = 0 ]; then log "PASSED"; else log "FAILED (exit $rc)"; fi
}

wait_for() { # wait_for <seconds> <description> <command...>: until the command succeeds
  local deadline=$(( $(date +%s) + $1 )) what=$2; shift 2
  until "$@" >/dev/null 2>&1; do
    [ "$(date +%s)" -lt "$deadline" ] || fail "$what: not within the deadline"
    sleep 0.5
  done
}
stats() { curl -sf "http://127.0.0.1:$proxy_port/stats/"; }
all_processed() { # all_processed <total>
  local s; s=$(stats) || return 1
  [ "$(json "d['orders']" <<<"$s")" = "$1" ] && [ "$(json "d['unprocessed']" <<<"$s")" = 0 ]
}

log "image"
../../provision/django-image.sh
log "leftovers of an earlier run: down -v"
down_all -v
trap finish EXIT

# 1. The plain stack -----------------------------------------------------------------------
log "plain.yml as project $project (nginx on 127.0.0.1:$proxy_port)"
PROXY_PORT=$proxy_port logged plain-up "${plain[@]}" up -d --build
wait_for 90 "health through nginx" curl -sf "http://127.0.0.1:$proxy_port/health/"
log "healthy: $(curl -s "http://127.0.0.1:$proxy_port/health/")"
ticks0=$(stats | json "d['beat_ticks']")

log "placing $orders orders through nginx"
failed=0
for _ in $(seq "$orders"); do
  headers=$(curl -s -o /dev/null -D - -w '%{http_code}' "http://127.0.0.1:$proxy_port/") || true
  [ "${headers##*$'\n'}" = 200 ] && grep -qi '^X-Deploy-Color:' <<<"$headers" || failed=$((failed + 1))
done
[ "$failed" = 0 ] || fail "$failed of $orders orders failed or had no X-Deploy-Color"
wait_for 60 "all $orders orders processed by the worker" all_processed "$orders"
log "all $orders processed: $(stats)"

sleep 5
ticks1=$(stats | json "d['beat_ticks']")
[ "$ticks1" -gt "$ticks0" ] || fail "beat did not tick ($ticks0 -> $ticks1)"
log "beat ticks: $ticks0 -> $ticks1 within the orders' time and 5 s more"

# 2. Schema 2 under schema-1 code -------------------------------------------------------------
log "APP_SCHEMA=2: migrations service (schema-1 django keeps serving)"
APP_SCHEMA=2 "${plain[@]}" run --rm --no-deps migrations 2>&1 | grep -E 'Apply|orders' >&2
columns=$(sql "select string_agg(column_name, ',' order by column_name) from information_schema.columns where table_name = 'orders_order'")
[[ ",$columns," == *,note,* ]] || fail "no column note after schema 2's migration (columns: $columns)"
log "orders_order columns: $columns"
for _ in $(seq 10); do
  body=$(curl -sf "http://127.0.0.1:$proxy_port/") || fail "schema-1 web failed against the schema-2 database"
  [ "$(json "d['schema']" <<<"$body")" = 1 ] || fail "expected schema-1 code to answer: $body"
done
wait_for 30 "the 10 schema-1 orders processed" all_processed $((orders + 10))
log "schema-1 web against the schema-2 database: 10/10 orders placed and processed"
"${plain[@]}" run --rm --no-deps migrations 2>&1 | grep -q 'No migrations to apply' \
  || fail "schema-1 migrate after schema 2 should have nothing to do"
log "schema-1 migrate after schema 2: no migrations to apply (code rollback needs no database rollback)"

# 3. compose.yml: a color beside the plain project ---------------------------------------------
log "compose.yml config for $color_project with WEB_PORT=$web_port"
WEB_PORT=$web_port quiet "${colored[@]}" config --format json >"$work/config.json"
python3 - "$work/config.json" "$web_port" "$project" <<'EOF'
import json, sys
m, port, project = json.load(open(sys.argv[1])), sys.argv[2], sys.argv[3]
web = m["services"]["django"]
assert any(str(p.get("published")) == port and p.get("host_ip") == "127.0.0.1" for p in web["ports"]), web["ports"]
assert m["networks"]["default"]["name"] == f"{project}_default", m["networks"]
assert m["volumes"]["postgres_data"]["name"] == f"{project}_postgres_data", m["volumes"]
for s in ("django", "celeryworker", "celerybeat", "migrations"):
    env = m["services"][s]["environment"]
    assert "DEPLOY_COLOR" in env and "CALMSWAP_RELEASE" in env, (s, env)
    assert not m["services"][s].get("depends_on"), s
assert m["services"]["proxy"]["network_mode"] == "host"
EOF
log "resolves: web on 127.0.0.1:$web_port, network ${project}_default, volume ${project}_postgres_data"

log "$color_project: django alone (--no-deps, APP_SCHEMA=2) on the plain project's network"
export DEPLOY_COLOR=blue APP_SCHEMA=2
WEB_PORT=$web_port logged colored-up "${colored[@]}" up -d --build --no-deps django
wait_for 60 "$color_project's django healthy (SELECT 1 on $project's postgres)" curl -sf "http://127.0.0.1:$web_port/health/"
for name in postgres redis; do
  WEB_PORT=$web_port "${colored[@]}" exec -T django python3 -c "import socket; print('$name', socket.gethostbyname('$name'))" >&2 2> >(grep -v level=warning >&2)
done
body=$(curl -sf "http://127.0.0.1:$web_port/")
order=$(json "d['order']" <<<"$body")
[ "$(json "d['color'], d['schema']" <<<"$body")" = "blue 2" ] || fail "unexpected answer: $body"
wait_for 30 "order $order of $color_project processed by $project's worker (through redis)" all_processed $((orders + 11))
note=$(sql "select note from orders_order where id = $order")
[ "$note" = "placed on blue" ] || fail "schema-2 code should have written the note (got '$note')"
log "$color_project's django: order $order placed with note '$note', processed by $project's worker"

log "$shared_project: calmswap-style nginx on 127.0.0.1:$calm_proxy_port, upstream -> 127.0.0.1:$web_port"
mkdir -p "$work/nginx" "$work/proxy-log"
# $calmswap_log 1: logging on, as calmswap has it while it watches a release.
printf 'upstream calmswap_web {\n  server 127.0.0.1:%s;\n  keepalive 8;\n}\nmap $host $calmswap_color { default "blue"; }\nmap $host $calmswap_log { default "1"; }\n' "$web_port" >"$work/nginx/upstream.conf"
PROXY_PORT=$calm_proxy_port CALMSWAP_UPSTREAM_DIR=$work/nginx CALMSWAP_PROXY_LOG_DIR=$work/proxy-log \
  logged shared-up "${shared[@]}" up -d --no-deps proxy
wait_for 30 "calmswap-style nginx" curl -sf "http://127.0.0.1:$calm_proxy_port/health/"
headers=$(curl -s -o /dev/null -D - "http://127.0.0.1:$calm_proxy_port/")
grep -qi '^X-Calmswap-Color: blue' <<<"$headers" && grep -qi "^X-Calmswap-Upstream: 127.0.0.1:$web_port" <<<"$headers" \
  || fail "nginx headers: $headers"
for _ in $(seq 8); do curl -sf -o /dev/null "http://127.0.0.1:$calm_proxy_port/stats/"; done
python3 - "$work/proxy-log/access.jsonl" "$web_port" <<'EOF'
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1])]
assert len(lines) >= 10, len(lines)  # /health/ while waiting, GET /, 8 x /stats/
for l in lines:
    assert set(l) == {"msec", "status", "upstream_addr", "request_time", "request_uri"}, l
    assert l["status"] == 200 and l["upstream_addr"] == f"127.0.0.1:{sys.argv[2]}", l
print("access.jsonl:", json.dumps(lines[-1]), file=sys.stderr)
EOF
log "nginx: X-Calmswap-Color/Upstream set, one JSON log line per request"

final=$(stats)
log "orders $(json "d['orders']" <<<"$final"), unprocessed $(json "d['unprocessed']" <<<"$final"), per release $(json "d['per_release']" <<<"$final"), beat ticks $(json "d['beat_ticks']" <<<"$final")"
