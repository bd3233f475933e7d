#!/usr/bin/env -S npx tsx
// doctor: checks everything a deploy depends on, and prints the exact fix for each problem.
// The step itself, its flags and --help are lib/steps/doctor.ts; `calmswap doctor` runs the same one.

import { startMain } from '../lib/main.ts'

startMain(import.meta.url, async () => {
  const [{ runStep }, { step }] = await Promise.all([import('../lib/cli.ts'), import('../lib/steps/doctor.ts')])
  return runStep(step)
})
