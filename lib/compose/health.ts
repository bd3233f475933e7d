// Health: the health step of a color, which polls its web (lib/probe.ts), adds the
// container's own Docker healthcheck and gives up at once when the container exits.
import { healthStatus, runState } from '../builders/reads.ts'
import { answer } from '../command.ts'
import { type Color, LOOPBACK } from '../config.ts'
import type { Ctx } from '../context.ts'
import { anySignal } from '../deadlines.ts'
import { StepError } from '../errors.ts'
import { healthStatusOf, names, notStayingUp, type RunState, runStates } from '../inventory.ts'
import { checkOptions, type ProbeResult, probe, type WaitResult, waitHealthy } from '../probe.ts'

const healthUrl = (ctx: Ctx, color: Color) => `http://${LOOPBACK}:${ctx.config.ports[color]}${ctx.config.health.path}`

/**
 * The health step: waits until a color's web passes its check, its Docker healthcheck too
 * when it has one. Gives up at once when the container exits. A dry run prints the check.
 */
export async function checkHealth(ctx: Ctx, color: Color): Promise<WaitResult | null> {
  const c = ctx.config
  const url = healthUrl(ctx, color)
  if (ctx.exec.dryRun) {
    ctx.ui.data(`poll ${url} until ${c.health.passes} consecutive ${c.health.status}s (try timeout ${c.health.timeoutMs}ms, deadline ${c.health.deadlineMs}ms)`)
    return null
  }
  const webs = (await ctx.inventory()).containers(color, c.roles.web)
  const withHealthcheck = new Set(webs.map((w) => w.id))
  // A container that exited, or that a restart policy keeps restarting, will not start
  // answering: stop waiting at once.
  const gone = new AbortController()
  // One look at a time, the next 2 s after the last ended: a slow daemon gets no pile of listings.
  let watch: NodeJS.Timeout | undefined
  const look = async () => {
    const now = (await ctx.inventory(true).catch(() => null))?.containers(color, c.roles.web) ?? []
    const dead = now.find((x) => x.state === 'exited' || x.state === 'dead' || x.state === 'restarting')
    if (dead) gone.abort(`${dead.name} ${dead.state === 'restarting' ? 'is in a restart loop' : 'exited'}: ${dead.status}`)
    else if (!gone.signal.aborted) watch = setTimeout(look, 2000)
  }
  watch = setTimeout(look, 2000)
  try {
    const r = await ctx.ui.wait(`waiting for ${url}`, (update) =>
      waitHealthy(url, {
        ...checkOptions(c),
        signal: anySignal([ctx.signal, gone.signal]),
        extra: async () => {
          for (const w of webs) {
            if (!withHealthcheck.has(w.id)) continue
            const h = answer(await ctx.run(healthStatus(c, w.id)), healthStatusOf)
            // No healthcheck defined: never ask docker again for this container.
            if (!h) withHealthcheck.delete(w.id)
            else if (h !== 'healthy') return `docker healthcheck of ${w.name} is ${h}`
          }
          return null
        },
        onTry: (t) => {
          update(`${url}: try ${t.attempt}, ${t.reason ?? 'pass'} (${t.passes}/${c.health.passes} passes)`)
          ctx.ui.event('health-try', { url, attempt: t.attempt, ok: !t.reason, reason: t.reason, ms: Math.round(t.result.ms) })
        },
      }),
    )
    ctx.checkpoint()
    if (!r.ok) {
      const why = gone.signal.aborted ? String(gone.signal.reason) : (r.last?.reason ?? 'no answer')
      throw new StepError(`${color} web is not healthy at ${url} after ${(r.elapsedMs / 1000).toFixed(1)}s and ${r.tries} tries: ${why}`)
    }
    ctx.ui.detail(`  healthy after ${r.tries} tries, ${(r.elapsedMs / 1000).toFixed(1)}s`)
    return r
  } finally {
    gone.abort('done')
    clearTimeout(watch)
  }
}

/** A warm-up request's deadline: a first request may load much that the health page never does. */
const WARMUP_TIMEOUT_MS = 10_000

