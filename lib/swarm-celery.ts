// Quiescing the Celery workers of other swarm nodes. The manager's Docker API cannot exec
// on another node, but Celery's remote control goes through the broker: from a container of
// the stack on this node (same image, same settings), the workers on other nodes are asked to
// stop consuming and to finish what they hold, as lib/celery.ts does for a worker in its own
// container. A Swarm task's container is named by its ID, and Celery's node name is
// celery@<container hostname>, the first 12 characters of that ID unless the stack sets
// `hostname:`: that is how the workers being stood down are told from any other. The
// commands that run this script are built in lib/builders/.

import { QUIESCE_QUEUES_PY } from './celery.ts'

/**
 * argv: the app (-A), the deadline in seconds, the hostnames (comma-separated) of the workers
 * to quiesce. Exit codes as lib/celery.ts's: 0 quiet, 3 no such worker answered, 4 still busy.
 */
export const QUIESCE_NODES_PY = `import sys
import time

spec, deadline, hosts = sys.argv[1], time.monotonic() + float(sys.argv[2]), set(sys.argv[3].split(","))


def say(msg, code):
    print("quiesce:", msg, file=sys.stderr)
    sys.exit(code)


from celery.app.utils import find_app  # noqa: E402

ctl = find_app(spec).control
# Every worker on this broker answers; only those of the given hosts are quiesced.
queues = {n: qs for n, qs in (ctl.inspect(timeout=2.0).active_queues() or {}).items() if n.split("@", 1)[-1] in hosts}
if not queues:
    say(f"no worker on {','.join(sorted(hosts))} answered", 3)
${QUIESCE_QUEUES_PY}`

/** The Celery app a worker's argv names (-A tasks, --app=proj, -Aproj), or null. */
export function celeryApp(argv: readonly string[]): string | null {
  for (const [i, a] of argv.entries()) {
    if ((a === '-A' || a === '--app') && argv[i + 1]) return argv[i + 1]!
    if (a.startsWith('--app=')) return a.slice(6)
    if (a.startsWith('-A') && a.length > 2) return a.slice(2)
  }
  return null
}
