// Issue 13, the watch: a release whose health check passes and that still fails, under
// load through the proxy, is rolled back by the watch on its own; good releases, noisy or
// not, never are; Ctrl-C ends the watch and keeps the release. The counts printed here
// (failed requests, their share) are the ones README quotes; bench/watch.ts measures the
// timing. The worker that crashes on its first task: watch-worker.test.ts.
import { existsSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, test } from 'vitest'
import { proxyLogDir } from '../../lib/config.ts'
import { beatPeak, describeLoad, docker, events, jsonDocument, type LoadStats, type RunResult, type Stack, stepResults, useStack, waitFor } from './harness.ts'

let stack: Stack

// Its own image tag: the other e2e files build `e2e` from the same compose file.
useStack(import.meta.url, (s) => (stack = s), { stack: { env: () => ({ CALMSWAP_RELEASE: 'e2e-watch' }) } })

// No warm-up in the bad releases' cases: it would stop a release whose every page fails
// before the switch, before the watch has anything to judge (that case is its own test).
const WINDOW = { CALMSWAP_WATCH: '60s', CALMSWAP_WARMUP: '' }

/** A deploy under 20 req/s with the beat sampler on; what the load saw from the deploy's start. */
async function deployUnderLoad(env: Record<string, string>): Promise<{ r: RunResult; stats: LoadStats }> {
  const load = stack.load({ rps: 20 })
  const sampler = stack.sampleBeats()
  const r = await stack.run('deploy', ['--json'], env)
  const { doubled } = beatPeak(await sampler.stop())
  const stats = await load.stop()
  expect(doubled, 'two beats ran at once').toEqual([])
  return { r, stats }
}

/** The last history entry (history --json prints one JSON object a line). */
async function lastHistory(): Promise<any> {
  return jsonDocument((await stack.run('history', ['--json'])).stdout.trim().split('\n').at(-1)!)
}

const at = (r: RunResult, type: string, step: string) => Date.parse(events(r).find((e) => e.type === type && e.step === step)?.at ?? '')

/** The rollback the watch started: blue serves with its workers and one beat, green is stopped. */
async function expectWatchRolledBack(r: RunResult, reason: RegExp) {
  expect(r.code, r.stderr).toBe(1)
  // Judged from the switch on: a bad verdict can come while up-rest still runs.
  expect(stepResults(r)).toMatchObject({ switch: true, 'rollback to blue': true })
  expect(Object.values(stepResults(r)).filter((ok) => !ok)).toHaveLength(1)
  expect(r.stderr).toMatch(reason)
  expect(r.stderr).toMatch(/deploy of e2e-watch to green failed and was rolled back; blue serves as before/)
  expect(await stack.servingColor()).toBe('blue')
  expect(await stack.states('blue')).toEqual({ web: 'running', worker: 'running', beat: 'running' })
  expect((await stack.containers('green')).filter((c) => c.state === 'running' || c.state === 'restarting')).toEqual([])
  expect(await stack.runningBeats()).toEqual([stack.project('blue')])
  expect(stack.state()).toMatchObject({ live: 'blue', previous: 'green', journal: null, upstream: { color: 'blue', backup: null } })
  expect(await lastHistory()).toMatchObject({ op: 'deploy', result: 'rolled-back', watch: [{ phase: 'watch', verdict: 'bad' }] })
}

