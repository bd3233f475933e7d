"""Celery side of the example stack: a cheap task per web request, a CPU-heavy task
for the benchmark's backlog, and a beat tick that records which color emitted it."""
import os
import signal
import sys
import time

import redis
from celery import Celery

BROKER_URL = os.environ.get("BROKER_URL", "redis://redis:6379/0")
COLOR = os.environ.get("DEPLOY_COLOR", "none")

# APP_FAULT=worker-exit: a release whose Celery worker dies as it starts (a broken import,
# a bad setting); under a restart policy it loops. Only the worker: the web imports this too.
if os.environ.get("APP_FAULT") == "worker-exit" and "worker" in sys.argv:
    sys.exit("APP_FAULT=worker-exit: the worker exits as it starts")

app = Celery("tasks", broker=BROKER_URL)
app.conf.update(
    # Celery's default of 4 reserved tasks per process, on purpose: with 1, the Celery 5.2 /
    # kombu 5.2 of Debian bookworm fetch the next task only when a timer wakes the worker
    # (one task every 2-5 s; celery#4378, #7718). Reserved tasks are not lost at a stop:
    # the warm shutdown hands them back, and with late acks a killed worker's come back
    # after the visibility timeout.
    worker_prefetch_multiplier=4,
    # Ack after the task ran, so a worker killed mid-task gives it back to the queue
    # (after broker_transport_options.visibility_timeout) instead of losing it.
    task_acks_late=True,
    task_reject_on_worker_lost=True,
    broker_transport_options={"visibility_timeout": int(os.environ.get("VISIBILITY_TIMEOUT", "3600"))},
    broker_connection_retry_on_startup=True,
    beat_schedule={"tick": {"task": "tasks.tick", "schedule": float(os.environ.get("BEAT_EVERY", "2"))}},
)

_counters = redis.Redis.from_url(BROKER_URL)


FAULT = os.environ.get("APP_FAULT", "")


def crash_if_asked():
    """APP_FAULT=worker-crash: the release whose worker starts fine and dies on its first real
    task (under a restart policy it comes back and dies on the next one). In the prefork pool
    the task runs in a child, which Celery would just replace: the worker itself goes."""
    if FAULT != "worker-crash":
        return
    print("APP_FAULT=worker-crash: the worker exits on its first task", file=sys.stderr, flush=True)
    os.kill(os.getppid(), signal.SIGKILL)
    os._exit(70)


@app.task(name="tasks.record")
def record(by=None):
    crash_if_asked()
    _counters.incr("calmswap:executed")
    # Which web enqueued it and which color's worker ran it: "ran:green:blue" is a task of
    # the canary's web run by the old workers. `by` is optional, so a worker of this release
    # runs the tasks of an older web, and the other way round.
    if by:
        _counters.incr(f"calmswap:ran:{by}:{COLOR}")


@app.task(name="tasks.burn")
def burn(ms=200):
    # Pure-Python busy loop: stands in for an image resize or a report on a Pi.
    end = time.process_time() + ms / 1000.0
    n = 0
    while time.process_time() < end:
        n += 1
    _counters.incr("calmswap:executed")
    return n


@app.task(name="tasks.tick")
def tick(color=COLOR):
    _counters.incr("calmswap:ticks")
