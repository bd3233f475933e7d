#!/usr/bin/env -S npx tsx
// up-rest: once the other color's workers have stopped, start this color's singletons, then workers.
// The step itself, its flags and --help are lib/steps/up-rest.ts; `calmswap up-rest` runs the same one.

import { startMain } from '../lib/main.ts'

startMain(import.meta.url, async () => {
  const [{ runStep }, { step }] = await Promise.all([import('../lib/cli.ts'), import('../lib/steps/up-rest.ts')])
  return runStep(step)
})
