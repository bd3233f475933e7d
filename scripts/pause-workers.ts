#!/usr/bin/env -S npx tsx
// pause-workers: freeze one color's workers and stop its singletons, to free the CPU.
// The step itself, its flags and --help are lib/steps/pause-workers.ts; `calmswap pause-workers` runs the same one.

import { startMain } from '../lib/main.ts'

startMain(import.meta.url, async () => {
  const [{ runStep }, { step }] = await Promise.all([import('../lib/cli.ts'), import('../lib/steps/pause-workers.ts')])
  return runStep(step)
})
