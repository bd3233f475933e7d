// Compose mode behind the engine seam: two colors of one compose project, nginx switching
// between them (README: How a deploy works). Each operation loads its modules when it is
// called: `status` takes the status report along, not the deploy, rollback and doctor
// (the process's peak RSS: docs/benchmark.md, Lean).

import type { Ctx, Engine } from '../context.ts'
import { StateStore } from '../state.ts'
import type { Resumable } from './recover.ts'

/** Continued by recover, a deploy is the journal's: no options of its own. */
const deploy = async (ctx: Ctx, o: { readonly rerunJobs?: boolean; readonly release?: string } = {}) => (await import('./deploy.ts')).deploy(ctx, o)

const ops: Resumable = {
  deploy,
  rollback: async (ctx) => (await import('./rollback.ts')).rollback(ctx),
  cleanup: async (ctx, o) => (await import('./cleanup.ts')).cleanup(ctx, o),
  adopt: async (ctx) => (await import('./adopt.ts')).adopt(ctx),
  undoAdopt: async (ctx) => (await import('./adopt.ts')).undoAdopt(ctx),
}

export const composeEngine: Engine = {
  name: 'compose',
  storeFile: (stateDir) => new StateStore(stateDir).file,
  refuses: () => null,
  deploy: (ctx, o) => deploy(ctx, { rerunJobs: o.rerunJobs, release: o.release }),
  rollback: (ctx) => ops.rollback(ctx),
  cleanup: (ctx, o) => ops.cleanup(ctx, { yes: Boolean(o.yes) }),
  async status(ctx, json) {
    const { formatStatus, status } = await import('./status.ts')
    const r = await status(ctx)
    const paint = (p: string, t: string) => (p === 'blue' ? ctx.ui.c.blue(t) : p === 'green' ? ctx.ui.c.green(t) : t)
    return json ? JSON.stringify(r, null, 2) : formatStatus(r, paint)
  },
  doctor: async (ctx) => (await import('./doctor.ts')).doctor(ctx),
  recover: async (ctx) => (await import('./recover.ts')).recover(ctx, ops),
}
