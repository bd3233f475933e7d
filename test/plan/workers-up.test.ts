// The new workers after the switch: each proves it is up by its ready line (or by running
// CALMSWAP_STAY_UP when it logs none), a crash fails the check at the look that sees it, and the
// gap in task processing (old workers frozen → first new worker ready) goes into history.
import { afterEach, describe, expect, it } from 'vitest'
import { deploy } from '../../lib/compose/deploy.ts'
import { formatStatus, status } from '../../lib/compose/status.ts'
import { formatHistory, readHistory } from '../../lib/history.ts'
import { blueLive, type Harness, harness } from './world.ts'

let h: Harness
afterEach(() => h?.close())

const restartLooks = (name: string) => h.exec.calls.filter((c) => c.argv[1] === 'inspect' && c.argv[3]!.includes('RestartCount') && c.argv.includes(name)).length

describe('the new workers come up', () => {
  it('a worker and a beat that log their ready lines end the check without waiting CALMSWAP_STAY_UP', async () => {
    h = await harness({ state: { live: 'blue' }, setup: blueLive, env: { CALMSWAP_STAY_UP: '60s' } })
    await deploy(h.ctx)
    expect(h.ctx.state.load().live).toBe('green')
    expect(h.out.join('')).toMatch(/app-green-beat-1 ready after \S+, app-green-worker-1 ready after/)
    expect(h.exec.calls.filter((c) => c.argv[1] === 'logs').map((c) => c.argv.at(-1))).toEqual(expect.arrayContaining(['app-green-worker-1', 'app-green-beat-1']))
    expect(restartLooks('app-green-worker-1')).toBe(2)
  })
  it('a worker that logs no ready line must run CALMSWAP_STAY_UP, looked at until then', async () => {
    h = await harness({ state: { live: 'blue' }, setup: blueLive, env: { CALMSWAP_STAY_UP: '600ms' } })
    h.world.silent.add('worker')
    await deploy(h.ctx)
    expect(h.ctx.state.load().live).toBe('green')
    expect(h.out.join('')).toMatch(/app-green-worker-1 up 600ms/)
    expect(restartLooks('app-green-worker-1')).toBeGreaterThan(2)
  })
  it('a worker that restarts while the check waits fails it at that look, and the deploy rolls back', async () => {
    h = await harness({ state: { live: 'blue', upstream: { color: 'blue', port: 1, backup: null } }, setup: blueLive, env: { CALMSWAP_STAY_UP: '30s' } })
    h.world.silent.add('worker')
    let looks = 0
    h.world.failOn = (a) => {
      if (a[1] === 'inspect' && a[3]?.includes('RestartCount') && a.includes('app-green-worker-1') && ++looks === 2) h.world.restarts.set('app-green-worker-1', 1)
      return undefined
    }
    await expect(deploy(h.ctx)).rejects.toThrow(/rolled back; blue serves as before/)
    expect(h.out.join('')).toMatch(/the new green workers do not stay up: app-green-worker-1 restarted 1 time\(s\)/)
    expect(h.ctx.state.load()).toMatchObject({ live: 'blue', journal: null })
  })
})

