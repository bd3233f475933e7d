// Runs one orchestrator command (calmswap, or a strategy's bash script) the same way for
// every strategy: under bench/rusage.py for its CPU time and peak RSS, with stdout read
// line by line for step markers and docker calls, and its process tree's RSS sampled.
import { spawn } from 'node:child_process'
import { createWriteStream, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { PI_CGROUP } from './params.ts'
import { now, sampleEvery } from './samplers.ts'

export interface Step {
  readonly name: string
  readonly start: number
  end?: number
  ok?: boolean
}

export interface OrchestratorRun {
  readonly label: string
  readonly argv: readonly string[]
  readonly code: number
  /** Bench clock (ms): process started, process exited. */
  readonly t0: number
  readonly t1: number
  readonly wallS: number
  readonly cpuS: number
  readonly userS: number
  readonly sysS: number
  /** Largest single process of the tree (ru_maxrss), MB. */
  readonly maxRssMb: number
  /** Largest sum of RSS over the whole tree at one sample (every 200 ms), MB. */
  readonly treePeakRssMb: number
  /** For a node orchestrator: CPU seconds of the node process alone (bench/selfcpu.cjs). */
  readonly nodeSelfCpuS: number | null
  /** For a node orchestrator: the node process's own peak RSS (its children excluded), MB. */
  readonly nodeMaxRssMb: number | null
  readonly steps: Step[]
  /** Every docker / docker compose call the orchestrator reported, with its time; "[api] " before one made through the Engine API socket. */
  readonly commands: { t: number; text: string }[]
  /** calmswap's --json events (health tries, calm waits, ...), with arrival time. */
  readonly events: ({ t: number } & Record<string, unknown>)[]
}

const PAGE_KB = 4

/**
 * The system python, started without site packages (-S -E): a version manager's shim in
 * front of `python3` (pyenv here) cost 0.3 s before the orchestrator started, inside its
 * measured time, and its CPU landed in the wrapper's RUSAGE_CHILDREN.
 */
export const PYTHON = existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3'

/** Sum of resident memory of pid's descendants (pid itself, the python wrapper, excluded). */
function treeRssKb(root: number): number {
  const children = new Map<number, number[]>()
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8')
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1])
      children.set(ppid, [...(children.get(ppid) ?? []), Number(name)])
    } catch {}
  }
  let kb = 0
  const todo = [...(children.get(root) ?? [])]
  while (todo.length) {
    const pid = todo.pop()!
    try {
      kb += Number(readFileSync(`/proc/${pid}/statm`, 'utf8').split(' ')[1]) * PAGE_KB
    } catch {}
    todo.push(...(children.get(pid) ?? []))
  }
  return kb
}

export interface RunOptions {
  readonly label: string
  readonly argv: readonly string[]
  readonly env: Record<string, string>
  readonly cwd: string
  readonly logFile: string
  readonly usageFile: string
  readonly onLine?: (line: string) => void
  /** CPUs the whole tree may use (a cgroup CFS quota), for the Pi-class mode; none when absent. */
  readonly cpuQuota?: number | null
}

/**
 * The cgroup of --pi with its CFS quota of `cpus` of a CPU (cgroup v1's cpu controller, as
 * Docker's cgroupfs driver makes the containers' under it), made once per run; returns the
 * cgroup.procs file of its `orchestrator` child, where a process goes beside the containers.
 */
export function quotaCgroup(cpus: number): string {
  const period = 100_000
  const dir = `/sys/fs/cgroup/cpu/${PI_CGROUP}`
  if (!existsSync('/sys/fs/cgroup/cpu/cgroup.procs')) throw new Error('--pi needs cgroup v1 with its cpu controller at /sys/fs/cgroup/cpu (and Docker on the cgroupfs driver)')
  mkdirSync(join(dir, 'orchestrator'), { recursive: true })
  writeFileSync(join(dir, 'cpu.cfs_period_us'), String(period))
  writeFileSync(join(dir, 'cpu.cfs_quota_us'), String(Math.round(cpus * period)))
  return join(dir, 'orchestrator', 'cgroup.procs')
}

