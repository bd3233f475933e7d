// The watch and the canary against the pretend host: what they change, in what order, and
// what a bad verdict, a dying container or Ctrl-C lead to. The proxy's log is a real file
// the test appends to; the container events come from the world's stream.
import { appendFileSync, mkdirSync, rmSync } from 'node:fs'
import { dirname } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { deploy } from '../../lib/compose/deploy.ts'
import { readHistory } from '../../lib/history.ts'
import { BLUE_TO_GREEN, BOOT_GREEN, blueLive, cutShort, type Harness, harness, SWITCH, World } from './world.ts'

let h: Harness
let writer: NodeJS.Timeout | undefined
afterEach(() => {
  clearInterval(writer)
  return h?.close()
})

/** nginx's log of `n` requests a tick to `port`, `failPct` of them 500. */
function proxyLog(h: Harness, port: () => number, failPct: number, n = 10) {
  const file = h.config.watch.log
  mkdirSync(dirname(file), { recursive: true })
  let i = 0
  writer = setInterval(() => {
    const lines = Array.from({ length: n }, () => {
      const status = i++ % 100 < failPct ? 500 : 200
      return JSON.stringify({ msec: Date.now() / 1000, status, upstream_addr: `127.0.0.1:${port()}`, upstream_status: String(status), request_uri: '/' })
    })
    appendFileSync(file, `${lines.join('\n')}\n`)
  }, 100)
}

/** The upstream files written, in order (not the pins). */
const upstreams = (h: Harness) => h.exec.events.flatMap((e) => ('write' in e && e.write === h.config.proxy.upstreamFile ? [e.content] : []))

const watchEnv = { CALMSWAP_WATCH: '2s', CALMSWAP_WATCH_MIN_REQUESTS: '20' }
const ROLLBACK_TO_BLUE = ['write', 'reload', 'quiesce app-green-worker-1', 'green stop worker beat', 'start app-blue-worker-1 app-blue-beat-1', 'green stop web']

