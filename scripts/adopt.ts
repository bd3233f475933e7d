#!/usr/bin/env -S npx tsx
// adopt: move a running plain Compose project onto calmswap in place, its data never stopped.
// The step itself, its flags and --help are lib/steps/adopt.ts; `calmswap adopt` runs the same one.

import { startMain } from '../lib/main.ts'

startMain(import.meta.url, async () => {
  const [{ runStep }, { step }] = await Promise.all([import('../lib/cli.ts'), import('../lib/steps/adopt.ts')])
  return runStep(step)
})