export async function runOrchestrator(o: RunOptions): Promise<OrchestratorRun> {
  const log = createWriteStream(o.logFile, { flags: 'a' })
  log.write(`\n$ ${o.argv.join(' ')}\n`)
  const steps: Step[] = []
  const commands: { t: number; text: string }[] = []
  const events: ({ t: number } & Record<string, unknown>)[] = []
  // A node orchestrator gets bench/selfcpu.cjs preloaded: its own CPU time, apart from its children's.
  const selfFile = `${o.usageFile}.self.json`
  rmSync(selfFile, { force: true })
  const argv = o.argv[0] === 'node' ? ['node', '--require', join(o.cwd, 'bench/selfcpu.cjs'), ...o.argv.slice(1)] : o.argv
  const t0 = now()
  const wrapped = [PYTHON, '-S', '-E', join(o.cwd, 'bench/rusage.py'), o.usageFile, ...argv]
  // Under a quota the wrapper moves itself into the cgroup before it execs: everything it
  // starts (node, docker, compose) is born inside.
  const [cmd, ...args] = o.cpuQuota ? ['sh', '-c', 'echo $$ > "$0" && exec "$@"', quotaCgroup(o.cpuQuota), ...wrapped] : wrapped
  const child = spawn(cmd!, args, {
    cwd: o.cwd,
    env: { ...process.env, ...o.env, BENCH_SELF_CPU_FILE: selfFile },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  const rss = sampleEvery(200, () => (child.pid ? treeRssKb(child.pid) : 0))

  const onStep = (kind: string, name: string, t: number, ok?: boolean) => {
    if (kind === 'step-start') steps.push({ name, start: t })
    else {
      const s = [...steps].reverse().find((x) => x.name === name && x.end === undefined)
      if (s) Object.assign(s, { end: t, ok: ok ?? true })
    }
  }
  let pending = ''
  child.stdout.on('data', (d: Buffer) => {
    const t = now()
    log.write(d)
    pending += d.toString('utf8')
    const lines = pending.split('\n')
    pending = lines.pop()!
    for (const line of lines) {
      o.onLine?.(line)
      if (line.startsWith('{')) {
        // calmswap --json
        try {
          const e = JSON.parse(line) as Record<string, unknown>
          events.push({ t, ...e })
          if (e.type === 'step-start' || e.type === 'step-end') onStep(String(e.type), String(e.step), t, e.ok as boolean | undefined)
          if (e.type === 'command' && !e.planned) commands.push({ t, text: `${e.via === 'api' ? '[api] ' : ''}${(e.argv as string[]).join(' ')}` })
        } catch {}
      } else if (line.startsWith('@')) {
        // bench/strategies/*.sh: "@step-start NAME", "@step-end NAME [failed]", "@command ARGV"
        const [kind = '', ...rest] = line.slice(1).split(' ')
        if (kind === 'command') commands.push({ t, text: rest.join(' ') })
        else if (kind === 'step-start' || kind === 'step-end') onStep(kind, rest[0] ?? '?', t, rest[1] !== 'failed')
      }
    }
  })
  child.stderr.on('data', (d: Buffer) => log.write(d))
  const code = await new Promise<number>((resolve) => child.on('close', (c) => resolve(c ?? 1)))
  const t1 = now()
  await rss.stop()
  log.end()
  let usage = { code, wallS: (t1 - t0) / 1000, userS: NaN, sysS: NaN, maxRssKb: NaN }
  try {
    usage = { ...usage, ...JSON.parse(readFileSync(o.usageFile, 'utf8')) }
  } catch {}
  let nodeSelfCpuS: number | null = null
  let nodeMaxRssMb: number | null = null
  try {
    const self = JSON.parse(readFileSync(selfFile, 'utf8'))
    nodeSelfCpuS = self.userS + self.sysS
    nodeMaxRssMb = self.maxRssKb / 1024
  } catch {}
  for (const s of steps) if (s.end === undefined) Object.assign(s, { end: t1, ok: false })
  return {
    label: o.label,
    argv: o.argv,
    code: usage.code,
    t0,
    t1,
    wallS: usage.wallS,
    cpuS: usage.userS + usage.sysS,
    userS: usage.userS,
    sysS: usage.sysS,
    maxRssMb: usage.maxRssKb / 1024,
    treePeakRssMb: Math.max(0, ...rss.samples) / 1024,
    nodeSelfCpuS,
    nodeMaxRssMb,
    steps,
    commands,
    events,
  }
}
