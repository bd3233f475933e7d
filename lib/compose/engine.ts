// Compose mode behind the engine seam: two colors of one compose project, nginx switching
// between them (README: How a deploy works).

import type { Engine } from '../context.ts'
import { StateStore } from '../state.ts'
import { cleanup } from './cleanup.ts'
import { DEPLOY_STEPS, deploy } from './deploy.ts'
import { doctor } from './doctor.ts'
import { recover } from './recover.ts'
import { rollback } from './rollback.ts'
import { formatStatus, status } from './status.ts'

export const composeEngine: Engine = {
  name: 'compose',
  steps: DEPLOY_STEPS,
  storeFile: (stateDir) => new StateStore(stateDir).file,
  refuses: () => null,
  deploy: (ctx, o) => deploy(ctx, { rerunJobs: o.rerunJobs, release: o.release }),
  rollback: (ctx) => rollback(ctx),
  cleanup: (ctx, o) => cleanup(ctx, { yes: o.yes }),
  async status(ctx, json) {
    const r = await status(ctx)
    const paint = (p: string, t: string) => (p === 'blue' ? ctx.ui.c.blue(t) : p === 'green' ? ctx.ui.c.green(t) : t)
    return json ? JSON.stringify(r, null, 2) : formatStatus(r, paint)
  },
  doctor: (ctx) => doctor(ctx),
  recover: (ctx) => recover(ctx),
}
