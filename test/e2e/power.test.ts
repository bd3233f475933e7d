// A Pi loses power: dockerd restarted as a reboot would (calmswap killed with it), at each
// step of a deploy, after a finished deploy, after a rollback, and in pause mode. After each:
// exactly one color serves, one set of workers runs, one beat runs, `status` tells the
// truth, and `recover` and then the next deploy finish the job.
// make test runs a few steps; POWER_FULL=1 (make test-power) runs every one.
import { execFileSync } from 'node:child_process'
import { join } from 'node:path'
import { describe, expect, test } from 'vitest'
import { jsonDocument, ROOT, type Stack, useStack, waitFor } from './harness.ts'

let stack: Stack

useStack(import.meta.url, (s) => (stack = s))

const FULL = process.env.POWER_FULL === '1'
const STEPS = FULL ? ['build', 'shared', 'pause-workers', 'up-core', 'health', 'switch', 'up-rest', 'verify'] : ['health', 'up-rest']

function restartDaemon() {
  execFileSync(join(ROOT, 'provision/restart-dockerd.sh'), { stdio: 'pipe', timeout: 180_000 })
}

async function statusReport() {
  const r = await stack.run('status', ['--json'])
  expect(r.code, r.stderr).toBe(0)
  return jsonDocument(r.stdout)
}

/** One color serves, with the only running workers and the only beat; status agrees and sees no problem. */
async function expectWhole() {
  const color = await waitFor(
    'one color to serve through the proxy',
    async () => {
      const c = await stack.servingColor(5).catch(() => '')
      return c === 'blue' || c === 'green' ? c : ''
    },
    60_000,
    500,
  )
  const other = color === 'blue' ? 'green' : 'blue'
  expect((await stack.states(color as 'blue')).worker).toBe('running')
  expect((await stack.states(other as 'blue')).worker ?? 'none').not.toBe('running')
  await waitFor('exactly one beat', async () => (await stack.runningBeats()).join() === stack.project(color as 'blue'), 30_000, 500)
  const s = await statusReport()
  expect(s.live).toBe(color)
  expect(s.problems).toEqual([])
  return color
}

/** After a restart: status says what is wrong (or nothing when nothing is), recover puts it right, a deploy goes on. */
async function recoverAndGoOn(expectProblems: boolean) {
  const before = await statusReport()
  if (expectProblems) expect(before.problems.length, JSON.stringify(before.problems)).toBeGreaterThan(0)
  const r = await stack.run('recover')
  expect(r.code, r.stderr).toBe(0)
  const serving = await expectWhole()
  const d = await stack.run('deploy')
  expect(d.code, d.stderr).toBe(0)
  expect(await expectWhole()).not.toBe(serving)
}

// E2E_NO_RESTART=1 skips this file: it restarts the Docker daemon (a daemon shared with other work).
describe.skipIf(process.env.E2E_NO_RESTART === '1').sequential('power cuts (dockerd restarted as a reboot would)', () => {
  test.each(STEPS)('during %s of a deploy', async (step) => {
    const bg = stack.spawn('deploy')
    await bg.waitForStderr(new RegExp(`▸ ${step}\\n`))
    // The power goes: calmswap with it, then the daemon.
    bg.kill('SIGKILL')
    await bg.done
    restartDaemon()
    await recoverAndGoOn(true)
  })

  test('after a finished deploy', async () => {
    restartDaemon()
    await recoverAndGoOn(false)
  })

  test.skipIf(!FULL)('after a rollback', async () => {
    expect((await stack.run('rollback')).code).toBe(0)
    restartDaemon()
    await recoverAndGoOn(false)
  })

  test('in pause mode: the frozen old workers come back running, and are frozen again', async () => {
    const d = await stack.run('deploy', [], { CALMSWAP_PAUSE_MODE: 'pause' })
    expect(d.code, d.stderr).toBe(0)
    const live = stack.state().live as 'blue' | 'green'
    const old = live === 'blue' ? 'green' : 'blue'
    expect((await stack.states(old)).worker).toBe('paused')
    restartDaemon()
    const s = await statusReport()
    expect(s.problems.join('\n')).toMatch(/should be frozen \(pause mode\) but run|workers of both colors run/)
    const r = await stack.run('recover', [], { CALMSWAP_PAUSE_MODE: 'pause' })
    expect(r.code, r.stderr).toBe(0)
    expect((await stack.states(old)).worker).toBe('paused')
    expect(await stack.runningBeats()).toEqual([stack.project(live)])
    expect(await stack.servingColor()).toBe(live)
  })
})