describe.sequential('watch', () => {
  test('doctor finds the proxy log the watch reads', async () => {
    const r = await stack.run('doctor', ['--json'], WINDOW)
    const checks = jsonDocument(r.stdout)
    expect(
      checks.find((c: { name: string }) => c.name === 'watch'),
      r.stdout,
    ).toMatchObject({ ok: true, detail: expect.stringMatching(/proxy-log\/access\.jsonl/) })
  })

  test("the proxy's log is beside the state folder, private, and written by nginx workers that are not root", async () => {
    const dir = proxyLogDir(stack.stateDir)
    expect(statSync(dir).mode & 0o777).toBe(0o700)
    expect(statSync(stack.stateDir).mode & 0o777).toBe(0o700)
    expect(existsSync(join(stack.stateDir, 'proxy-log')), 'nothing of the proxy in the state folder').toBe(false)
    // Docker's ps needs the pid column; the uid is numeric, as the host sees it.
    const top = await docker(['top', stack.container('shared', 'proxy'), '-o', 'pid,uid,args'])
    const rows = top.stdout
      .split('\n')
      .slice(1)
      .map((l) => /^\d+\s+(\d+)\s+(.*)$/.exec(l.trim())?.slice(1) ?? [])
    const uidOf = (what: RegExp) => rows.filter(([, args]) => what.test(args ?? '')).map(([uid]) => uid)
    expect(uidOf(/^nginx: master/), top.stdout).toEqual(['0'])
    const workers = uidOf(/^nginx: worker/)
    expect(workers.length, top.stdout).toBeGreaterThan(0)
    expect(
      workers.filter((u) => u === '0'),
      top.stdout,
    ).toEqual([])
  })

  test('a release whose /health/ passes while 30% of other requests fail is rolled back by the watch, within the window', async () => {
    const { r, stats } = await deployUnderLoad({ ...WINDOW, APP_FAULT: 'fail:30' })
    await expectWatchRolledBack(r, /the watch rolls green back: \d+ of \d+ requests \(\d+%\) answered 5xx, above the 5% limit/)
    // The failures are green's 500s, nothing else: no connection errors around the switches.
    expect(stats.errors, describeLoad(stats)).toEqual({})
    expect(Object.keys(stats.statuses)).toEqual(['500'])
    const switched = at(r, 'step-end', 'switch')
    const back = at(r, 'step-end', 'rollback to blue')
    const exposed = stats.log.filter((x) => x.t >= switched - 1000 && x.t <= back)
    console.log(
      `fail:30, no canary: ${stats.failed} failed of ${stats.sent} requests during the deploy (${((100 * stats.failed) / stats.sent).toFixed(1)}%); ` +
        `${((100 * stats.failed) / exposed.length).toFixed(1)}% of the ${exposed.length} sent between the switch and the end of the rollback (${back - switched} ms)`,
    )
    expect(stats.failed).toBeGreaterThan(0)
    // Within the window: rolled back long before 60 s of it had passed.
    expect(back - switched).toBeLessThan(60_000)
  })

  test("a release whose pages all answer 500, at 0 real requests/s: rolled back on the watch's own requests", async () => {
    const sampler = stack.sampleBeats()
    const r = await stack.run('deploy', ['--json'], { ...WINDOW, APP_FAULT: 'fail:100' })
    expect(beatPeak(await sampler.stop()).doubled, 'two beats ran at once').toEqual([])
    await expectWatchRolledBack(r, /the watch rolls green back: 20 of 20 of the watch's own requests \(100%\) answered 5xx/)
    const w = (await lastHistory()).watch[0]
    expect(w.counts.green.requests).toBe(0)
    console.log(
      `fail:100 at 0 req/s: rolled back ${at(r, 'step-end', 'rollback to blue') - at(r, 'step-end', 'switch')} ms after the switch, on ${w.probes.green.requests} requests of its own`,
    )
  })

  test('a release whose every page answers 500 is stopped by the warm-up, before the switch: no request of 20/s fails', async () => {
    const { r, stats } = await deployUnderLoad({ CALMSWAP_WATCH: '60s', APP_FAULT: 'fail:100' })
    expect(r.code, r.stderr).toBe(1)
    expect(r.stderr).toMatch(/the new green web passed its health check, but http:\/\/127\.0\.0\.1:\d+\/ answered 500 to all 3 warm-up requests/)
    expect(stepResults(r)).toMatchObject({ health: false })
    expect(stepResults(r)).not.toHaveProperty('switch')
    expect(stats.failed, describeLoad(stats)).toBe(0)
    expect(stats.sent).toBeGreaterThan(20)
    expect(await stack.servingColor()).toBe('blue')
    expect(await stack.states('blue')).toEqual({ web: 'running', worker: 'running', beat: 'running' })
    expect(await stack.runningBeats()).toEqual([stack.project('blue')])
    console.log(`fail:100 with the warm-up: stopped before the switch; ${describeLoad(stats)}`)
  })

  test('good releases, clean and with a 1% 5xx baseline, are never rolled back: 4 deploys under load', async () => {
    const verdicts: string[] = []
    for (const fault of ['fail:1', '', 'fail:1', '']) {
      const { r, stats } = await deployUnderLoad({ CALMSWAP_WATCH: '10s', APP_FAULT: fault })
      expect(r.code, r.stderr).toBe(0)
      const to = events(r).find((e) => e.type === 'deployed')!.to as string
      const w = (await lastHistory()).watch[0]
      verdicts.push(`${fault || 'clean'}: ${w.verdict}, ${to} ${w.counts[to].requests} requests ${w.counts[to].errors} 5xx, ${w.cpuMs} ms CPU`)
      expect(w).toMatchObject({ phase: 'watch', verdict: 'ok', log: true })
      expect(w.counts[to].requests).toBeGreaterThanOrEqual(20)
      // Before the switch the previous release answers, with its own 1% when it had them.
      if (!fault) expect(stats.log.filter((x) => x.color === to && x.status >= 500).length, describeLoad(stats)).toBe(0)
      expect(stats.errors, describeLoad(stats)).toEqual({})
      expect(await stack.servingColor(3, '/health/')).toBe(to)
    }
    console.log(`good releases: ${verdicts.join('; ')}`)
  })

  test('Ctrl-C during the watch ends the watch and keeps the release; status shows the watch meanwhile', async () => {
    const from = stack.state().live as 'blue' | 'green'
    const to = from === 'blue' ? 'green' : 'blue'
    const load = stack.load({ rps: 10 })
    const bg = stack.spawn('deploy', [], { CALMSWAP_WATCH: '5m' })
    await bg.waitForStderr(/watching (blue|green) for 300s/)
    const status = await waitFor(
      'status to show the watch',
      async () => {
        const s = jsonDocument((await stack.run('status', ['--json'])).stdout)
        return s.watch?.requests > 0 ? s : null
      },
      20_000,
      1000,
    )
    expect(status.watch).toMatchObject({ phase: 'watch', color: to, errors: 0 })
    expect((await stack.run('status')).stderr + (await stack.run('status')).stdout).toMatch(new RegExp(`watch: +${to} \\(watch\\): \\d+s of 300s left, \\d+ requests, 0 5xx`))
    bg.kill('SIGINT')
    const r = await bg.done
    const stats = await load.stop()
    expect(r.code, r.stderr).toBe(0)
    expect(r.stderr).toMatch(new RegExp(`watch stopped by SIGINT after .*: e2e-watch stays live on ${to}`))
    expect(stats.log.filter((x) => x.color === to && x.status >= 500).length, describeLoad(stats)).toBe(0)
    expect(stats.errors, describeLoad(stats)).toEqual({})
    expect(await stack.servingColor()).toBe(to)
    expect(stack.state()).toMatchObject({ live: to, previous: from, journal: null })
    expect(await lastHistory()).toMatchObject({ result: 'ok', watch: [{ verdict: 'stopped' }] })
    // The proxy stopped logging: nothing more is written once the watch ended.
    const upstream = (await import('node:fs')).readFileSync(stack.upstreamFile(), 'utf8')
    expect(upstream).toContain('map $host $calmswap_log { default "0"; }')
  })
})
