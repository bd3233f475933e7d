#!/usr/bin/env -S npx tsx
// Step 3: wait until the new web answers, polled from t=0. Needs N consecutive passes,
// respects the container's own Docker healthcheck, and gives up early if the container exits.
import type { Color } from '../lib/config.ts'
import { otherColor } from '../lib/config.ts'
import { healthStatus } from '../lib/compose.ts'
import type { Ctx } from '../lib/context.ts'
import { StepError } from '../lib/errors.ts'
import { waitHealthy, type WaitResult } from '../lib/health.ts'
import { LOOPBACK } from '../lib/traffic.ts'
import { isMain, run } from '../lib/cli.ts'
import { colorArg } from './switch.ts'

export const healthUrl = (ctx: Ctx, color: Color) => `http://${LOOPBACK}:${ctx.config.ports[color]}${ctx.config.health.path}`

export async function health(ctx: Ctx, color: Color): Promise<WaitResult | null> {
  const c = ctx.config
  const url = healthUrl(ctx, color)
  if (ctx.exec.dryRun) {
    ctx.ui.data(`poll ${url} until ${c.health.passes} consecutive ${c.health.status}s (try timeout ${c.health.timeoutMs}ms, deadline ${c.health.deadlineMs}ms)`)
    return null
  }
  const webs = (await ctx.inventory()).of(color, c.roles.web)
  const withHealthcheck = new Set(webs.map((w) => w.id))
  // A container that already exited will not start answering: stop waiting at once.
  const gone = new AbortController()
  const watch = setInterval(async () => {
    const now = (await ctx.inventory(true).catch(() => null))?.of(color, c.roles.web) ?? []
    const dead = now.find((x) => x.state === 'exited' || x.state === 'dead')
    if (dead) gone.abort(`${dead.name} exited: ${dead.status}`)
  }, 2000)
  try {
    const r = await ctx.ui.wait(`waiting for ${url}`, (update) =>
      waitHealthy(url, {
        host: c.health.host,
        status: c.health.status,
        body: c.health.body,
        timeoutMs: c.health.timeoutMs,
        deadlineMs: c.health.deadlineMs,
        intervalMs: c.health.intervalMs,
        passes: c.health.passes,
        signal: AbortSignal.any([ctx.signal, gone.signal]),
        extra: async () => {
          for (const w of webs) {
            if (!withHealthcheck.has(w.id)) continue
            const h = (await ctx.exec.run(healthStatus(c, w.id))).stdout.trim()
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
    clearInterval(watch)
  }
}

if (isMain(import.meta.url, 'health')) {
  void run(
    {
      name: 'health',
      summary: "wait until a color's web passes its health check",
      usage: 'health [--color blue|green]   (default: the color that is not live)',
      options: { color: { type: 'string' } },
    },
    async (ctx, { flags }) => {
      const live = ctx.state.load().live
      await health(ctx, colorArg(flags.color, live ? otherColor(live) : 'blue'))
    },
  )
}
