// deploy: the whole staged deploy (lib/compose/deploy.ts). A failure, or Ctrl-C, rolls back.

import type { Step } from '../cli.ts'
import { DEPLOY_STEPS } from '../compose/deploy.ts'
import { ENGINES } from '../engines.ts'
import { SWARM_STEPS } from '../swarm/deploy.ts'

export const step: Step = {
  spec: {
    engines: ENGINES,
    name: 'deploy',
    summary: 'staged blue-green deploy of the compose stack',
    usage: 'deploy [--dry-run] [--release <kept release>] [--rerun-jobs] [--json] [--verbose]',
    options: { 'rerun-jobs': { type: 'boolean' }, release: { type: 'string' } },
    dryRun: true,
    notes: `Steps: ${DEPLOY_STEPS.join(', ')}. A failure, or Ctrl-C, SIGTERM or SIGHUP, rolls back.\n--release <label>: deploy again an earlier release whose images are kept (CALMSWAP_KEEP_RELEASES), with no build.\n--rerun-jobs: continue an interrupted deploy whose release job was cut short, running that job again.\nCALMSWAP_ENGINE=swarm: steps ${SWARM_STEPS.join(', ')}; --release <label> deploys that release; --rerun-jobs is refused (no release jobs).`,
  },
  main: async (ctx, { flags }) => {
    const release = flags.release as string | undefined
    const rerunJobs = Boolean(flags['rerun-jobs'])
    await ctx.engine.deploy(ctx, { rerunJobs, release })
  },
}
