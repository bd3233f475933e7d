#!/usr/bin/env -S npx tsx
// proxy: apply a changed proxy config (validate, graceful reload) or image (beside the old one).
// The step itself, its flags and --help are lib/steps/proxy.ts; `calmswap proxy` runs the same one.

import { startMain } from '../lib/main.ts'

startMain(import.meta.url, async () => {
  const [{ runStep }, { step }] = await Promise.all([import('../lib/cli.ts'), import('../lib/steps/proxy.ts')])
  return runStep(step)
})
