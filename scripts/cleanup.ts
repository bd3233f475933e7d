#!/usr/bin/env -S npx tsx
// cleanup: the operator's last word, removing the old color once the new release looks right.
// The step itself, its flags and --help are lib/steps/cleanup.ts; `calmswap cleanup` runs the same one.

import { startMain } from '../lib/main.ts'

startMain(import.meta.url, async () => {
  const [{ runStep }, { step }] = await Promise.all([import('../lib/cli.ts'), import('../lib/steps/cleanup.ts')])
  return runStep(step)
})
