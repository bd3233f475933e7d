#!/usr/bin/env -S npx tsx

// doctor: checks everything a deploy depends on, and prints the exact fix for each problem.

import { formatChecks } from '../lib/checks.ts'
import { isMain, run } from '../lib/cli.ts'

if (isMain(import.meta.url, 'doctor')) {
  void run(
    { name: 'doctor', jsonIsData: true, summary: 'check docker, compose, config, the compose contract, nginx and ports', usage: 'doctor [--json]' },
    async (ctx, { flags }) => {
      const checks = await ctx.engine.doctor(ctx)
      ctx.ui.data(flags.json ? JSON.stringify(checks, null, 2) : formatChecks(checks, ctx.ui.c))
      return checks.every((k) => k.ok) ? 0 : 1
    },
  )
}
