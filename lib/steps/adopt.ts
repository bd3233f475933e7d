// adopt: move a running plain Compose project onto calmswap in place, its data never stopped.

import type { Step } from '../cli.ts'
import { adopt } from '../compose/adopt.ts'

export const step: Step = {
  spec: {
    name: 'adopt',
    summary: 'take over a running plain Compose project in place: its databases keep running, its app becomes blue',
    usage: 'CALMSWAP_SHARED_PROJECT=<plain project> adopt [--proxy-from <its proxy service>] [--dry-run]',
    options: { 'proxy-from': { type: 'string' } },
    dryRun: true,
    notes:
      "The plain project's databases, Redis and volumes are never stopped. Its workers are frozen and beat stopped, blue's web starts beside its web,\nthe proxy hands over (the only gap), then the old workers stop and blue's start. A failure undoes it all. See README: moving a running app.",
  },
  main: async (ctx, { flags }) => adopt(ctx, { proxyFrom: flags['proxy-from'] as string | undefined }),
}
