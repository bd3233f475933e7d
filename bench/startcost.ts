// What starting a script costs before it does anything: from TypeScript through tsx, or
// the esbuild bundle in dist/. Measured as CPU seconds of the whole process tree
// (bench/rusage.py), median of a few runs of `--help`.
import { readFileSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { PYTHON } from './orchestrator.ts'
import { sh } from './stack.ts'

export interface StartCost {
  readonly command: string
  readonly runs: number
  /** Median CPU seconds (user + sys) and wall seconds. */
  readonly cpuS: number
  readonly wallS: number
  readonly maxRssMb: number
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!

async function measure(root: string, argv: string[], runs: number, scratch: string): Promise<StartCost> {
  const cpu: number[] = []
  const wall: number[] = []
  const rss: number[] = []
  await sh(argv, {}, root) // warm the page cache; not counted
  for (let i = 0; i < runs; i++) {
    const r = await sh([PYTHON, '-S', '-E', join(root, 'bench/rusage.py'), scratch, ...argv], {}, root)
    if (r.code !== 0) throw new Error(`${argv.join(' ')} failed (exit ${r.code}): ${r.stderr.trim().split('\n').at(-1)}`)
    const u = JSON.parse(readFileSync(scratch, 'utf8'))
    cpu.push(u.userS + u.sysS)
    wall.push(u.wallS)
    rss.push(u.maxRssKb / 1024)
  }
  rmSync(scratch, { force: true })
  return { command: argv.join(' '), runs, cpuS: median(cpu), wallS: median(wall), maxRssMb: median(rss) }
}

export async function startCosts(root: string, scratch: string, runs = 5): Promise<StartCost[]> {
  const out: StartCost[] = []
  for (const argv of [
    ['npx', 'tsx', 'scripts/deploy.ts', '--help'],
    ['node', '--import', 'tsx', 'scripts/deploy.ts', '--help'],
    ['node', 'dist/deploy.mjs', '--help'],
  ]) {
    out.push(await measure(root, argv, runs, scratch))
  }
  return out
}
