// Asking a Celery worker to stop consuming before its SIGTERM. On Celery 5.2 / kombu 5.2
// (Debian and Ubuntu LTS), a SIGTERM that reaches a worker under load loses the message an
// outstanding Redis BRPOP pops as the connection closes (kombu#1733, fixed in 5.3.2), is
// raised from the signal handler wherever the main thread is (celery#7339, fixed in 5.3), and
// a job handed to a pool process but not yet acknowledged makes that process wait 30 s at
// exit (billiard's _ensure_messages_consumed). After Celery's own `cancel_consumer` remote
// control no new read is issued, the outstanding one ends within its 1 s timeout and what it
// popped goes back to the queue, reserved tasks finish, and the SIGTERM finds nothing to
// race with. Harmless on newer Celery.

/**
 * The common end of both quiesce scripts, given `ctl` (the app's control), `queues` (node →
 * the queues it consumes), `deadline` and `say`: cancel every consumer, then wait until no
 * node holds an active or reserved task. Exit 0 idle, 4 still busy at the deadline.
 */
export const QUIESCE_QUEUES_PY = `import math
for node, qs in queues.items():
    for q in qs:
        ctl.cancel_consumer(q["name"], destination=[node], reply=True, timeout=2.0, limit=1)
t0 = time.monotonic()


def reads_blocked():
    """Clients of the broker blocked in a read (BRPOP), or None when the broker cannot say (not Redis, no CLIENT LIST)."""
    try:
        with ctl.app.connection_for_write() as conn:
            if conn.transport.driver_type != "redis":
                return None
            return sum(1 for c in conn.default_channel.client.client_list() if "b" in c.get("flags", ""))
    except Exception:
        return None


# The read outstanding at the cancel ends within its timeout (kombu's BRPOP: 1 s). On Redis
# the broker says when no client is blocked in a read any more: no need to wait the whole
# second then. Anyone else's read (another app on the same Redis) keeps the full wait.
while time.monotonic() - t0 < 1.2:
    if reads_blocked() == 0:
        break
    time.sleep(0.1)
busy = None
# Each answer that showed a task running, as (asked, answered) wall-clock times: what the
# caller can prove the workers ran after their thaw, for the gap in task processing.
seen = []
while time.monotonic() < deadline:
    i = ctl.inspect(destination=list(queues), timeout=1.0, limit=len(queues))
    asked = time.time()
    running = sum(len(v) for v in (i.active() or {}).values())
    if running:
        # Widened to the millisecond, never narrowed: the caller's bound stays a bound.
        seen.append([math.floor(asked * 1000) / 1000, math.ceil(time.time() * 1000) / 1000])
    busy = running + sum(len(v) for v in (i.reserved() or {}).values())
    if not busy:
        break
    time.sleep(0.3)
if seen:
    # On a line of its own, whatever the app's import printed before.
    print("\\nquiesce-active", " ".join(f"{a:.3f},{b:.3f}" for a, b in seen), flush=True)
names = sorted({q["name"] for qs in queues.values() for q in qs})
if busy:
    say(f"{','.join(queues)} stopped consuming {names}; {busy} task(s) still active or reserved", 4)
say(f"{','.join(queues)} stopped consuming {names}; idle after {time.monotonic() - t0:.1f} s", 0)
`

/**
 * Runs inside the worker's container (python3 is there: the worker is Python). Finds each
 * Celery worker main process in /proc, loads its app as it did (-A/--app or CELERY_APP, its
 * working directory and environment), cancels every queue it consumes, waits until the
 * outstanding read has ended and nothing is active or reserved. Exit 0: quiet; 3: nothing to
 * quiesce or no answer (e.g. --without-control); 4: still busy at its deadline. The caller
 * sends SIGTERM whatever it says.
 */
export const QUIESCE_PY = `import os
import sys
import time

deadline = time.monotonic() + float(sys.argv[1] if len(sys.argv) > 1 else 10)
# Another root than /proc: for tests, with a tree of processes of their own.
proc = sys.argv[2] if len(sys.argv) > 2 else "/proc"


def cmdline(pid):
    with open(f"{proc}/{pid}/cmdline", "rb") as f:
        return [a for a in f.read().split(b"\\0") if a]


def workers():
    """(pid, argv, cwd, environ) of each Celery worker main process in this container."""
    found = []
    for pid in sorted(filter(str.isdigit, os.listdir(proc)), key=int):
        try:
            argv = [a.decode() for a in cmdline(pid)]
            with open(f"{proc}/{pid}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        except OSError:
            continue
        # A worker that is the container's PID 1 (\`exec celery ... worker\`, no init) has
        # parent 0, which /proc does not list: no parent is no pool's parent.
        try:
            parent = cmdline(ppid) if ppid > 0 else []
        except OSError:
            parent = []
        # The main process, not its pool processes (whose parent runs the same argv).
        if "worker" in argv and any("celery" in a for a in argv[:3]) and parent[: len(argv)] != [a.encode() for a in argv]:
            try:
                with open(f"{proc}/{pid}/environ", "rb") as f:
                    env = dict(kv.decode().split("=", 1) for kv in f.read().split(b"\\0") if b"=" in kv)
                cwd = os.readlink(f"{proc}/{pid}/cwd")
            except OSError:
                env, cwd = {}, None
            found.append((pid, argv, cwd, env))
    return found


def opt(argv, short, long):
    for i, a in enumerate(argv):
        if a in (short, long) and i + 1 < len(argv):
            return argv[i + 1]
        if a.startswith(long + "="):
            return a.split("=", 1)[1]
        if short and a.startswith(short) and len(a) > len(short) and not a.startswith("--"):
            return a[len(short):]
    return None


def say(msg, code):
    print("quiesce:", msg, file=sys.stderr)
    sys.exit(code)


found = workers()
if not found:
    say("no Celery worker process in this container", 3)
_, argv, cwd, env = found[0]
spec = opt(argv, "-A", "--app") or env.get("CELERY_APP")
if not spec:
    say(f"cannot tell the app (-A) of the worker, pid {', '.join(p for p, _, _, _ in found)}", 3)
# Load the app as the worker did: its working directory, its environment (an entrypoint
# may have set DJANGO_SETTINGS_MODULE or the broker URL).
for k, v in env.items():
    os.environ.setdefault(k, v)
if cwd and os.path.isdir(cwd):
    os.chdir(cwd)
    sys.path.insert(0, cwd)

from celery.app.utils import find_app  # noqa: E402
from celery.utils.nodenames import default_nodename, host_format  # noqa: E402

app = find_app(spec)
nodes = sorted({host_format(default_nodename(opt(a, "-n", "--hostname"))) for _, a, _, _ in found})
ctl = app.control
# limit=: return as soon as every node has answered instead of waiting out the timeout.
queues = ctl.inspect(destination=nodes, timeout=2.0, limit=len(nodes)).active_queues() or {}
if not queues:
    say(f"no answer from {','.join(nodes)}", 3)
${QUIESCE_QUEUES_PY}`

/** What a quiesce's exit code means: 0 quiet, 3 nothing to do, 4 still busy; anything else failed to run. */
export const QUIESCED = 0
export const NOTHING_TO_QUIESCE = 3
export const STILL_BUSY = 4
