#!/usr/bin/env bash
# Strategy 1, naive blue-green: the whole new color (web, worker, beat) starts beside the
# old one; once its web answers, switch; then stop the old color. Two workers and two
# beats run at once while both colors are up. A web that never gets healthy: the new
# color is stopped and the old one, never touched, keeps serving.
. "$(dirname "$0")/common.sh"

step up-all
dc "$TO" up -d --no-deps --force-recreate --no-build web worker beat || { step_end up-all failed; exit 1; }
step_end up-all

# The new color goes; the old one was never touched.
rollback() { dc "$TO" stop web worker beat; }
health_then_switch rollback

step stop-old
dc "$FROM" stop
step_end stop-old
