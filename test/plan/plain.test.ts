// A plain project (`docker compose -p myproj up -d` from the same folder) already runs the
// app: a first deploy must not start a database on an empty volume beside it.
import { afterEach, describe, expect, it } from 'vitest'
import { deploy } from '../../lib/compose/deploy.ts'
import { ConfigError } from '../../lib/errors.ts'
import { type Harness, harness, type World } from './world.ts'

let h: Harness
afterEach(() => h?.close())

/** The model's redis gets a data volume, as a real stack's database has. */
const withData = (w: World) => {
  w.model.services.redis.volumes = [{ type: 'volume', source: 'data', target: '/data' }]
  w.model.volumes = { data: { name: 'app-blue_data' } }
}

describe('a first deploy beside a plain project', () => {
  it('is refused, naming the volume that holds the data and the exact lines that keep it', async () => {
    h = await harness({
      setup: (w, c) => {
        withData(w)
        for (const s of ['redis', 'web', 'worker']) w.set('myproj', s, 'running', { workingDir: c.projectDir, mounts: s === 'redis' ? 'myproj_data:/data,' : '' })
        w.volumes.add('myproj_data')
      },
    })
    const err = await deploy(h.ctx).catch((e) => e)
    expect(err).toBeInstanceOf(ConfigError)
    expect(err.message).toMatch(/redis: project myproj keeps its data in volume myproj_data \(\/data\); calmswap's shared project would mount app-shared_data, a new, empty volume/)
    expect(err.message).toMatch(/ {6}volumes:\n {8}data:\n {10}name: myproj_data/)
    expect(err.message).toMatch(/CALMSWAP_SHARED_PROJECT=myproj/)
    expect(h.plan()).toEqual([])
  })

  it('a plain project that runs the database on the very volume the shared project would mount: refused too (two servers, one data folder)', async () => {
    h = await harness({
      setup: (w, c) => {
        withData(w)
        w.model.volumes = { data: { name: 'myproj_data' } }
        w.set('myproj', 'redis', 'running', { workingDir: c.projectDir, mounts: 'myproj_data:/data,' })
      },
    })
    await expect(deploy(h.ctx)).rejects.toThrow(/project myproj runs redis: calmswap's shared project would start it again beside it/)
  })

  it.each([
    ['another calmswap stack on the same box', 'other-shared', undefined],
    ['a project of another folder', 'elsewhere', '/srv/another-app'],
  ])('%s is none of its business', async (_what, project, dir) => {
    h = await harness({ setup: (w, c) => (withData(w), w.set(project, 'redis', 'running', { workingDir: dir ?? c.projectDir, mounts: `${project}_data:/data,` })) })
    await deploy(h.ctx)
    expect(h.ctx.state.load().live).toBe('blue')
  })
})
