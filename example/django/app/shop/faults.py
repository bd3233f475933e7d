"""Releases that misbehave on purpose, for calmswap's end-to-end tests. APP_FAULT:

  health500        /health/ answers 500
  refuse           the web exits at once, before it listens
  fail:N           N% of the other requests answer 500 while /health/ passes
  worker-crash     the Celery worker exits on its first task (crash-loops under a restart policy)
  migrate-fail     `manage.py migrate` exits 1 before it migrates
  slow-migrate:S   `manage.py migrate` sleeps S seconds first
"""
import os
import random
import signal
import sys
import time

from django.http import JsonResponse

FAULT = os.environ.get("APP_FAULT", "")


def _arg(prefix):
    return float(FAULT[len(prefix):]) if FAULT.startswith(prefix) else None


def refuse_if_asked():
    if FAULT == "refuse":
        sys.exit("APP_FAULT=refuse: exiting before listening")


class FaultMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response
        self.fail_percent = _arg("fail:")

    def __call__(self, request):
        is_health = request.path.startswith("/health")
        if FAULT == "health500" and is_health:
            return JsonResponse({"ok": False, "fault": FAULT}, status=500)
        if self.fail_percent is not None and not is_health and random.random() * 100 < self.fail_percent:
            return JsonResponse({"ok": False, "fault": FAULT}, status=500)
        return self.get_response(request)


def crash_worker_if_asked():
    if FAULT != "worker-crash":
        return
    print("APP_FAULT=worker-crash: the worker exits on its first task", file=sys.stderr, flush=True)
    # In the prefork pool a task runs in a child process: were only the child to exit,
    # Celery would start another and go on. The parent (the worker itself) goes too, so
    # the container exits; with --pool=solo the parent is init, which ignores the signal.
    os.kill(os.getppid(), signal.SIGKILL)
    os._exit(70)


def migrate_fault():
    if FAULT == "migrate-fail":
        return "APP_FAULT=migrate-fail: exiting before migrating"
    seconds = _arg("slow-migrate:")
    if seconds:
        print(f"APP_FAULT={FAULT}: sleeping {seconds:g} s before migrating", file=sys.stderr, flush=True)
        time.sleep(seconds)
    return None
