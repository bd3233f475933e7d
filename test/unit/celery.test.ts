import { spawnSync } from 'node:child_process'
import { chmodSync, mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { quiesceWorker } from '../../lib/builders/index.ts'
import { NOTHING_TO_QUIESCE, QUIESCE_PY, QUIESCE_QUEUES_PY, QUIESCED } from '../../lib/celery.ts'
import { loadConfig } from '../../lib/config-loader.ts'

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
  /** A /proc of its own: each process's argv, parent, environment and working directory. */
  const fakeProc = (procs: Record<number, { argv: string[]; ppid: number }>) => {
    const root = mkdtempSync(join(tmpdir(), 'calmswap-proc-'))
    for (const [pid, p] of Object.entries(procs)) {
      const d = join(root, pid)
      mkdirSync(d)
      writeFileSync(join(d, 'cmdline'), `${p.argv.join('\0')}\0`)
      writeFileSync(join(d, 'stat'), `${pid} (${p.argv[0]}) S ${p.ppid} ${pid} ${pid} 0 -1`)
      writeFileSync(join(d, 'environ'), 'PATH=/usr/bin\0')
      symlinkSync(root, join(d, 'cwd'))
    }
    return root
  }
  const found = (root: string) => spawnSync('python3', ['-c', QUIESCE_PY, '2', root], { encoding: 'utf8', timeout: 20_000 })
  const worker = ['/usr/local/bin/python', '/usr/local/bin/celery', 'worker', '-l', 'info']

  it("finds a worker that is its container's PID 1 (exec celery … worker, no init), and not its pool processes", () => {
    const root = fakeProc({ 1: { argv: worker, ppid: 0 }, 7: { argv: worker, ppid: 1 }, 8: { argv: worker, ppid: 1 }, 20: { argv: ['sh'], ppid: 0 } })
    const r = found(root)
    // No -A in this argv: the script stops right after finding the worker, saying which.
    expect([r.status, r.stderr.trim()]).toEqual([NOTHING_TO_QUIESCE, 'quiesce: cannot tell the app (-A) of the worker, pid 1'])
  })
  it('finds a worker under a shell or an init as before', () => {
    const root = fakeProc({ 1: { argv: ['/sbin/docker-init', '--', 'sh', '-c', 'celery worker'], ppid: 0 }, 6: { argv: worker, ppid: 1 }, 9: { argv: worker, ppid: 6 } })
    expect(found(root).stderr.trim()).toBe('quiesce: cannot tell the app (-A) of the worker, pid 6')
  })
  it.skipIf(!isolated)('finds a real PID 1 worker in a PID namespace of its own', () => {
    // A stand-in `celery worker` that is PID 1 of its namespace and runs the quiesce beside it, as `docker exec` does.
    const bin = mkdtempSync(join(tmpdir(), 'calmswap-celery-bin-'))
    writeFileSync(join(bin, 'script.py'), QUIESCE_PY)
    writeFileSync(
      join(bin, 'celery'),
      `#!/usr/bin/env python3\nimport subprocess, sys\nr = subprocess.run([sys.executable, ${JSON.stringify(join(bin, 'script.py'))}, "2"], capture_output=True, text=True)\nsys.stderr.write(r.stderr)\nsys.exit(r.returncode)\n`,
    )
    chmodSync(join(bin, 'celery'), 0o755)
    const r = spawnSync('unshare', ['--pid', '--fork', '--mount-proc', join(bin, 'celery'), 'worker'], { encoding: 'utf8', timeout: 20_000 })
    expect([r.status, r.stderr.trim()]).toEqual([NOTHING_TO_QUIESCE, 'quiesce: cannot tell the app (-A) of the worker, pid 1'])
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
function quiesceEnd(driver: string, blocked: number[], active: number[] = []): { code: number | null; sleeps: number[]; stdout: string } {
  const harness = `import json, sys, types
clock = [0.0]
sleeps = []
def _sleep(s):
    sleeps.append(round(s, 3))
    clock[0] += s
time = types.SimpleNamespace(monotonic=lambda: clock[0], time=lambda: 1000 + clock[0], sleep=_sleep)
deadline = 100.0
blocked = ${JSON.stringify(blocked)}
active = ${JSON.stringify(active)}
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
        clock[0] += 0.05
        return {"celery@w1": [{}] * (active.pop(0) if active else 0)}
    def reserved(self):
        return {}
class Control:
    app = types.SimpleNamespace(connection_for_write=lambda: Conn())
    def cancel_consumer(self, *a, **k):
        pass
    def inspect(self, *a, **k):
        print(json.dumps(sleeps), file=sys.stderr)
        clock[0] += 0.05
        return Inspect()
ctl = Control()
queues = {"celery@w1": [{"name": "celery"}]}
def say(msg, code):
    sys.exit(code)
${QUIESCE_QUEUES_PY}`
  const r = spawnSync('python3', ['-c', harness], { encoding: 'utf8', timeout: 20_000 })
  return { code: r.status, sleeps: JSON.parse(r.stderr.trim().split('\n')[0] || 'null'), stdout: r.stdout }
}

describe('the wait for the read outstanding at the cancel', () => {
  it('ends when the Redis broker has no client blocked in a read any more', () =>
    expect(quiesceEnd('redis', [2, 1, 1, 0, 1])).toEqual({ code: QUIESCED, sleeps: [0.1, 0.1, 0.1], stdout: '' }))
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

describe('what the workers were seen running after the cancel', () => {
  it('each answer that showed a task running, as asked and answered wall-clock times, on stdout', () =>
    expect(quiesceEnd('redis', [0], [1, 1, 0]).stdout).toBe('\nquiesce-active 1000.050,1000.100 1000.450,1000.500\n'))
  it('nothing when no task ran', () => expect(quiesceEnd('redis', [0], [0]).stdout).toBe(''))
})
