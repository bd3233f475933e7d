#!/usr/bin/env -S npx tsx
// recover: after a power cut or a daemon restart, finish or undo what was cut short and put
// every container where the live color wants it. Safe to run at every boot.
// The step itself, its flags and --help are lib/steps/recover.ts; `calmswap recover` runs the same one.

import { startMain } from '../lib/main.ts'

startMain(import.meta.url, async () => {
  const [{ runStep }, { step }] = await Promise.all([import('../lib/cli.ts'), import('../lib/steps/recover.ts')])
  return runStep(step)
})
