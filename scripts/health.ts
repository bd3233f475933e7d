#!/usr/bin/env -S npx tsx
// health: wait until a color's web passes its check (read-only: takes no lock).
// The step itself, its flags and --help are lib/steps/health.ts; `calmswap health` runs the same one.

import { startMain } from '../lib/main.ts'

startMain(import.meta.url, async () => {
  const [{ runStep }, { step }] = await Promise.all([import('../lib/cli.ts'), import('../lib/steps/health.ts')])
  return runStep(step)
})
