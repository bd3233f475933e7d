#!/usr/bin/env -S npx tsx
// calmswap: one command, the steps as subcommands (calmswap deploy, calmswap health --color
// green, ...), picked from lib/steps/index.ts; each step is also its own script here.

import { startMain } from '../lib/main.ts'

startMain(import.meta.url, async () => (await import('../lib/steps/index.ts')).dispatch(process.argv.slice(2)))
