// doctor: checks everything a deploy depends on, and prints the exact fix for each problem.

import { formatChecks } from '../checks.ts'
import type { Step } from '../cli.ts'
import { ENGINES } from '../engines.ts'

export const step: Step = {
  spec: { name: 'doctor', engines: ENGINES, jsonIsData: true, summary: 'check docker, compose, config, the compose contract, nginx and ports', usage: 'doctor [--json]' },
  main: async (ctx, { flags }) => {
    const checks = await ctx.engine.doctor(ctx)
    ctx.ui.data(flags.json ? JSON.stringify(checks, null, 2) : formatChecks(checks, ctx.ui.c))
    return checks.every((k) => k.ok) ? 0 : 1
  },
}
