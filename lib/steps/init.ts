// init: a first calmswap.json, guessed from the compose file as Compose reads it.

import { existsSync, writeFileSync } from 'node:fs'
import { relative, resolve } from 'node:path'
import type { Step } from '../cli.ts'
import { readComposeModel } from '../compose/contract.ts'
import { UsageError } from '../errors.ts'
import { guessSettings } from '../init.ts'

export const step: Step = {
  spec: {
    name: 'init',
    summary: 'propose calmswap.json from your compose file: the roles of its services and why',
    usage: 'init [--dry-run] [--force]   (CALMSWAP_COMPOSE_FILE=<file>, default compose.yml)',
    options: { force: { type: 'boolean' } },
    dryRun: true,
    notes:
      'Reads the compose file through `docker compose config --format json`. Writes ./calmswap.json (or --config <file>),\nnever over an existing one without --force; --dry-run prints it instead.',
  },
  main: async (ctx, { flags }) => {
    const target = resolve((flags.config as string | undefined) ?? process.env.CALMSWAP_CONFIG ?? 'calmswap.json')
    if (existsSync(target) && !flags.force && !flags['dry-run']) throw new UsageError(`${target} exists: --force overwrites it, --dry-run prints the proposal`)
    const model = await readComposeModel(ctx)
    const file = relative(process.cwd(), resolve(ctx.config.composeFile)) || ctx.config.composeFile
    const guess = guessSettings(model, file.startsWith('..') ? resolve(ctx.config.composeFile) : file, process.cwd())
    for (const r of guess.reasons) ctx.ui.info(r)
    for (const n of guess.notes) ctx.ui.info(`note: ${n}`)
    const json = `${JSON.stringify(guess.settings, null, 2)}\n`
    if (flags['dry-run']) return ctx.ui.data(json.trimEnd())
    writeFileSync(target, json)
    ctx.ui.ok(`wrote ${target}: check it, then npx calmswap doctor`)
  },
}
