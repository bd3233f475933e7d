#!/usr/bin/env bash
# The manual cleanup after a bash strategy's good deploy: remove the old color.
. "$(dirname "$0")/common.sh"
step cleanup
dc "$FROM" down -t 10 --remove-orphans
step_end cleanup
