// What runs now: live color and release, every container's state, health and uptime, CPU
// pressure, and whether an operation holds the lock or was cut short.
import { COLORS, type Color, type Config, otherColor, type Project, projectName } from '../config.ts'
import type { Ctx } from '../context.ts'
import { formatCost, type HistoryEntry, lastHistory } from '../history.ts'
import type { Inventory } from '../inventory.ts'
import { type LockInfo, lockHeld, readLock } from '../lock.ts'
import { type Pressure, readPressure } from '../pressure.ts'
import type { Journal, State, WatchState } from '../state.ts'
import { trafficFile, upstreamFileColor } from './traffic.ts'

export interface StatusReport {
  readonly prefix: string
  readonly live: Color | null
  readonly release: string | null
  readonly previous: Color | null
  readonly upstream: { color: Color; port: number; backup: number | null; share?: number } | null
  /** A watch or canary step in progress (of a deploy that holds the lock), with what it has seen so far. */
  readonly watch: WatchState | null
  readonly lock: (LockInfo & { alive: boolean }) | null
  readonly interrupted: Journal | null
  readonly pressure: Pressure
  /** Where the host is not what the state says: what a power cut or a hand can leave. Empty when all agrees. */
  readonly problems: readonly string[]
  readonly containers: { project: Project; service: string; name: string; state: string; health: string; status: string }[]
  /** The last operation in history: its time, its gap in task processing, calmswap's own cost. */
  readonly last: HistoryEntry | null
}

/** Every way the host disagrees with the state. */
function problemsOf(c: Config, s: State, inv: Inventory, held: boolean): string[] {
  const p: string[] = []
  if (s.journal && !held) p.push(`a ${s.journal.op} ${s.journal.from ?? 'nothing'} → ${s.journal.to} was cut short`)
  for (const svc of c.roles.shared) if (!inv.runningServices('shared', [svc]).length) p.push(`${svc} of ${projectName(c, 'shared')} is not running`)
  if (!s.live) return p
  const other = otherColor(s.live)
  const down = [...c.roles.web, ...c.roles.core].filter((w) => !inv.runningServices(s.live!, [w]).length)
  if (down.length) p.push(`the live color ${s.live} does not run ${down.join(', ')}`)
  if (s.upstream && s.upstream.color !== s.live) p.push(`the proxy points at ${s.upstream.color}, but ${s.live} is live`)
  // What nginx reads, against the record: a power cut inside a switch sets them apart.
  const file = upstreamFileColor(c)
  if (file && s.upstream && file !== s.upstream.color && !held) p.push(`${trafficFile(c, file)} sends traffic to ${file}, but the state records ${s.upstream.color}`)
  if (s.switching && !held) p.push(`a switch to ${s.switching.color} was cut short: the upstream file may name it`)
  const beats = COLORS.filter((col) => inv.runningServices(col, c.roles.singletons).length)
  if (beats.length > 1) p.push(`${c.roles.singletons.join(', ')} run in both colors`)
  const otherWorkers = inv.runningServices(other, c.roles.workers)
  if (otherWorkers.length && !held) {
    p.push(
      c.pauseMode === 'pause' ? `${other}'s ${otherWorkers.join(', ')} should be frozen (pause mode) but run` : `workers of both colors run (${other}: ${otherWorkers.join(', ')})`,
    )
  }
  return p
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
    watch: (held && s.journal?.watch) || null,
    lock: note ? { ...note, alive: held } : null,
    // A journal with no live lock holder is an operation that died halfway.
    interrupted: s.journal && !held ? s.journal : null,
    pressure: readPressure(),
    problems: problemsOf(ctx.config, s, inv, held),
    containers: projects.flatMap((p) =>
      inv.containers(p).map((x) => ({ project: p, service: x.service, name: x.name, state: x.state, health: x.health || '-', status: x.status })),
    ),
    last: lastHistory(ctx.config.stateDir),
  }
}

export function formatStatus(r: StatusReport, color = (_p: string, t: string) => t): string {
  const lines = [
    `live:     ${r.live ? color(r.live, r.live) : 'nothing deployed'}${r.release ? `  release ${r.release}` : ''}`,
    `previous: ${r.previous ?? '-'}`,
    `proxy:    ${
      r.upstream
        ? r.upstream.share
          ? `→ ${r.upstream.color} :${r.upstream.port} ${r.upstream.share}%, :${r.upstream.backup} ${100 - r.upstream.share}% (canary)`
          : `→ ${r.upstream.color} :${r.upstream.port}${r.upstream.backup ? ` (backup :${r.upstream.backup})` : ''}`
        : '-'
    }`,
    `cpu:      ${r.pressure.source === 'psi' ? `PSI some avg10 ${r.pressure.value}%` : `load ${r.pressure.value}% of cores (no PSI)`}`,
    `lock:     ${r.lock ? `${r.lock.op} by pid ${r.lock.pid} (${r.lock.who}) since ${r.lock.since}${r.lock.alive ? '' : ' (holder is gone; the next command takes it over)'}` : 'free'}`,
  ]
  if (r.last) lines.push(`last:     ${formatCost(r.last)}`)
  if (r.watch) lines.push(`watch:    ${formatWatch(r.watch)}`)
  if (r.interrupted)
    lines.push(
      `interrupted: ${r.interrupted.op} ${r.interrupted.from ?? 'nothing'} → ${r.interrupted.to} after [${r.interrupted.done.join(', ')}]; run ${r.interrupted.op} to continue`,
    )
  if (r.problems.length) {
    lines.push(`problems: ${r.problems.join('\n          ')}`)
    lines.push('          run `recover` (make recover) to put it right, or rollback')
  }
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

/** "green (canary 10%): 34s of 1m0s left, 120 requests, 2 5xx (1.7%) as of 12:00:05". */
export function formatWatch(w: WatchState, now = Date.now()): string {
  const left = Math.max(0, Math.round((Date.parse(w.until) - now) / 1000))
  const total = Math.round((Date.parse(w.until) - Date.parse(w.since)) / 1000)
  const share = w.requests ? ` (${((100 * w.errors) / w.requests).toFixed(1)}%)` : ''
  return `${w.color} (${w.phase}): ${left}s of ${total}s left, ${w.requests} requests, ${w.errors} 5xx${share} so far`
}
