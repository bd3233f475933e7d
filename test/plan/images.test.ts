// Each color runs the images it was deployed with: a fixed `image:` name is moved by the next
// build, but a color's compose calls name calmswap's own tag of its release.
import { afterEach, describe, expect, it } from 'vitest'
import { deploy } from '../../lib/compose/deploy.ts'
import { rollback } from '../../lib/compose/rollback.ts'
import type { Ctx } from '../../lib/context.ts'
import { makeContext } from '../../lib/context.ts'
import { blueLive, type Harness, harness } from './world.ts'

let h: Harness
afterEach(() => h?.close())

/** A fresh context on the same host and state: as the next command would see it. */
const next = (h: Harness, release: string): Ctx => makeContext({ config: { ...h.config, release }, exec: h.exec, state: h.ctx.state, ui: h.ctx.ui })
const upOf = (h: Harness, color: string) => h.exec.calls.filter((c) => c.argv[3] === `app-${color}` && c.argv.includes('up'))

describe('images pinned per color', () => {
  it("the build's images get calmswap's tag of the release, and the color's compose calls name them", async () => {
    h = await harness({ state: { live: 'blue' }, setup: blueLive })
    await deploy(h.ctx)
    expect(h.world.images.get('calmswap/app/web:r2')).toBe('sha256:build1')
    const pin = h.exec.files.get(`${h.config.stateDir}/pins/green.yml`)!
    expect(pin).toMatch(/services:\n {2}web:\n {4}image: "calmswap\/app\/web:r2"\n/)
    for (const c of upOf(h, 'green')) expect(c.argv.slice(4, 8)).toEqual(['-f', h.config.composeFile, '-f', `${h.config.stateDir}/pins/green.yml`])
    // The build itself reads the file as written.
    expect(h.exec.calls.find((c) => c.argv.includes('build'))!.argv).not.toContain(`${h.config.stateDir}/pins/green.yml`)
    expect(h.ctx.state.load().colors).toEqual({ green: { release: 'r2', images: { web: 'calmswap/app/web:r2', worker: 'calmswap/app/worker:r2', beat: 'calmswap/app/beat:r2' } } })
  })

  it('after the next build moved the shared tag, recreating the old color still runs its own release', async () => {
    h = await harness({ setup: () => {} })
    await deploy(next(h, 'r1'))
    await deploy(next(h, 'r2'))
    expect(h.world.images.get('calmswap-example-app:latest')).toBe('sha256:build2')
    h.exec.events.length = 0
    await rollback(next(h, 'r3'))
    // Whatever the rollback asks Compose of blue, it names r1's images, and r1's release label.
    for (const c of h.exec.calls.filter((c) => c.argv[3] === 'app-blue' && c.argv[1] === 'compose')) {
      expect(c.argv).toContain(`${h.config.stateDir}/pins/blue.yml`)
      expect(c.env?.CALMSWAP_RELEASE).toBe('r1')
    }
    expect(h.world.images.get('calmswap/app/web:r1')).toBe('sha256:build1')
  })

  it('keeps the last CALMSWAP_KEEP_RELEASES releases and removes older ones', async () => {
    h = await harness({ setup: () => {}, env: { CALMSWAP_KEEP_RELEASES: '2' } })
    for (const r of ['r1', 'r2', 'r3', 'r4']) await deploy(next(h, r))
    expect(h.ctx.state.load().releases!.map((r) => r.release)).toEqual(['r3', 'r4'])
    expect(['r1', 'r2', 'r3', 'r4'].map((r) => h.world.images.has(`calmswap/app/web:${r}`))).toEqual([false, false, true, true])
  })

  it('an image a container still uses is kept, and tried again next time', async () => {
    h = await harness({ setup: () => {}, env: { CALMSWAP_KEEP_RELEASES: '2' } })
    await deploy(next(h, 'r1'))
    h.world.imagesInUse.add('sha256:build1')
    for (const r of ['r2', 'r3']) await deploy(next(h, r))
    expect(h.ctx.state.load().releases!.map((r) => r.release)).toEqual(['r1', 'r2', 'r3'])
    h.world.imagesInUse.clear()
    await deploy(next(h, 'r4'))
    expect(h.ctx.state.load().releases!.map((r) => r.release)).toEqual(['r3', 'r4'])
  })

  it('a kept release is deployed again without a build, on its own images', async () => {
    h = await harness({ setup: () => {} })
    for (const r of ['r1', 'r2']) await deploy(next(h, r))
    h.exec.events.length = 0
    await deploy(next(h, 'r3'), { release: 'r1' })
    expect(h.plan()).not.toContain('blue build web worker beat')
    expect(h.exec.files.get(`${h.config.stateDir}/pins/blue.yml`)).toMatch(/calmswap\/app\/web:r1/)
    expect(h.out.join('')).toMatch(/release r1's images are kept from .*: nothing to build/)
    expect(h.ctx.state.load()).toMatchObject({ live: 'blue', release: 'r1' })
  })

  it('a release whose images are gone cannot be deployed again, and nothing is touched', async () => {
    h = await harness({ state: { live: 'blue', upstream: { color: 'blue', port: 1, backup: null } }, setup: blueLive })
    await expect(deploy(h.ctx, { release: 'r0' })).rejects.toThrow(/release r0 cannot be deployed again: its images are not kept/)
    expect(h.plan()).toEqual([])
  })
})
