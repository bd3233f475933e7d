#!/usr/bin/env -S npx tsx
// status: live color, containers, CPU pressure and the lock (read-only).
// The step itself, its flags and --help are lib/steps/status.ts; `calmswap status` runs the same one.

import { startMain } from '../lib/main.ts'

startMain(import.meta.url, async () => {
  const [{ runStep }, { step }] = await Promise.all([import('../lib/cli.ts'), import('../lib/steps/status.ts')])
  return runStep(step)
})
