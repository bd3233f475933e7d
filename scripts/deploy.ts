#!/usr/bin/env -S npx tsx
// deploy: the whole staged deploy, in the engine CALMSWAP_ENGINE picks. A failure, or Ctrl-C, rolls back.
// The step itself, its flags and --help are lib/steps/deploy.ts; `calmswap deploy` runs the same one.

import { startMain } from '../lib/main.ts'

startMain(import.meta.url, async () => {
  const [{ runStep }, { step }] = await Promise.all([import('../lib/cli.ts'), import('../lib/steps/deploy.ts')])
  return runStep(step)
})
