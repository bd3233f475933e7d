import { spawnSync } from 'node:child_process'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { NOTHING_TO_QUIESCE, QUIESCE_PY, QUIESCE_QUEUES_PY, QUIESCED } from '../../lib/celery.ts'
import { quiesceWorker } from '../../lib/commands.ts'
import { loadConfig } from '../../lib/config.ts'

const dir = mkdtempSync(join(tmpdir(), 'calmswap-celery-'))
writeFileSync(join(dir, 'compose.yml'), 'services: {}\n')
const c = loadConfig({ env: {}, cwd: dir })

describe('the quiesce script', () => {
  it('is valid Python as embedded', () => {
    const r = spawnSync('python3', ['-c', 'import ast, sys; ast.parse(sys.stdin.read())'], { input: QUIESCE_PY, encoding: 'utf8' })
    expect(r.status, r.stderr).toBe(0)
  })
  // In a PID namespace of its own, as in a container: the host's /proc shows every container's workers.
  const isolated = spawnSync('unshare', ['--pid', '--fork', '--mount-proc', 'true']).status === 0
  it.skipIf(!isolated)('where no Celery worker runs, it says so and exits 3: the SIGTERM follows as usual', () => {
    const r = spawnSync('unshare', ['--pid', '--fork', '--mount-proc', 'python3', '-c', QUIESCE_PY, '2'], { encoding: 'utf8', timeout: 20_000 })
    expect([r.status, r.stderr.trim()]).toEqual([NOTHING_TO_QUIESCE, 'quiesce: no Celery worker process in this container'])
  })
  it('runs in the worker container, with a deadline past its own', () => {
    const cmd = quiesceWorker(c, 'app-blue-worker-1', 10)
    expect([cmd.argv.slice(0, 5), cmd.argv.at(-1), cmd.timeoutMs, cmd.mutates]).toEqual([['docker', 'exec', 'app-blue-worker-1', 'python3', '-c'], '10', 15_000, true])
  })
})

/**
 * The common end of the quiesce scripts, run against a pretend Celery control and broker on a
 * pretend clock: what it waits for before it asks whether the workers are idle.
 */
function quiesceEnd(driver: string, blocked: number[]): { code: number | null; sleeps: number[] } {
  const harness = `import json, sys, types
clock = [0.0]
sleeps = []
def _sleep(s):
    sleeps.append(round(s, 3))
    clock[0] += s
time = types.SimpleNamespace(monotonic=lambda: clock[0], sleep=_sleep)
deadline = 100.0
blocked = ${JSON.stringify(blocked)}
class Client:
    def client_list(self):
        return [{"flags": "b"}] * (blocked.pop(0) if blocked else 0)
class Conn:
    transport = types.SimpleNamespace(driver_type=${JSON.stringify(driver)})
    default_channel = types.SimpleNamespace(client=Client())
    def __enter__(self):
        return self
    def __exit__(self, *a):
        return False
class Inspect:
    def active(self):
        return {}
    def reserved(self):
        return {}
class Control:
    app = types.SimpleNamespace(connection_for_write=lambda: Conn())
    def cancel_consumer(self, *a, **k):
        pass
    def inspect(self, *a, **k):
        print(json.dumps(sleeps))
        return Inspect()
ctl = Control()
queues = {"celery@w1": [{"name": "celery"}]}
def say(msg, code):
    sys.exit(code)
${QUIESCE_QUEUES_PY}`
  const r = spawnSync('python3', ['-c', harness], { encoding: 'utf8', timeout: 20_000 })
  return { code: r.status, sleeps: JSON.parse(r.stdout.trim().split('\n')[0] || 'null') }
}

describe('the wait for the read outstanding at the cancel', () => {
  it('ends when the Redis broker has no client blocked in a read any more', () => expect(quiesceEnd('redis', [2, 1, 1, 0, 1])).toEqual({ code: QUIESCED, sleeps: [0.1, 0.1, 0.1] }))
  it('is the whole 1.2 s when the broker cannot say (not Redis)', () => {
    const r = quiesceEnd('amqp', [])
    expect(r.code).toBe(QUIESCED)
    expect(r.sleeps.reduce((a, b) => a + b, 0)).toBeCloseTo(1.2, 5)
  })
  it('is the whole 1.2 s while someone else’s read stays blocked', () => {
    const r = quiesceEnd('redis', Array(20).fill(1))
    expect(r.sleeps.reduce((a, b) => a + b, 0)).toBeCloseTo(1.2, 5)
  })
})
