// The label of a release, which either engine deploys: one step below both.
import { gitRevision } from './builders/git.ts'
import type { Ctx } from './context.ts'

/** The release label: CALMSWAP_RELEASE, else the git short hash, else a timestamp. */
export async function detectRelease(ctx: Ctx): Promise<string> {
  if (ctx.config.release) return ctx.config.release
  const r = await ctx.run(gitRevision(ctx.config.projectDir))
  if (r.code === 0 && /^[0-9a-f]{4,40}$/.test(r.stdout.trim())) return r.stdout.trim()
  return new Date().toISOString().replace(/[-:]/g, '').replace(/\..*/, '').replace('T', '-')
}
