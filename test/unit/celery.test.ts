import { spawnSync } from 'node:child_process'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { quiesceWorker } from '../../lib/builders/index.ts'
import { NOTHING_TO_QUIESCE, QUIESCE_PY } from '../../lib/celery.ts'
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
