// What runs now: live color and release, every container's state, health and uptime, CPU
// pressure, and whether an operation holds the lock or was cut short.
import { COLORS, type Color, type Project } from './config.ts'
import type { Ctx } from './context.ts'
import { type LockInfo, lockHeld, readLock } from './lock.ts'
import { type Pressure, readPressure } from './pressure.ts'
import type { Journal } from './state.ts'

export interface StatusReport {
  readonly prefix: string
  readonly live: Color | null
  readonly release: string | null
  readonly previous: Color | null
  readonly upstream: { color: Color; port: number; backup: number | null } | null
  readonly lock: (LockInfo & { alive: boolean }) | null
  readonly interrupted: Journal | null
  readonly pressure: Pressure
  readonly containers: { project: Project; service: string; name: string; state: string; health: string; status: string }[]
}

export async function status(ctx: Ctx): Promise<StatusReport> {
  const s = ctx.state.load()
  const inv = await ctx.inventory()
  const held = lockHeld(ctx.config.stateDir)
  const note = readLock(ctx.config.stateDir)
  const projects: Project[] = ['shared', ...COLORS]
  return {
    prefix: ctx.config.prefix,
    live: s.live,
    release: s.release,
    previous: s.previous,
    upstream: s.upstream,
    lock: note ? { ...note, alive: held } : null,
    // A journal with no live lock holder is an operation that died halfway.
    interrupted: s.journal && !held ? s.journal : null,
    pressure: readPressure(),
    containers: projects.flatMap((p) =>
      inv.containers(p).map((x) => ({ project: p, service: x.service, name: x.name, state: x.state, health: x.health || '-', status: x.status })),
    ),
  }
}

export function formatStatus(r: StatusReport, color = (_p: string, t: string) => t): string {
  const lines = [
    `live:     ${r.live ? color(r.live, r.live) : 'nothing deployed'}${r.release ? `  release ${r.release}` : ''}`,
    `previous: ${r.previous ?? '-'}`,
    `proxy:    ${r.upstream ? `→ ${r.upstream.color} :${r.upstream.port}${r.upstream.backup ? ` (backup :${r.upstream.backup})` : ''}` : '-'}`,
    `cpu:      ${r.pressure.source === 'psi' ? `PSI some avg10 ${r.pressure.value}%` : `load ${r.pressure.value}% of cores (no PSI)`}`,
    `lock:     ${r.lock ? `${r.lock.op} by pid ${r.lock.pid} (${r.lock.who}) since ${r.lock.since}${r.lock.alive ? '' : ' (holder is gone; the next command takes it over)'}` : 'free'}`,
  ]
  if (r.interrupted)
    lines.push(
      `interrupted: ${r.interrupted.op} ${r.interrupted.from ?? 'nothing'} → ${r.interrupted.to} after [${r.interrupted.done.join(', ')}]; run ${r.interrupted.op} to continue`,
    )
  lines.push('')
  const rows = [['PROJECT', 'SERVICE', 'STATE', 'HEALTH', 'STATUS'], ...r.containers.map((x) => [x.project, x.service, x.state, x.health, x.status])]
  const w = rows[0]!.map((_, i) => Math.max(...rows.map((row) => row[i]!.length)))
  for (const row of rows)
    lines.push(
      row
        .map((cell, i) => (i === 0 ? color(cell, cell.padEnd(w[i]!)) : cell.padEnd(w[i]!)))
        .join('  ')
        .trimEnd(),
    )
  if (!r.containers.length) lines.push('(no containers)')
  return lines.join('\n')
}
