// The calm deploy on Docker Swarm, end to end on a real single-node swarm with the example
// stack, for what the plan tests' pretend Swarm cannot show: real task timing, routing through
// Docker's DNS, Celery's warm shutdown. A first deploy, a good deploy and a failing one under
// load, and Ctrl-C in the middle of one, each counted by what a calm deploy promises: no failed
// request through the proxy, never two beats across the swarm, every task enqueued executed.
import { request } from 'undici'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { beatPeak, describeLoad, events, jsonDocument, ROOT, type RunResult, startLoad, waitFor } from './harness.ts'
import { SwarmStack } from './swarm-harness.ts'

const stack = new SwarmStack()
/** A release label of this run only: it is also the image tag, on a daemon others use. */
const rel = (r: string) => `${stack.name}-${r}`

beforeAll(async () => {
  await stack.setUp(['r1', 'r2', 'r3', 'r4'].map(rel))
}, 600_000)
afterAll(() => stack.tearDown(), 180_000)

async function release(): Promise<string> {
  const res = await request(`${stack.proxyUrl}/health/`, { headers: { connection: 'close' }, headersTimeout: 5000, bodyTimeout: 5000 })
  return (JSON.parse(await res.body.text()) as { release: string }).release
}

/** A script run while 20 requests/s go through the proxy and beats are sampled across the swarm. */
async function underLoad(run: () => Promise<RunResult>) {
  const load = startLoad(`${stack.proxyUrl}/`, { rps: 20, bridge: true })
  const beats = stack.sampleBeats()
  const r = await run()
  const stats = await load.stop()
  return { r, stats, beats: beatPeak(await beats.stop()) }
}

/** Every task enqueued is executed: the stood-down workers lost none. */
async function noTaskLost() {
  await waitFor('the workers to execute every task enqueued', async () => (await stack.counter('executed')) >= (await stack.counter('enqueued')), 90_000, 1_000)
  expect(await stack.counter('executed')).toBe(await stack.counter('enqueued'))
}

/** Web, beat and worker all run the example app's image of release `r`. */
async function expectEveryServiceOn(r: string) {
  const image = [`calmswap-example-app:${rel(r)}`]
  expect(await stack.images()).toMatchObject({ web: image, beat: image, worker: image })
}

/** The newest line of `history --json`. */
async function lastHistory() {
  return (await stack.run('history', ['--json'])).stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l))
    .at(-1)
}

const stepsOf = (r: RunResult) =>
  events(r)
    .filter((e) => e.type === 'step-end')
    .map((e) => `${e.step}${e.ok ? '' : ' ✗'}`)

