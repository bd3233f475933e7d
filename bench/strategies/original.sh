#!/usr/bin/env bash
# Strategy 2, the original article's order: stop the old worker and beat, `up -d` the new
# web, sleep 15, check its health up to 10 times 1 s apart (2 s timeout), switch, start
# the new worker and beat. The old web is left for a manual cleanup. On a failed health
# check: stop the new web and start the old worker and beat again.
. "$(dirname "$0")/common.sh"

step stop-workers
dc "$FROM" stop worker beat
step_end stop-workers

step up-web
dc "$TO" up -d web || { step_end up-web failed; exit 1; }
step_end up-web

step sleep-15
sleep 15
step_end sleep-15

rollback() {
  dc "$TO" stop web
  dc "$FROM" start worker beat
}
health_then_switch rollback

step up-workers
dc "$TO" up -d worker beat
step_end up-workers
