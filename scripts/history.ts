#!/usr/bin/env -S npx tsx
// history: every deploy, rollback and cleanup: when, who, which colors, release, images, step times, result.
// The step itself, its flags and --help are lib/steps/history.ts; `calmswap history` runs the same one.

import { startMain } from '../lib/main.ts'

startMain(import.meta.url, async () => {
  const [{ runStep }, { step }] = await Promise.all([import('../lib/cli.ts'), import('../lib/steps/history.ts')])
  return runStep(step)
})
