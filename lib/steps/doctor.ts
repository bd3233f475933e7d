// doctor: checks everything a deploy depends on, and prints the exact fix for each problem.

import type { Step } from '../cli.ts'
import { doctor, formatChecks } from '../doctor.ts'
import { swarmDoctor } from '../swarm-report.ts'

export const step: Step = {
  spec: { name: 'doctor', jsonIsData: true, summary: 'check docker, compose, config, the compose contract, nginx and ports', usage: 'doctor [--json]', swarm: true },
  main: async (ctx, { flags }) => {
    const checks = await (ctx.config.engine === 'swarm' ? swarmDoctor(ctx) : doctor(ctx))
    ctx.ui.data(flags.json ? JSON.stringify(checks, null, 2) : formatChecks(checks, ctx.ui.c))
    return checks.every((k) => k.ok) ? 0 : 1
  },
}