/**
 * The warm-up, after the check passed and before traffic moves: each CALMSWAP_WARMUP page
 * requested a few times on the new web itself (not through the proxy, so no user waits on
 * it). A process's first real request pays for what it loads lazily: the URL conf and
 * templates, a database connection, the broker's producer. The health page never asks for
 * them, and the first users after the switch would. Any status below 500 passes (a redirect
 * to a login page is a page); a page none of whose requests answers below 500 fails the
 * deploy while the old color still serves. One 5xx among them does not: the watch judges
 * rates, against the old color's. A page that does not answer at all is not asked again, and
 * the whole warm-up has CALMSWAP_HEALTH_DEADLINE: meanwhile no worker consumes.
 */
export async function warmUp(ctx: Ctx, color: Color): Promise<void> {
  const c = ctx.config
  const base = `http://${LOOPBACK}:${c.ports[color]}`
  if (!c.warmup.paths.length) return
  if (ctx.exec.dryRun) {
    ctx.ui.data(`GET ${c.warmup.paths.map((p) => base + p).join(', ')}, ${c.warmup.times}× each; a page with no answer below 500 fails the deploy`)
    return
  }
  const t0 = performance.now()
  const left = () => c.health.deadlineMs - (performance.now() - t0)
  const answer = (r: ProbeResult) => (r.status !== undefined ? `${r.status} in ${Math.round(r.ms)}ms` : (r.error ?? 'no answer'))
  const said: string[] = []
  for (const path of c.warmup.paths) {
    const tries: ProbeResult[] = []
    for (let i = 0; i < c.warmup.times; i++) {
      ctx.checkpoint()
      if (left() < 50)
        throw new StepError(
          `warming up the new ${color} web took longer than CALMSWAP_HEALTH_DEADLINE (${c.health.deadlineMs}ms): ${[...said, `${path}: ${tries.map(answer).join(', ')}`].join('; ')}`,
        )
      // Any status: `ok` is never true for -1, and the status is read whatever it is.
      const r = await probe(base + path, { host: c.health.host, status: -1, timeoutMs: Math.min(Math.max(c.health.timeoutMs, WARMUP_TIMEOUT_MS), left()), signal: ctx.signal })
      tries.push(r)
      if (r.status === undefined) break
    }
    ctx.checkpoint()
    if (!tries.some((r) => r.status !== undefined && r.status < 500))
      throw new StepError(
        `the new ${color} web passed its health check, but ${base}${path} answered ${[...new Set(tries.map((r) => r.status ?? r.error ?? 'no answer'))].join(', ')} to ${tries.length === 1 ? 'its first warm-up request' : `all ${tries.length} warm-up requests`} (CALMSWAP_WARMUP)`,
      )
    said.push(`${path}: ${tries.map(answer).join(', ')}`)
  }
  ctx.ui.detail(`  warmed up ${said.join('; ')}`)
}

/** The run state (restart count, start time) of a color's web containers; none in a dry run. */
export async function webRunState(ctx: Ctx, color: Color): Promise<RunState[]> {
  const webs = names((await ctx.inventory(true)).containers(color, ctx.config.roles.web))
  if (ctx.exec.dryRun || !webs.length) return []
  return answer(await ctx.run(runState(ctx.config, webs)), runStates)
}

/**
 * The new web must still be the process it was at `before` (taken as traffic moved to it). A
 * restart policy brings a crashed web back within a second, and the fresh process answers
 * health checks again until it crashes anew: only its restart count and start time tell.
 */
export async function confirmWebUp(ctx: Ctx, color: Color, before: readonly RunState[]): Promise<void> {
  if (!before.length) return
  const now = new Map((await webRunState(ctx, color)).map((x) => [x.name, x]))
  const wrong = before.map((b) => notStayingUp(b, now.get(b.name))).filter(Boolean)
  if (wrong.length) throw new StepError(`the new ${color} web did not stay up after the switch: ${wrong.join('; ')}`)
}
