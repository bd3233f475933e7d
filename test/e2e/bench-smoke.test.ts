// The benchmark's smoke mode on real Docker: one strategy (calmswap-stop), a short run.
// Checks that the run finishes, leaves nothing behind and writes results with sane values;
// the targets themselves are the full bench's business (make bench), not this test's.
import { execFile, execFileSync } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync } from 'node:fs'
import { cpus, tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..')

const dockerReachable = (() => {
  try {
    execFileSync('docker', ['info', '--format', '{{.ServerVersion}}'], { stdio: 'ignore', timeout: 15_000 })
    return true
  } catch {
    return false
  }
})()

function runSmoke(out: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((done) =>
    execFile(process.execPath, ['--import', 'tsx', 'bench/bench.ts', '--smoke', '--out', out], { cwd: ROOT, timeout: 270_000, maxBuffer: 16 << 20 }, (err, stdout, stderr) =>
      done({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr }),
    ),
  )
}

const num = (v: unknown) => typeof v === 'number' && Number.isFinite(v)

describe.skipIf(!dockerReachable)('make bench --smoke', () => {
  it('deploys, rolls back and reports every figure', async () => {
    expect(existsSync(join(ROOT, 'dist/deploy.mjs')), 'dist/deploy.mjs is missing: node build.mjs').toBe(true)
    const out = mkdtempSync(join(tmpdir(), 'calmswap-bench-smoke-'))
    const run = await runSmoke(out)
    expect(run.code, `bench exited ${run.code}; logs in ${out}/logs\n${run.stderr.slice(-3000)}`).toBe(0)
    expect(run.stdout).toContain('TARGETS')

    const r = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8'))
    expect(r.mode).toBe('smoke')
    expect(['psi', 'procs_running']).toContain(r.host.stallSource)
    expect(r.strategies).toHaveLength(1)
    const s = r.strategies[0]
    expect(s.name).toBe('calmswap-stop')
    expect(s.error).toBeUndefined()
    expect(s.leftBehind).toEqual([])
    expect(s.webBootS).toBeGreaterThan(r.params.bootDelayS)
    expect(s.webBootS).toBeLessThan(r.params.bootDelayS + 30)

    const ncpu = cpus().length
    for (const name of ['good', 'failing'] as const) {
      const p = s.phases[name]
      expect(p, name).toBeTruthy()
      expect(p.deploy.asExpected, `${name} deploy exit ${p.deploy.exitCode}`).toBe(true)
      // ~rate × (warmup + steady + deploy + tail) requests, all accounted for.
      expect(p.requests.total).toBeGreaterThan(r.params.rate * (r.params.warmupS + r.params.steadyS))
      // The guarantee of calmswap-stop, good release or failing one rolled back (targets failedGood, failedFailing).
      expect(p.requests.failed, `${name}: failed requests`).toBe(0)
      for (const w of ['steady', 'deploy'] as const) {
        const l = p.latencyMs[w]
        expect(l.n, `${name} ${w} latency samples`).toBeGreaterThan(0)
        expect(l.p50).toBeGreaterThan(0)
        expect(l.p50).toBeLessThanOrEqual(l.p99)
        expect(l.p99).toBeLessThanOrEqual(l.max)
        const c = p.cpu[w]
        expect(num(c.stallMsPerS) && c.stallMsPerS >= 0 && c.stallMsPerS <= 1000 * ncpu, `${name} ${w} stall ${c.stallMsPerS}`).toBe(true)
        expect(c.busyPct).toBeGreaterThan(0)
        expect(c.busyPct).toBeLessThanOrEqual(100)
        // The stack runs on the pinned CPUs and serves the load there: never idle.
        expect(c.pinnedBusyPct).toBeGreaterThan(0)
        expect(c.pinnedBusyPct).toBeLessThanOrEqual(100)
      }
      expect(num(p.cpu.stallRatio) && p.cpu.stallRatio >= 0).toBe(true)
      expect(p.cpu.peakStallMsPerS.deploy).toBeGreaterThanOrEqual(p.cpu.deploy.stallMsPerS * 0.5)
      expect(num(p.cpu.extraStallS)).toBe(true)
      expect(Array.isArray(p.warnings)).toBe(true)
      expect(p.deploy.doneS).toBeGreaterThan(0)
      expect(p.deploy.steps.length).toBeGreaterThan(2)
      // The invariant is at most one beat; the sampler saw the one there is.
      expect(p.beatMaxAtOnce, `${name}: beat containers at once`).toBe(1)
      expect(p.workerMaxAtOnce).toBeGreaterThanOrEqual(1)
      expect(p.tasks.enqueued).toBeGreaterThanOrEqual(r.params.backlog.tasks)
      expect(p.tasks.executed).toBeGreaterThan(0)
      expect(p.tasks.lost, `${name}: lost tasks`).toBe(0)
      expect(p.orchestrator.cpuS).toBeGreaterThan(0.05)
      expect(p.orchestrator.cpuS).toBeLessThan(p.deploy.doneS * ncpu)
      // calmswap's own node process is a part of the whole tree's CPU time.
      expect(p.orchestrator.nodeSelfCpuS).toBeGreaterThan(0)
      expect(p.orchestrator.nodeSelfCpuS).toBeLessThan(p.orchestrator.cpuS)
      expect(p.orchestrator.maxRssMb).toBeGreaterThan(10)
      expect(p.orchestrator.treePeakRssMb).toBeGreaterThan(0)
      expect(p.orchestrator.composeCalls).toBeGreaterThan(0)
    }
    const good = s.phases.good
    // Issue 20's figures: node's own RSS and CPU as calmswap reports them, the gap in task
    // processing seen from Redis and from calmswap, status and health alone.
    expect(good.orchestrator.nodeMaxRssMb).toBeGreaterThan(10)
    expect(good.reported.maxRssMb).toBeGreaterThan(10)
    expect(good.reported.cpuS).toBeGreaterThan(0)
    expect(good.reported.gapS).toBeGreaterThan(0)
    expect(good.reported.gapS).toBeLessThan(good.deploy.doneS)
    // Only when the old workers were seen running tasks after their thaw.
    if (good.reported.noTaskS != null) expect(good.reported.noTaskS).toBeGreaterThan(0)
    expect(good.processingGapS).toBeGreaterThan(0)
    expect(good.processingGapS).toBeLessThan(good.deploy.doneS + r.params.tailS + 1)
    for (const tool of ['status', 'health'] as const) {
      expect(good.readers[tool].n, tool).toBe(2)
      expect(good.readers[tool].min).toBeGreaterThan(10)
      expect(good.readers[tool].min).toBeLessThanOrEqual(good.readers[tool].max)
    }
    expect(good.latencyByStep.map((x: { step: string }) => x.step)).toContain('health')
    expect(good.deploy.switchedS).toBeGreaterThan(0)
    expect(good.deploy.switchedS).toBeLessThan(good.deploy.doneS)
    expect(good.requests.servedByNew).toBeGreaterThan(0)
    expect(good.cleanup.exitCode).toBe(0)
    const failing = s.phases.failing
    expect(failing.deploy.switchedS).toBeNull()
    expect(failing.requests.servedByNew).toBe(0)

    const ids = new Set(r.targets.map((t: { id: string }) => t.id))
    for (const id of ['failedGood', 'failedFailing', 'beatAtOnce', 'lostTasks', 'stallRatio', 'switched', 'orchestratorCpu', 'p99Ratio', 'gap', 'nodeRss', 'readersRss'])
      expect(ids, id).toContain(id)

    const svg = readFileSync(join(out, 'timeline.svg'), 'utf8')
    expect(svg.startsWith('<svg')).toBe(true)
    expect(svg).toContain('calmswap-stop')
    expect(svg.trimEnd().endsWith('</svg>')).toBe(true)
    expect(JSON.parse(readFileSync(join(out, 'timeline.json'), 'utf8'))[0].good.requests.length).toBe(good.requests.total)

    const left = execFileSync('docker', ['ps', '-a', '--format', '{{.Names}}', '--filter', `name=${s.prefix}-`])
      .toString()
      .trim()
    expect(left).toBe('')
  }, 300_000)
})
