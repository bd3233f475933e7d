// CPU calm per swarm node. A node's PSI is read where a file shows it from here: the
// CALMSWAP_NODE_PSI template (a node's cgroup on a box that runs several nodes, a mounted
// /proc of another box), or /proc/pressure/cpu for the node calmswap itself runs on. The
// Docker API does not report it. A node that cannot be read is named as such; its pressure
// is never guessed.
import { accessSync, constants } from 'node:fs'
import { hostname } from 'node:os'
import type { Config } from '../config.ts'
import type { Ctx } from '../context.ts'
import { calmBefore, type Pressure, readPressure, samplePressure } from '../pressure.ts'

export const LOCAL_PSI = '/proc/pressure/cpu'

export interface NodePsiSource {
  readonly file: string
  /** node: the node's own file (CALMSWAP_NODE_PSI); local: calmswap runs on that node. */
  readonly source: 'node' | 'local'
}

export interface NodePsi {
  readonly node: string
  /** PSI "some avg10" in %, or null when it cannot be read from here. */
  readonly avg10: number | null
  readonly source: NodePsiSource['source'] | null
  readonly file: string | null
}

const readable = (f: string) => {
  try {
    accessSync(f, constants.R_OK)
    return true
  } catch {
    return false
  }
}

/** Where node `host`'s PSI can be read from here, or null. */
export function psiSourceOf(c: Config, host: string, localHost = hostname(), canRead = readable): NodePsiSource | null {
  if (c.swarm.nodePsi) {
    const file = c.swarm.nodePsi.replaceAll('{node}', host)
    if (canRead(file)) return { file, source: 'node' }
  }
  if (host === localHost && canRead(LOCAL_PSI)) return { file: LOCAL_PSI, source: 'local' }
  return null
}

/** Each node's PSI now (avg10), for status and doctor. */
export function nodePsi(c: Config, hosts: readonly string[]): NodePsi[] {
  return hosts.map((node) => {
    const src = psiSourceOf(c, node)
    const p = src ? readPressure(src.file) : null
    return { node, avg10: p?.source === 'psi' ? p.value : null, source: src?.source ?? null, file: src?.file ?? null }
  })
}

/**
 * Before a step whose tasks start on `hosts`: waits until the pressure of every one of
 * them that can be read is below CALMSWAP_CPU_CALM (the highest counts), for at most
 * CALMSWAP_CPU_WAIT. Nodes that cannot be read are named; when none can, this host's PSI is
 * what is read, and the message says that it is this host's.
 */
export async function calmOnNodes(ctx: Ctx, step: string, hosts: readonly string[]): Promise<void> {
  const c = ctx.config
  if (c.calm.threshold <= 0 || ctx.exec.dryRun) return
  const sources = hosts.map((h) => [h, psiSourceOf(c, h)] as const)
  const known = sources.filter(([, s]) => s !== null) as (readonly [string, NodePsiSource])[]
  const unknown = sources.filter(([, s]) => s === null).map(([h]) => h)
  const files = known.length ? known.map(([, s]) => s.file) : [LOCAL_PSI]
  if (unknown.length) {
    ctx.ui.warn(
      `CPU pressure of ${unknown.join(', ')} cannot be read from here (set CALMSWAP_NODE_PSI, or run calmswap on that node): ${known.length ? `waiting on ${known.map(([h]) => h).join(', ')} only` : `waiting on this host's (${hostname()}) PSI instead`}`,
    )
  }
  const read = async (): Promise<Pressure> => {
    const all = await Promise.all(files.map((f) => samplePressure(100, f, ctx.signal)))
    const psi = all.filter((p) => p.source === 'psi')
    return psi.length ? { source: 'psi', value: Math.max(...psi.map((p) => p.value)) } : all[0]!
  }
  const on = known.length ? known.map(([h]) => h).join(', ') : `this host`
  await calmBefore(ctx, `${step} (${on})`, read)
}