describe('the gap in task processing', () => {
  it('is recorded per deploy, from the old workers’ freeze to the first new worker’s ready line, with the process’s own cost', async () => {
    h = await harness({ state: { live: 'blue' }, setup: blueLive, env: { CALMSWAP_STAY_UP: '60s' } })
    await deploy(h.ctx)
    const e = readHistory(h.config.stateDir).at(-1)!
    expect(e.gap?.to).toBe('ready-log')
    expect(e.gap!.ms).toBeGreaterThanOrEqual(0)
    expect(e.gap!.ms).toBeLessThanOrEqual(e.ms)
    expect(e.usage!.maxRssMb).toBeGreaterThan(0)
    expect(e.usage!.cpuS).toBeGreaterThan(0)
    expect(formatHistory([e])).toMatch(/workers: no worker consuming for \S+ \(old workers frozen → first new worker ready\)/)
    expect(formatHistory([e])).toMatch(/calmswap: [\d.]+ MB peak RSS, [\d.]+ CPU-s/)
  })
  it('and status shows the last deploy’s gap and cost', async () => {
    h = await harness({ state: { live: 'blue' }, setup: blueLive, env: { CALMSWAP_STAY_UP: '60s' } })
    await deploy(h.ctx)
    const r = await status(h.ctx)
    expect(r.last?.gap?.to).toBe('ready-log')
    expect(formatStatus(r)).toMatch(
      /^last: {5}deploy ok in \S+ at \S+; no worker consuming for \S+ \(old workers frozen → first new worker ready\); calmswap [\d.]+ MB peak RSS, [\d.]+ CPU-s$/m,
    )
  })
  it('counts to the new workers’ start when no ready line shows, and says it is a lower bound', async () => {
    h = await harness({ state: { live: 'blue' }, setup: blueLive, env: { CALMSWAP_STAY_UP: '300ms' } })
    h.world.silent.add('worker')
    await deploy(h.ctx)
    const e = readHistory(h.config.stateDir).at(-1)!
    expect(e.gap?.to).toBe('start')
    expect(formatHistory([e])).toMatch(/no worker consuming for at least \S+ \(old workers frozen → new workers started\)/)
  })
  it('ends at a new worker’s first task, taken from the time its log line carries, not from when it was read', async () => {
    h = await harness({ state: { live: 'blue' }, setup: blueLive, env: { CALMSWAP_STAY_UP: '60s' } })
    h.world.taskAfterMs = 30_000
    const t0 = Date.now()
    await deploy(h.ctx)
    const e = readHistory(h.config.stateDir).at(-1)!
    expect(Date.now() - t0).toBeLessThan(30_000)
    expect(e.gap?.to).toBe('task')
    expect(e.gap!.ms).toBeGreaterThanOrEqual(30_000)
    expect(formatHistory([e])).toMatch(/workers: no worker consuming for \S+ \(old workers frozen → first task of a new worker\)/)
  })
  it('says how long no task ran, at most, when the old workers drained were seen running tasks', async () => {
    h = await harness({ state: { live: 'blue' }, setup: blueLive, env: { CALMSWAP_STAY_UP: '60s' } })
    h.world.taskAfterMs = 30_000
    h.world.quiesceSays = () => `quiesce-active ${(Date.now() + 1000) / 1000},${(Date.now() + 1100) / 1000}\n`
    await deploy(h.ctx)
    const e = readHistory(h.config.stateDir).at(-1)!
    expect(e.gap!.noTaskMs).toBeGreaterThan(25_000)
    expect(e.gap!.noTaskMs).toBeLessThan(e.gap!.ms)
    expect(formatHistory([e])).toMatch(/workers: no task run for at most \S+ \(old workers frozen → first task of a new worker: \S+, the old ones seen running tasks in between\)/)
  })
  it('with CALMSWAP_TASK_LOG empty, ends at the ready line, as when no task waited', async () => {
    h = await harness({ state: { live: 'blue' }, setup: blueLive, env: { CALMSWAP_STAY_UP: '60s', CALMSWAP_TASK_LOG: '' } })
    h.world.taskAfterMs = 30_000
    await deploy(h.ctx)
    const e = readHistory(h.config.stateDir).at(-1)!
    expect(e.gap?.to).toBe('ready-log')
    expect(e.gap!.ms).toBeLessThan(30_000)
  })
  it('is not recorded on a first deploy: no old workers were consuming', async () => {
    h = await harness({ env: { CALMSWAP_STAY_UP: '60s' } })
    await deploy(h.ctx)
    expect(readHistory(h.config.stateDir).at(-1)!.gap).toBeUndefined()
  })
})
