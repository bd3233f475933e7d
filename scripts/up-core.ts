#!/usr/bin/env -S npx tsx
// up-core: start only a color's web and core services; its workers wait for the switch.
// The step itself, its flags and --help are lib/steps/up-core.ts; `calmswap up-core` runs the same one.

import { startMain } from '../lib/main.ts'

startMain(import.meta.url, async () => {
  const [{ runStep }, { step }] = await Promise.all([import('../lib/cli.ts'), import('../lib/steps/up-core.ts')])
  return runStep(step)
})
