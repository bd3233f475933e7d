// Compose mode behind the engine seam: two colors of one compose project, nginx switching
// between them (README: How a deploy works).

import type { Ctx, Engine } from '../context.ts'
import { StepError } from '../errors.ts'
import { runOp } from '../operation.ts'
import { StateStore } from '../state.ts'
import { adopt, undoAdopt } from './adopt.ts'
import { cleanup } from './cleanup.ts'
import { DEPLOY_STEPS, deploy } from './deploy.ts'
import { doctor } from './doctor.ts'
import { type RecoverResult, reconcile } from './recover.ts'
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

/**
 * After a power cut or a daemon restart (lib/compose/recover.ts says why): an operation the
 * journal says was cut short is finished or undone by that operation itself, and this is the
 * one module that knows them all; with none cut short, the containers are reconciled.
 */
export async function recover(ctx: Ctx): Promise<RecoverResult> {
  return runOp(ctx, 'recover', async () => {
    const j = ctx.state.load().journal
    if (j?.op === 'deploy' && j.done.includes('switch')) {
      ctx.ui.info(`a deploy ${j.from ?? 'nothing'} → ${j.to} was cut short after traffic switched: finishing it`)
      await deploy(ctx)
      return { action: 'finished the deploy', changes: [] }
    }
    if (j?.op === 'deploy' || j?.op === 'rollback') {
      ctx.ui.info(`a ${j.op} ${j.from ?? 'nothing'} → ${j.to} was cut short${j.op === 'deploy' ? ' before traffic switched' : ''}: rolling back`)
      await rollback(ctx)
      return { action: 'rolled back', changes: [] }
    }
    if (j?.op === 'adopt') {
      if (j.done.includes('proxy')) {
        ctx.ui.info('an adoption was cut short after the proxy handed over: finishing it')
        await adopt(ctx)
        return { action: 'finished the adoption', changes: [] }
      }
      ctx.ui.info('an adoption was cut short before the proxy handed over: undoing it')
      const left = await undoAdopt(ctx)
      if (left) throw new StepError(`the adoption was undone, but ${left}`)
      return { action: 'undid the adoption', changes: [] }
    }
    if (j?.op === 'cleanup') {
      ctx.ui.info(`a cleanup of ${j.from} was cut short: finishing it`)
      await cleanup(ctx, { yes: true })
      return { action: 'finished the cleanup', changes: [] }
    }
    return reconcile(ctx)
  })
}
