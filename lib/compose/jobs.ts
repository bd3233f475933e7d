// Release jobs (migrations, collectstatic): each runs once per release, in order, in the
// new color, before its web starts. A job that fails stops the deploy while nothing of the
// old color has been touched. A job cut short is never run a second time without being asked.
import { jobContainer, runJob } from '../builders/compose.ts'
import { removeContainers } from '../builders/containers.ts'
import type { Color } from '../config.ts'
import type { Ctx } from '../context.ts'
import { StepError, UsageError } from '../errors.ts'
import type { OpLog } from '../history.ts'
import type { Journal } from '../state.ts'
import { fmtMs } from '../ui.ts'

/** The jobs an interrupted run started and did not see end: they may have half-run. */
const unfinishedJobs = (j: Journal | null | undefined) => Object.entries(j?.jobs ?? {}).flatMap(([name, st]) => (st === 'running' ? [name] : []))

/** Refuses to continue a deploy whose job was cut short, unless the operator said to run it again. */
export function checkUnfinishedJobs(j: Journal | null, rerun: boolean): void {
  const cut = unfinishedJobs(j)
  if (!cut.length || rerun) return
  throw new UsageError(
    `release job ${cut.join(', ')} of ${j!.release} was interrupted while it ran (deploy started ${j!.startedAt}); it may have done part of its work. ` +
      'Check it (for a migration: `manage.py showmigrations`), then run `deploy --rerun-jobs` to run it again and go on, or `rollback`. Nothing was changed.',
  )
}

/** The jobs step: each job in order, each with its own deadline and its log streamed. */
export async function runJobs(ctx: Ctx, op: OpLog, color: Color): Promise<void> {
  const jobs = ctx.config.roles.jobs
  if (!jobs.length) return ctx.ui.detail('  no release jobs')
  for (const job of jobs) {
    if (ctx.journal.current?.jobs?.[job] === 'done') {
      ctx.ui.detail(`  ${job}: done by the interrupted run`)
      continue
    }
    ctx.checkpoint()
    await op.step(`job ${job}`, () => runOne(ctx, color, job))
  }
}

async function runOne(ctx: Ctx, color: Color, job: string): Promise<void> {
  const c = ctx.config
  const name = jobContainer(c, color, job)
  // What a job cut short left behind: `compose run --name` would refuse to start beside it.
  if ((await ctx.inventory(true)).all.some((x) => x.name === name)) await ctx.must(removeContainers(c, [name]))
  ctx.journal.job(job, 'running')
  ctx.ui.event('job-start', { job, color })
  const t0 = performance.now()
  const r = await ctx.run(runJob(c, color, job))
  const ms = Math.round(performance.now() - t0)
  ctx.ui.event('job-end', { job, color, code: r.code, ms })
  if (r.code === 0) {
    ctx.journal.job(job, 'done')
    return ctx.ui.detail(`  ${job} finished in ${fmtMs(ms)}`)
  }
  ctx.journal.job(job, 'failed')
  if (r.code === 124) {
    // Killing `compose run` leaves its container running: the job is stopped here.
    await ctx.run(removeContainers(c, [name]))
    throw new StepError(
      `release job ${job} ${ctx.signal.aborted ? 'was interrupted' : `did not finish within CALMSWAP_JOB_TIMEOUT=${c.jobTimeoutMs / 1000}s`} and was stopped; nothing of the live color was touched`,
    )
  }
  throw new StepError(`release job ${job} failed (exit ${r.code}; its log is above); nothing of the live color was touched`)
}
