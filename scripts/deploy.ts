#!/usr/bin/env -S npx tsx
// deploy: the whole staged deploy (lib/deploy.ts). A failure, or Ctrl-C, rolls back.
import { isMain, run } from '../lib/cli.ts'
import { DEPLOY_STEPS, deploy } from '../lib/deploy.ts'

if (isMain(import.meta.url, 'deploy')) {
  void run(
    {
      name: 'deploy',
      summary: 'staged blue-green deploy of the compose stack',
      usage: 'deploy [--dry-run] [--json] [--verbose]',
      dryRun: true,
      notes: `Steps: ${DEPLOY_STEPS.join(', ')}. A failure, or Ctrl-C, SIGTERM or SIGHUP, rolls back.`,
    },
    async (ctx) => void (await deploy(ctx)),
  )
}
