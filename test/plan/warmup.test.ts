import { afterEach, describe, expect, it } from 'vitest'
import { deploy } from '../../lib/compose/deploy.ts'
import { dryRun } from './dry-run.ts'
import { BLUE_TO_GREEN, blueLive, type Harness, harness } from './world.ts'

let h: Harness
afterEach(() => h?.close())

const pagesAsked = (h: Harness) => h.world.asked.green.filter((p) => !p.startsWith(h.config.health.path))
const switched = (h: Harness) => h.plan().includes('reload')

describe('warm-up (CALMSWAP_WARMUP)', () => {
  it('by default "/" three times on the new web, after its check and before traffic moves', async () => {
    h = await harness({ state: { live: 'blue' }, setup: blueLive })
    let beforeSwitch: string[] = []
    h.world.failOn = (a) => void (a[1] === 'exec' && /nginx -s reload/.test(a.join(' ')) && (beforeSwitch = pagesAsked(h)))
    await deploy(h.ctx)
    expect(beforeSwitch).toEqual(['/', '/', '/'])
    // After the three passes of the health check, not beside it.
    const asked = h.world.asked.green
    expect(asked.slice(0, asked.indexOf('/'))).toEqual(Array(3).fill(h.config.health.path))
    expect(h.plan()).toEqual(BLUE_TO_GREEN)
    expect(h.out.join('')).toMatch(/warmed up \/: 200 in \d+ms, 200 in \d+ms, 200 in \d+ms/)
  })

  it('each page of the list, CALMSWAP_WARMUP_TIMES each', async () => {
    h = await harness({ state: { live: 'blue' }, setup: blueLive, env: { CALMSWAP_WARMUP: '/, /accounts/login/?next=/', CALMSWAP_WARMUP_TIMES: '2' } })
    await deploy(h.ctx)
    expect(pagesAsked(h).slice(0, 4)).toEqual(['/', '/', '/accounts/login/?next=/', '/accounts/login/?next=/'])
  })

  it('a page that answers 5xx to every request fails the deploy before the switch', async () => {
    h = await harness({ state: { live: 'blue', upstream: { color: 'blue', port: 1, backup: null } }, setup: blueLive })
    h.world.pages.green = [500, 502, 500]
    await expect(deploy(h.ctx)).rejects.toThrow(/rolled back; blue serves as before/)
    expect(switched(h)).toBe(false)
    expect(h.out.join('')).toMatch(/passed its health check, but http:\/\/127\.0\.0\.1:\d+\/ answered 500, 502 to all 3 warm-up requests \(CALMSWAP_WARMUP\)/)
    expect(h.world.state('app-blue', 'worker')).toBe('running')
    // The new beat, started once the web booted, stopped before blue's came back: one beat.
    expect(h.plan().indexOf('green stop beat')).toBeGreaterThan(-1)
    expect(h.plan().indexOf('green stop beat')).toBeLessThan(h.plan().indexOf('start app-blue-worker-1 app-blue-beat-1'))
    expect(h.world.state('app-green', 'beat')).not.toBe('running')
    expect(h.world.state('app-blue', 'beat')).toBe('running')
  })

  it('a warm-up that fails while the new beat still waits for the old one to exit: the new beat is never started', async () => {
    h = await harness({ state: { live: 'blue', upstream: { color: 'blue', port: 1, backup: null } }, setup: blueLive })
    // The old beat's exit takes a while to be seen; the check and the warm-up take less.
    h.world.slowStop = 1500
    h.world.pages.green = [500, 500, 500]
    await expect(deploy(h.ctx)).rejects.toThrow(/rolled back; blue serves as before/)
    expect(h.plan()).toContain('docker wait id-app-blue-beat-1')
    expect(h.plan()).not.toContain('start app-green-beat-1')
    expect(h.world.state('app-green', 'beat')).not.toBe('running')
  })

  it('a page that does not answer is not asked again: the deploy fails before the switch', async () => {
    h = await harness({ state: { live: 'blue', upstream: { color: 'blue', port: 1, backup: null } }, setup: blueLive })
    h.world.pages.green = [0, 200, 200]
    await expect(deploy(h.ctx)).rejects.toThrow(/rolled back; blue serves as before/)
    expect(pagesAsked(h)).toEqual(['/'])
    expect(switched(h)).toBe(false)
    expect(h.out.join('')).toMatch(/answered .* to its first warm-up request \(CALMSWAP_WARMUP\)/)
  })

  it('one 5xx among them, or a 4xx or a redirect, is a page that answers: the deploy goes on', async () => {
    h = await harness({ state: { live: 'blue' }, setup: blueLive })
    h.world.pages.green = [500, 302, 404]
    await deploy(h.ctx)
    expect(switched(h)).toBe(true)
    expect(h.out.join('')).toMatch(/warmed up \/: 500 in \d+ms, 302 in \d+ms, 404 in \d+ms/)
  })

  it('empty: no page is asked for', async () => {
    h = await harness({ state: { live: 'blue' }, setup: blueLive, env: { CALMSWAP_WARMUP: '' } })
    await deploy(h.ctx)
    expect(pagesAsked(h)).toEqual([])
    expect(h.plan()).toEqual(BLUE_TO_GREEN)
  })

  it('a dry run prints the warm-up and asks for nothing', async () => {
    h = await harness({ state: { live: 'blue' }, setup: blueLive })
    await deploy(dryRun(h).ctx)
    expect(h.out.join('')).toMatch(/GET http:\/\/127\.0\.0\.1:\d+\/, 3× each; a page with no answer below 500 fails the deploy/)
    expect(pagesAsked(h)).toEqual([])
  })
})
