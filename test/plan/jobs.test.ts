// Release jobs: in order, in the new color, after the build and before the old color is
// touched; a failed job stops the deploy there; a job cut short is not silently run again.
import { afterEach, describe, expect, it } from 'vitest'
import { deploy } from '../../lib/compose/deploy.ts'
import { UsageError } from '../../lib/errors.ts'
import { readHistory } from '../../lib/history.ts'
import { blueLive, type Harness, harness, type World } from './world.ts'

let h: Harness
afterEach(() => h?.close())

const withJobs = (w: World) => {
  blueLive(w)
  w.model.services.migrate = { image: 'app', command: ['migrate'] }
  w.model.services.collectstatic = { image: 'app', command: ['collectstatic'] }
}
const env = { CALMSWAP_JOBS: 'migrate,collectstatic' }
const jobsOf = (h: Harness) => h.plan().filter((p) => p.startsWith('green run'))

describe('release jobs', () => {
  it('run in order, in the new color, after the build and before anything of blue is touched', async () => {
    h = await harness({ state: { live: 'blue' }, setup: withJobs, env })
    await deploy(h.ctx)
    const plan = h.plan()
    expect(plan.slice(0, 5)).toEqual(['green build web worker beat', 'pin green', 'green run migrate', 'green run collectstatic', 'pause app-blue-worker-1'])
    const run = h.exec.calls.find((c) => c.argv.includes('run'))!
    expect(run.argv.slice(8)).toEqual(['run', '--rm', '--no-deps', '-T', '--name', 'app-green-migrate-job', 'migrate'])
    expect(run.timeoutMs).toBe(600_000)
    expect(
      readHistory(h.config.stateDir)
        .at(-1)!
        .steps.map((s) => s.step),
    ).toContain('job migrate')
  })

  it('a failed job stops the deploy before anything of blue is touched', async () => {
    h = await harness({ state: { live: 'blue', upstream: { color: 'blue', port: 1, backup: null } }, setup: withJobs, env })
    h.world.failOn = (a) => (a.includes('run') && a.at(-1) === 'migrate' ? 1 : undefined)
    await expect(deploy(h.ctx)).rejects.toThrow(/rolled back; blue serves as before/)
    expect(h.out.join('')).toMatch(/release job migrate failed \(exit 1; its log is above\); nothing of the live color was touched/)
    expect(h.plan()).toEqual(['green build web worker beat', 'pin green', 'green run migrate'])
    expect(jobsOf(h)).toEqual(['green run migrate'])
    expect(['worker', 'beat', 'web'].map((s) => h.world.state('app-blue', s))).toEqual(['running', 'running', 'running'])
  })

  it('a job past its deadline is stopped and removed', async () => {
    h = await harness({ state: { live: 'blue', upstream: { color: 'blue', port: 1, backup: null } }, setup: withJobs, env })
    h.world.failOn = (a) => (a.includes('run') && a.at(-1) === 'migrate' ? 124 : undefined)
    await expect(deploy(h.ctx)).rejects.toThrow(/rolled back/)
    expect(h.out.join('')).toMatch(/release job migrate did not finish within CALMSWAP_JOB_TIMEOUT=600s and was stopped/)
    expect(h.plan()).toContain('docker rm -f app-green-migrate-job')
  })

  const cut = {
    op: 'deploy',
    from: 'blue',
    to: 'green',
    release: 'r2',
    startedAt: 'then',
    pid: 1,
    done: ['build', 'shared'],
    current: 'jobs',
    jobs: { migrate: 'running' },
  } as const

  it('a job cut short is reported, and not run again without --rerun-jobs', async () => {
    h = await harness({ state: { live: 'blue', journal: cut }, setup: withJobs, env })
    const err = await deploy(h.ctx).catch((e) => e)
    expect(err).toBeInstanceOf(UsageError)
    expect(err.message).toMatch(/release job migrate of r2 was interrupted while it ran .* run `deploy --rerun-jobs` to run it again and go on, or `rollback`/)
    expect(h.plan()).toEqual([])
    expect(h.ctx.state.load().journal).toMatchObject({ jobs: { migrate: 'running' } })
  })

  it('--rerun-jobs runs it again and goes on', async () => {
    h = await harness({ state: { live: 'blue', journal: cut }, setup: withJobs, env })
    await deploy(h.ctx, { rerunJobs: true })
    expect(jobsOf(h)).toEqual(['green run migrate', 'green run collectstatic'])
    expect(h.ctx.state.load()).toMatchObject({ live: 'green', journal: null })
  })

  it('a job the interrupted run finished is not run again', async () => {
    h = await harness({ state: { live: 'blue', journal: { ...cut, jobs: { migrate: 'done' } } }, setup: withJobs, env })
    await deploy(h.ctx)
    expect(jobsOf(h)).toEqual(['green run collectstatic'])
  })

  it('a leftover job container of a run cut short is removed before the job starts again', async () => {
    h = await harness({ state: { live: 'blue', journal: cut }, setup: (w) => (withJobs(w), w.set('app-green', 'migrate', 'exited')), env })
    // The World names a project's one container <project>-<service>-1; a job's is named by calmswap.
    h.world.containers.set('app-green-migrate-job', h.world.containers.get('app-green-migrate-1')!)
    h.world.containers.delete('app-green-migrate-1')
    await deploy(h.ctx, { rerunJobs: true })
    expect(h.plan().indexOf('docker rm -f app-green-migrate-job')).toBeLessThan(h.plan().indexOf('green run migrate'))
  })
})
