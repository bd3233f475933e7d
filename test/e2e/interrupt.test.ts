// A deploy cut short: SIGTERM lands it in a safe state by itself; after SIGKILL the
// next deploy reports the interrupted run, takes over the dead lock and finishes.
import { existsSync, readFileSync } from 'node:fs'
import { describe, expect, test } from 'vitest'
import { describeLoad, jsonDocument, type Stack, useStack } from './harness.ts'

let stack: Stack

useStack(import.meta.url, (s) => (stack = s))

/** After any interruption: one color serves, with its worker, and at most one beat runs. */
async function expectSafe() {
  const reply = await stack.get('/')
  expect(reply.status).toBe(200)
  const serving = await stack.servingColor()
  expect(['blue', 'green']).toContain(serving)
  expect((await stack.states(serving as 'blue' | 'green')).worker).toBe('running')
  const beats = await stack.runningBeats()
  expect(beats.length).toBeLessThanOrEqual(1)
  expect(stack.state()).toMatchObject({ live: serving, journal: null })
  expect(existsSync(stack.lockFile()), 'lock released').toBe(false)
  return serving
}

async function signalAt(step: string, sig: NodeJS.Signals = 'SIGTERM') {
  expect(stack.state()).toMatchObject({ live: 'blue', journal: null })
  const load = stack.load({ rps: 20 })
  const bg = stack.spawn('deploy')
  await bg.waitForStderr(new RegExp(`▸ ${step}\\n`))
  bg.kill(sig)
  const r = await bg.done
  const stats = await load.stop()
  expect(r.signal, r.stderr).toBe(null)
  expect(r.code, r.stderr).toBe(1)
  expect(r.stderr).toMatch(new RegExp(`${sig}: finishing the current command, then landing in a safe state`))
  expect(r.stderr).toMatch(/rolled back; blue serves as before/)
  expect(stats.failed, describeLoad(stats)).toBe(0)
  expect(await expectSafe()).toBe('blue')
  expect(await stack.runningBeats()).toEqual([stack.project('blue')])
  expect((await stack.containers('green')).filter((c) => c.state === 'running')).toEqual([])
}

/** SIGKILLs a deploy when `step` starts, then runs deploy again: it must finish the job. */
async function sigkillAt(step: string, lastDone: string) {
  const from = stack.state().live as 'blue' | 'green'
  const to = from === 'blue' ? 'green' : 'blue'
  const bg = stack.spawn('deploy')
  await bg.waitForStderr(new RegExp(`▸ ${step}\\n`))
  bg.kill('SIGKILL')
  const killed = await bg.done
  expect(killed.signal).toBe('SIGKILL')

  // What the dead run left: a lock whose holder is gone and a journal of finished steps.
  expect(existsSync(stack.lockFile())).toBe(true)
  expect(stack.state().journal).toMatchObject({ op: 'deploy', from, to, pid: bg.pid })
  const status = await stack.run('status', ['--json'])
  expect(status.code, status.stderr).toBe(0)
  expect(jsonDocument(status.stdout)).toMatchObject({ lock: { pid: bg.pid, alive: false }, interrupted: { op: 'deploy', to } })
  // Something still serves in the meantime.
  expect((await stack.get('/')).status).toBe(200)

  const r = await stack.run('deploy')
  expect(r.code, r.stderr).toBe(0)
  expect(r.stderr).toMatch(new RegExp(`took over the lock of a deploy \\(pid ${bg.pid}\\) that is no longer running`))
  expect(r.stderr).toMatch(new RegExp(`an earlier deploy ${from} → ${to} \\(pid ${bg.pid}, .*\\) was interrupted after step "${lastDone}"`))
  expect(await expectSafe()).toBe(to)
  expect(await stack.states(to)).toEqual({ web: 'running', worker: 'running', beat: 'running' })
  expect(await stack.runningBeats()).toEqual([stack.project(to)])
  expect((await stack.states(from)).worker).not.toBe('running')
}

describe.sequential('interruption', () => {
  test('SIGTERM while up-core runs: the deploy rolls back and blue serves with its worker and one beat', async () => {
    await signalAt('up-core')
  })

  test('SIGTERM while up-rest runs: the deploy rolls back and blue serves with its worker and one beat', async () => {
    await signalAt('up-rest')
  })

  test('SIGHUP (an SSH session that drops) while the health check runs: rolled back like SIGTERM, nothing left frozen', async () => {
    await signalAt('health', 'SIGHUP')
    expect(await stack.states('blue')).toEqual({ web: 'running', worker: 'running', beat: 'running' })
  })

  test('a step script run by hand while a deploy holds the lock is refused and changes nothing', async () => {
    const bg = stack.spawn('deploy')
    await bg.waitForStderr(/▸ up-core\n/)
    const upstream = readFileSync(stack.upstreamFile(), 'utf8')
    const r = await stack.run('switch', ['--color', 'blue'])
    expect(r.code, r.stderr).toBe(1)
    expect(r.stderr).toMatch(new RegExp(`another deploy is running: pid ${bg.pid} `))
    expect(readFileSync(stack.upstreamFile(), 'utf8')).toBe(upstream)
    const d = await bg.done
    expect(d.code, d.stderr).toBe(0)
    expect(await expectSafe()).toBe('green')
    // Back to blue for the tests that follow.
    expect((await stack.run('deploy')).code).toBe(0)
  })

  test('SIGKILL during health: the next deploy reports the interrupted run, takes over the lock and finishes', async () => {
    await sigkillAt('health', 'up-core')
  })

  test('SIGKILL during up-rest, after the switch: the next deploy takes over and finishes', async () => {
    await sigkillAt('up-rest', 'switch')
  })
})
