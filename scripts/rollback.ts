#!/usr/bin/env -S npx tsx
// rollback: traffic back to the previous color, its workers resumed, the new color stopped.
// The step itself, its flags and --help are lib/steps/rollback.ts; `calmswap rollback` runs the same one.

import { startMain } from '../lib/main.ts'

startMain(import.meta.url, async () => {
  const [{ runStep }, { step }] = await Promise.all([import('../lib/cli.ts'), import('../lib/steps/rollback.ts')])
  return runStep(step)
})
