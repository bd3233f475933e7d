"""The example web app: one Celery task per request, /health/ for calmswap.

APP_FAULT makes a release misbehave on purpose, for the end-to-end tests:
  health500  /health/ answers 500        hang      /health/ never answers
  refuse     the process exits at once    flap      /health/ alternates 200 and 500
  worker-exit  the Celery worker (not the web) exits as it starts: see tasks.py
  worker-crash the Celery worker exits on its first task: see tasks.py
  die:N      the process exits N seconds after it first passes a health check
  fail:N     N% of the other requests answer 500 (before queueing their task); /health/ passes
"""
import json
import os
import random
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from tasks import _counters, app as celery_app

COLOR = os.environ.get("DEPLOY_COLOR", "none")
RELEASE = os.environ.get("CALMSWAP_RELEASE", "dev")
FAULT = os.environ.get("APP_FAULT", "")
BOOT_DELAY = float(os.environ.get("BOOT_DELAY", "0"))
FAIL_PERCENT = float(FAULT[5:]) if FAULT.startswith("fail:") else 0.0

_flap = [0]
_dying = [False]


def die_later(seconds):
    time.sleep(seconds)
    os._exit(3)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Without it, Nagle's algorithm adds ~40 ms to replies sent in two writes.
    disable_nagle_algorithm = True

    def log_message(self, *args):
        pass

    def reply(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("X-Deploy-Color", COLOR)
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self):
        # A form post (bench/keepalive.ts): its body read and dropped, then answered as the page is.
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.do_GET()

    def do_GET(self):
        if self.path.startswith("/health"):
            return self.health()
        # The release that passes its health check and fails real requests: a view that
        # crashes before it queues anything.
        if FAIL_PERCENT and random.random() * 100 < FAIL_PERCENT:
            return self.reply(500, {"error": "APP_FAULT", "color": COLOR, "release": RELEASE})
        # The real work: every page view queues a task, as a Django view calling .delay() would.
        # Counted per web too: in a canary both colors enqueue, and one set of workers runs it all.
        _counters.incr("calmswap:enqueued")
        _counters.incr(f"calmswap:enqueued:{COLOR}")
        celery_app.send_task("tasks.record", kwargs={"by": COLOR})
        self.reply(200, {"color": COLOR, "release": RELEASE})

    def health(self):
        if FAULT == "health500":
            return self.reply(500, {"ok": False})
        if FAULT == "hang":
            time.sleep(3600)
        if FAULT == "flap":
            _flap[0] += 1
            if _flap[0] % 2 == 0:
                return self.reply(500, {"ok": False})
        if FAULT.startswith("die:") and not _dying[0]:
            _dying[0] = True
            threading.Thread(target=die_later, args=(float(FAULT[4:]),), daemon=True).start()
        self.reply(200, {"ok": True, "color": COLOR, "release": RELEASE})


def main():
    if FAULT == "refuse":
        sys.exit("APP_FAULT=refuse: exiting before listening")
    # Stands in for Django's start-up (imports, migrations check) so the benchmark
    # can measure time-to-switch against a known boot time.
    time.sleep(BOOT_DELAY)
    server = ThreadingHTTPServer(("0.0.0.0", 8000), Handler)
    server.daemon_threads = True
    print(f"web {COLOR} {RELEASE} listening on :8000", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
