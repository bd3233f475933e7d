#!/usr/bin/env -S npx tsx
// What runs now: live color and release, every container's state, health and uptime,
// CPU pressure, and whether a deploy holds the lock.
import type { Color } from '../lib/config.ts'
import { COLORS } from '../lib/config.ts'
import type { Ctx } from '../lib/context.ts'
import type { Project } from '../lib/compose.ts'
import { isAlive, readLock, type LockInfo } from '../lib/lock.ts'
import { readPressure, type Pressure } from '../lib/pressure.ts'
import type { Journal } from '../lib/state.ts'
import { isMain, run } from '../lib/cli.ts'

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
  const lock = readLock(ctx.config.stateDir)
  const projects: Project[] = ['shared', ...COLORS]
  return {
    prefix: ctx.config.prefix,
    live: s.live,
    release: s.release,
    previous: s.previous,
    upstream: s.upstream,
    lock: lock ? { ...lock, alive: isAlive(lock) } : null,
    // A journal with no live lock holder is an operation that died halfway.
    interrupted: s.journal && !(lock && isAlive(lock)) ? s.journal : null,
    pressure: readPressure(),
    containers: projects.flatMap((p) =>
      inv.of(p).map((x) => ({ project: p, service: x.service, name: x.name, state: x.state, health: x.health || '-', status: x.status })),
    ),
  }
}

export function formatStatus(r: StatusReport, color = (p: string, t: string) => t): string {
  const lines = [
    `live:     ${r.live ? color(r.live, r.live) : 'nothing deployed'}${r.release ? `  release ${r.release}` : ''}`,
    `previous: ${r.previous ?? '-'}`,
    `proxy:    ${r.upstream ? `→ ${r.upstream.color} :${r.upstream.port}${r.upstream.backup ? ` (backup :${r.upstream.backup})` : ''}` : '-'}`,
    `cpu:      ${r.pressure.source === 'psi' ? `PSI some avg10 ${r.pressure.value}%` : `load ${r.pressure.value}% of cores (no PSI)`}`,
    `lock:     ${r.lock ? `${r.lock.op} by pid ${r.lock.pid} (${r.lock.who}) since ${r.lock.since}${r.lock.alive ? '' : ' (holder is gone; the next command takes it over)'}` : 'free'}`,
  ]
  if (r.interrupted) lines.push(`interrupted: ${r.interrupted.op} ${r.interrupted.from ?? 'nothing'} → ${r.interrupted.to} after [${r.interrupted.done.join(', ')}]; run ${r.interrupted.op} to continue`)
  lines.push('')
  const rows = [['PROJECT', 'SERVICE', 'STATE', 'HEALTH', 'STATUS'], ...r.containers.map((x) => [x.project, x.service, x.state, x.health, x.status])]
  const w = rows[0]!.map((_, i) => Math.max(...rows.map((row) => row[i]!.length)))
  for (const row of rows) lines.push(row.map((cell, i) => (i === 0 ? color(cell, cell.padEnd(w[i]!)) : cell.padEnd(w[i]!))).join('  ').trimEnd())
  if (!r.containers.length) lines.push('(no containers)')
  return lines.join('\n')
}

if (isMain(import.meta.url, 'status')) {
  void run({ name: 'status', jsonIsData: true, summary: 'live color, containers, CPU pressure and the lock', usage: 'status [--json]' }, async (ctx, { flags }) => {
    const r = await status(ctx)
    const paint = (p: string, t: string) => (p === 'blue' ? ctx.ui.c.blue(t) : p === 'green' ? ctx.ui.c.green(t) : t)
    ctx.ui.data(flags.json ? JSON.stringify(r, null, 2) : formatStatus(r, paint))
  })
}
