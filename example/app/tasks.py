"""Celery side of the example stack: a cheap task per web request, a CPU-heavy task
for the benchmark's backlog, and a beat tick that records which color emitted it."""
import os
import time

import redis
from celery import Celery

BROKER_URL = os.environ.get("BROKER_URL", "redis://redis:6379/0")
COLOR = os.environ.get("DEPLOY_COLOR", "none")

app = Celery("tasks", broker=BROKER_URL)
app.conf.update(
    # One task reserved at a time: a stopped or frozen worker then holds at most one
    # task per process, instead of four.
    worker_prefetch_multiplier=1,
    # Ack after the task ran, so a worker killed mid-task gives it back to the queue
    # (after broker_transport_options.visibility_timeout) instead of losing it.
    task_acks_late=True,
    task_reject_on_worker_lost=True,
    broker_transport_options={"visibility_timeout": int(os.environ.get("VISIBILITY_TIMEOUT", "3600"))},
    broker_connection_retry_on_startup=True,
    beat_schedule={"tick": {"task": "tasks.tick", "schedule": float(os.environ.get("BEAT_EVERY", "2"))}},
)

_counters = redis.Redis.from_url(BROKER_URL)


@app.task(name="tasks.record")
def record():
    _counters.incr("calmswap:executed")


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