describe.sequential('swarm mode', () => {
  test('first deploy: the stack comes up step by step and serves', async () => {
    const r = await stack.run('deploy', ['--json'], { CALMSWAP_RELEASE: rel('r1') })
    expect(r.code, r.stderr).toBe(0)
    expect(stepsOf(r)).toEqual(['shared', 'stand-down', 'web', 'singletons', 'workers', 'verify'])
    await stack.findProxy()
    expect(await release()).toBe(rel('r1'))
    await expectEveryServiceOn('r1')
    await waitFor('beat to tick', async () => (await stack.counter('ticks')) > 0, 30_000)
  })

  test('doctor, status and a dry run see the swarm; the dry run changes nothing', async () => {
    const doctor = await stack.run('doctor', ['--json'])
    const checks = jsonDocument(doctor.stdout) as { name: string; ok: boolean }[]
    expect(
      checks.filter((c) => !c.ok),
      doctor.stdout,
    ).toEqual([])
    expect(checks.map((c) => c.name)).toEqual(expect.arrayContaining(['swarm', 'stack file', 'nodes', 'cpu pressure per node', 'web rollback order']))

    const status = jsonDocument((await stack.run('status', ['--json'])).stdout)
    expect(status).toMatchObject({ engine: 'swarm', stack: stack.name, release: rel('r1'), swarm: { state: 'active', manager: true } })
    expect(status.nodes).toHaveLength(1)
    expect(status.services.map((s: { service: string }) => s.service).sort()).toEqual(['beat', 'proxy', 'redis', 'web', 'worker'])
    expect(status.services.find((s: { service: string }) => s.service === 'web')).toMatchObject({ running: 1, desired: 1 })

    const before = await stack.images()
    const dry = await stack.run('deploy', ['--dry-run'], { CALMSWAP_RELEASE: rel('r2'), CALMSWAP_PROXY_URL: stack.proxyUrl })
    expect(dry.code, dry.stderr).toBe(0)
    expect(dry.stdout).toMatch(new RegExp(`^docker service scale --detach ${stack.name}_beat=0 ${stack.name}_worker=0$`, 'm'))
    expect(dry.stdout.match(/docker stack deploy --resolve-image never --compose-file - /g)).toHaveLength(3)
    expect(await stack.images()).toEqual(before)
  })

  test('good deploy under load: no failed request, one beat at a time, no task lost', async () => {
    const { r, stats, beats } = await underLoad(() =>
      stack.run('deploy', ['--json'], {
        CALMSWAP_RELEASE: rel('r2'),
        CALMSWAP_CPU_CALM: '60',
        CALMSWAP_CPU_WAIT: '3s',
        CALMSWAP_NODE_PSI: '/sys/fs/cgroup/unified/{node}/cpu.pressure',
      }),
    )
    expect(r.code, r.stderr).toBe(0)
    expect(stats.failed, describeLoad(stats)).toBe(0)
    expect(stats.ok).toBeGreaterThan(100)
    expect(beats.max, JSON.stringify(beats.doubled)).toBeLessThanOrEqual(1)
    expect(stepsOf(r)).toEqual(['shared', 'stand-down', 'web', 'singletons', 'workers', 'verify'])
    // Each start waited for a calm CPU on its node (or said why it could not read one).
    expect(
      events(r)
        .filter((e) => e.type === 'calm')
        .map((e) => e.step.split(' ')[0]),
    ).toEqual(['the', 'beat', 'worker'])
    expect(await release()).toBe(rel('r2'))
    await expectEveryServiceOn('r2')
    await noTaskLost()
    expect(await lastHistory()).toMatchObject({ op: 'deploy', result: 'ok', release: rel('r2'), images: { web: expect.stringContaining(rel('r2')) } })
  })

  test('failing deploy under load (web fails its healthcheck): Swarm rolls the web back, calmswap the rest; nothing fails', async () => {
    const { r, stats, beats } = await underLoad(() => stack.run('deploy', ['--json'], { CALMSWAP_RELEASE: rel('r3'), APP_FAULT: 'health500' }))
    expect(r.code, r.stderr).toBe(1)
    expect(r.stderr).toMatch(/Swarm rolled back the update of web/)
    expect(stats.failed, describeLoad(stats)).toBe(0)
    expect(beats.max, JSON.stringify(beats.doubled)).toBeLessThanOrEqual(1)
    expect(await release()).toBe(rel('r2'))
    await waitFor('every service back on r2', async () => !JSON.stringify(await stack.images()).includes(rel('r3')), 30_000)
    await expectEveryServiceOn('r2')
    await noTaskLost()
    expect(await lastHistory()).toMatchObject({ op: 'deploy', result: 'rolled-back', release: rel('r3') })
  })

  test('Ctrl-C during the workers step: every service goes back, one beat at a time', async () => {
    const { r, stats, beats } = await underLoad(async () => {
      const { spawn } = await import('node:child_process')
      const child = spawn(process.execPath, [`${ROOT}/dist/deploy.mjs`], {
        env: stack.env({ CALMSWAP_RELEASE: rel('r4'), CALMSWAP_PROXY_URL: stack.proxyUrl }),
        stdio: ['ignore', 'pipe', 'pipe'],
      })
      let stderr = ''
      child.stderr.on('data', (d) => {
        stderr += d
        if (/▸ workers/.test(stderr) && !child.killed) child.kill('SIGINT')
      })
      const code = await new Promise<number | null>((res) => child.on('close', res))
      return { code, signal: null, stdout: '', stderr }
    })
    expect(r.code, r.stderr).toBe(1)
    expect(r.stderr).toMatch(/was interrupted \(SIGINT\) and every service was rolled back/)
    expect(stats.failed, describeLoad(stats)).toBe(0)
    expect(beats.max, JSON.stringify(beats.doubled)).toBeLessThanOrEqual(1)
    expect(await release()).toBe(rel('r2'))
    await expectEveryServiceOn('r2')
    await noTaskLost()
  })
})