describe('watch', () => {
  it('a good release: watched, the proxy stops logging, history keeps the verdict', async () => {
    h = await harness({ state: { live: 'blue' }, setup: blueLive, env: watchEnv })
    proxyLog(h, () => h.config.ports.green, 0)
    await deploy(h.ctx)
    expect(h.plan()).toEqual([...BLUE_TO_GREEN, 'write', 'reload'])
    const files = upstreams(h)
    // Logging on from the switch, off once the watch is over.
    expect(files.at(-2)).toContain('map $host $calmswap_log { default "1"; }')
    expect(files.at(-1)).toContain('map $host $calmswap_log { default "0"; }')
    expect(files.at(-1)).toContain(`server 127.0.0.1:${h.config.ports.blue} backup;`)
    const [entry] = readHistory(h.config.stateDir)
    expect(entry).toMatchObject({ result: 'ok', watch: [{ phase: 'watch', color: 'green', verdict: 'ok', log: true }] })
    expect(entry!.watch![0]!.counts.green.requests).toBeGreaterThan(20)
    expect(entry!.watch![0]!.counts.green.errors).toBe(0)
    expect(h.ctx.state.load()).toMatchObject({ live: 'green', journal: null })
    // One events stream for the whole watch, not a call per sample.
    expect(h.exec.calls.filter((c) => c.argv[1] === 'events')).toHaveLength(1)
  })

  it('a release answering 30% 5xx is rolled back, and the error says why with the numbers', async () => {
    h = await harness({ state: { live: 'blue' }, setup: blueLive, env: watchEnv })
    // Bad traffic from the watch step on: a verdict during up-rest would cut the plan short.
    h.world.failOn = (a) => void (a[1] === 'start' && a.includes('app-green-worker-1') && proxyLog(h, () => h.config.ports.green, 30))
    await expect(deploy(h.ctx)).rejects.toThrow(/rolled back; blue serves as before/)
    expect(h.plan()).toEqual([...BLUE_TO_GREEN, ...ROLLBACK_TO_BLUE])
    const [entry] = readHistory(h.config.stateDir)
    expect(entry).toMatchObject({ result: 'rolled-back', watch: [{ phase: 'watch', verdict: 'bad' }] })
    expect(entry!.error).toMatch(
      /the watch rolls green back: \d+ of \d+ requests \(\d+%\) answered 5xx, above the 5% limit \(99% sure it is at least \d+(\.\d)?%\), [\d.]+m?s into the watch/,
    )
    expect(h.ctx.state.load()).toMatchObject({ live: 'blue', previous: 'green', journal: null })
    expect(h.world.state('app-blue', 'worker')).toBe('running')
    expect(h.world.state('app-blue', 'beat')).toBe('running')
    expect(h.world.state('app-green', 'beat')).toBe('exited')
  })

  it('a worker that dies during the watch rolls the release back', async () => {
    h = await harness({ state: { live: 'blue' }, setup: blueLive, env: { ...watchEnv, CALMSWAP_WATCH: '30s' } })
    h.world.events['app-green'] = [{ afterMs: 300, line: World.event('app-green', 'worker', 'die', { exitCode: '137' }) }]
    await expect(deploy(h.ctx)).rejects.toThrow(/rolled back/)
    expect(readHistory(h.config.stateDir)[0]!.error).toMatch(/the watch rolls green back: app-green-worker-1 exited \(code 137\) \d+ms into the watch/)
    expect(h.plan().slice(-ROLLBACK_TO_BLUE.length)).toEqual(ROLLBACK_TO_BLUE)
  })

  it('Ctrl-C before the watch step (during up-rest, while traffic is judged) still rolls back', async () => {
    const ac = new AbortController()
    h = await harness({ state: { live: 'blue' }, setup: blueLive, env: { ...watchEnv, CALMSWAP_WATCH: '1m' } })
    h.world.slowStop = 2000
    const t = setInterval(() => h.ctx.state.load().journal?.current === 'up-rest' && ac.abort('SIGINT'), 50)
    await expect(deploy(h.ctx.withSignal(ac.signal)).finally(() => clearInterval(t))).rejects.toThrow(/rolled back/)
    expect(readHistory(h.config.stateDir)[0]).toMatchObject({ result: 'interrupted', watch: [{ verdict: 'stopped' }] })
  })

  it('a bad share during up-rest stops it: the deploy rolls back then, not after the workers’ check', async () => {
    h = await harness({ state: { live: 'blue' }, setup: blueLive, env: { ...watchEnv, CALMSWAP_STAY_UP: '20s' } })
    // The new worker logs no ready line, so its check would take CALMSWAP_STAY_UP; meanwhile
    // green fails every request.
    h.world.silent.add('worker')
    proxyLog(h, () => h.config.ports.green, 100)
    await expect(deploy(h.ctx)).rejects.toThrow(/rolled back/)
    const [entry] = readHistory(h.config.stateDir)
    expect(entry).toMatchObject({ result: 'rolled-back', watch: [{ phase: 'watch', verdict: 'bad' }] })
    expect(entry!.error).toMatch(/the watch rolls green back: \d+ of \d+ requests \(100%\) answered 5xx/)
    expect(entry!.steps.map((s) => [s.step, s.ok])).toContainEqual(['up-rest', false])
    expect(entry!.ms).toBeLessThan(20_000)
  })

  it('Ctrl-C during the watch ends the watch and keeps the release', async () => {
    const ac = new AbortController()
    h = await harness({ state: { live: 'blue' }, setup: blueLive, env: { ...watchEnv, CALMSWAP_WATCH: '1m' } })
    const ctx = h.ctx.withSignal(ac.signal)
    proxyLog(h, () => h.config.ports.green, 0)
    // Once the watch step runs (traffic is judged since the switch), the operator presses Ctrl-C.
    const t = setInterval(() => h.ctx.state.load().journal?.current === 'watch' && ac.abort('SIGINT'), 50)
    await deploy(ctx).finally(() => clearInterval(t))
    expect(h.plan()).toEqual([...BLUE_TO_GREEN, 'write', 'reload'])
    expect(h.ctx.state.load()).toMatchObject({ live: 'green', previous: 'blue', journal: null })
    expect(readHistory(h.config.stateDir)[0]).toMatchObject({ result: 'ok', watch: [{ verdict: 'stopped', reason: expect.stringMatching(/^stopped by SIGINT after/) }] })
    expect(h.out.join('')).toMatch(/watch stopped by SIGINT after .*: r2 stays live on green, not judged any further/)
  })

  it('no watch on a first deploy: there is nothing to go back to', async () => {
    h = await harness({ env: watchEnv })
    await deploy(h.ctx)
    expect(h.exec.calls.some((c) => c.argv[1] === 'events')).toBe(false)
  })

  it('no proxy log: judged by its containers, and it says so', async () => {
    h = await harness({ state: { live: 'blue' }, setup: blueLive, env: { ...watchEnv, CALMSWAP_WATCH: '1s' } })
    await deploy(h.ctx)
    expect(h.out.join('')).toMatch(/no proxy log at .*access\.jsonl \(README: Proxy\): judging green's containers only/)
    expect(readHistory(h.config.stateDir)[0]).toMatchObject({ result: 'ok', watch: [{ verdict: 'ok', log: false }] })
  })

  it('the log replaced by a folder mid-watch: no crash, one warning, judged by its containers', async () => {
    h = await harness({ state: { live: 'blue' }, setup: blueLive, env: watchEnv })
    proxyLog(h, () => h.config.ports.green, 0)
    const file = h.config.watch.log
    const swap = setInterval(() => {
      if (!h.exec.calls.some((c) => c.argv[1] === 'events')) return
      clearInterval(swap)
      clearInterval(writer)
      rmSync(file)
      mkdirSync(file)
    }, 200)
    await deploy(h.ctx).finally(() => clearInterval(swap))
    const warnings = h.out.join('').match(/is a folder \(README: Proxy\): the watch judges the containers only from now on/g)
    expect(warnings).toHaveLength(1)
    expect(readHistory(h.config.stateDir)[0]).toMatchObject({ result: 'ok', watch: [{ verdict: 'ok', log: false }] })
  })

  it('status sees the watch in the journal while it runs', async () => {
    h = await harness({ state: { live: 'blue' }, setup: blueLive, env: { ...watchEnv, CALMSWAP_WATCH: '1500ms' } })
    proxyLog(h, () => h.config.ports.green, 0)
    const seen: unknown[] = []
    const t = setInterval(() => seen.push(h.ctx.state.load().journal?.watch), 100)
    await deploy(h.ctx).finally(() => clearInterval(t))
    expect(seen).toContainEqual(expect.objectContaining({ phase: 'watch', color: 'green', requests: expect.any(Number), errors: 0 }))
  })
})

describe('canary', () => {
  const canaryEnv = { ...watchEnv, CALMSWAP_WATCH: '0', CALMSWAP_CANARY: '10%,50%', CALMSWAP_CANARY_HOLD: '1s', CALMSWAP_WATCH_MIN_REQUESTS: '5' }
  // The old workers come back for the canary: its beat exited on its SIGTERM; a start brings it back.
  const RESUME_BLUE = ['docker wait id-app-blue-beat-1', 'unpause app-blue-worker-1', 'start app-blue-beat-1']

  it('a new beat left running by a run cut short before the canary was configured stops before the old beat starts again', async () => {
    // Cut short after the health step: this run does not create (recreate) the workers again.
    const journal = cutShort(['build', 'shared', 'jobs', 'pause-workers', 'up-core', 'health'])
    h = await harness({
      state: { live: 'blue', journal },
      env: canaryEnv,
      setup: (w) => {
        blueLive(w)
        w.set('app-blue', 'worker', 'paused')
        w.set('app-blue', 'beat', 'exited')
        w.set('app-green', 'web', 'running')
        w.set('app-green', 'beat', 'running')
      },
    })
    proxyLog(h, () => h.config.ports.green, 0)
    await deploy(h.ctx)
    const plan = h.plan()
    expect(plan.indexOf('stop app-green-beat-1')).toBeGreaterThan(-1)
    expect(plan.indexOf('stop app-green-beat-1')).toBeLessThan(plan.indexOf('start app-blue-beat-1'))
  })

  it('steps through the shares with the old workers running, then promotes as any deploy switches', async () => {
    h = await harness({ state: { live: 'blue' }, setup: blueLive, env: canaryEnv })
    proxyLog(h, () => h.config.ports.green, 0)
    await deploy(h.ctx)
    expect(h.plan()).toEqual([
      ...BOOT_GREEN,
      ...RESUME_BLUE,
      'write',
      'reload',
      'write',
      'reload',
      // Promotion: frozen and stopped again, as before any switch.
      'pause app-blue-worker-1',
      'kill SIGTERM app-blue-beat-1',
      ...SWITCH,
      // Beside the switch, the old beat waited for and the new one started. No drain beside
      // the boot (the canary ran the old workers again): it runs after the switch, before the
      // new worker starts.
      'docker wait id-app-blue-beat-1',
      'start app-green-beat-1',
      'unpause app-blue-worker-1',
      'quiesce app-blue-worker-1',
      'kill SIGTERM app-blue-worker-1',
      'start app-green-worker-1',
      'docker wait id-app-blue-worker-1',
    ])
    const files = upstreams(h)
    expect(files[0]).toMatch(new RegExp(`server 127.0.0.1:${h.config.ports.green} weight=10;\\n {2}server 127.0.0.1:${h.config.ports.blue} weight=90;`))
    expect(files[1]).toContain('weight=50;')
    expect(files[2]).toContain(`server 127.0.0.1:${h.config.ports.blue} backup;`)
    expect(readHistory(h.config.stateDir)[0]!.watch!.map((w) => [w.phase, w.verdict])).toEqual([
      ['canary 10%', 'ok'],
      ['canary 50%', 'ok'],
    ])
  })

  it('a bad canary: traffic all back to blue, whose workers never stopped; no green worker ever started', async () => {
    h = await harness({ state: { live: 'blue', upstream: { color: 'blue', port: 1, backup: null } }, setup: blueLive, env: canaryEnv })
    proxyLog(h, () => h.config.ports.green, 100)
    await expect(deploy(h.ctx)).rejects.toThrow(/rolled back; blue serves as before/)
    // The canary's share, then all back to blue.
    expect(h.plan()).toEqual([...BOOT_GREEN, ...RESUME_BLUE, 'write', 'reload', 'write', 'reload', 'green stop web'])
    expect(h.plan().filter((x) => /start app-green|stop app-blue|kill .*blue/.test(x))).toEqual(['kill SIGTERM app-blue-beat-1'])
    expect(readHistory(h.config.stateDir)[0]!.error).toMatch(/the canary at 10% rolls green back: \d+ of \d+ requests \(100%\) answered 5xx/)
    expect(h.ctx.state.load()).toMatchObject({ live: 'blue', journal: null, upstream: { color: 'blue', backup: null } })
    expect(h.ctx.state.load().upstream).not.toHaveProperty('share')
    expect([h.world.state('app-blue', 'worker'), h.world.state('app-blue', 'beat')]).toEqual(['running', 'running'])
  })

  it('Ctrl-C during a canary step rolls back: the release was never promoted', async () => {
    const ac = new AbortController()
    h = await harness({ state: { live: 'blue' }, setup: blueLive, env: { ...canaryEnv, CALMSWAP_CANARY_HOLD: '1m' } })
    const t = setInterval(() => h.exec.calls.some((c) => c.argv[1] === 'events') && ac.abort('SIGINT'), 50)
    await expect(deploy(h.ctx.withSignal(ac.signal)).finally(() => clearInterval(t))).rejects.toThrow(/rolled back/)
    expect(h.ctx.state.load()).toMatchObject({ live: 'blue' })
    expect(readHistory(h.config.stateDir)[0]).toMatchObject({ result: 'interrupted' })
  })

  it('the canary web dying rolls back at once', async () => {
    h = await harness({ state: { live: 'blue' }, setup: blueLive, env: { ...canaryEnv, CALMSWAP_CANARY_HOLD: '1m' } })
    h.world.events['app-green'] = [{ afterMs: 200, line: World.event('app-green', 'web', 'die', { exitCode: '1' }) }]
    await expect(deploy(h.ctx)).rejects.toThrow(/rolled back/)
    expect(readHistory(h.config.stateDir)[0]!.error).toMatch(/the canary at 10% rolls green back: app-green-web-1 exited \(code 1\)/)
  })
})
