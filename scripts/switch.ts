#!/usr/bin/env -S npx tsx
// switch: point the proxy at a color, then ask the proxy itself whether that color answers.
// The step itself, its flags and --help are lib/steps/switch.ts; `calmswap switch` runs the same one.

import { startMain } from '../lib/main.ts'

startMain(import.meta.url, async () => {
  const [{ runStep }, { step }] = await Promise.all([import('../lib/cli.ts'), import('../lib/steps/switch.ts')])
  return runStep(step)
})
