#!/usr/bin/env -S npx tsx
// init: a first calmswap.json, guessed from the compose file as Compose reads it.
// The step itself, its flags and --help are lib/steps/init.ts; `calmswap init` runs the same one.

import { startMain } from '../lib/main.ts'

startMain(import.meta.url, async () => {
  const [{ runStep }, { step }] = await Promise.all([import('../lib/cli.ts'), import('../lib/steps/init.ts')])
  return runStep(step)
})
