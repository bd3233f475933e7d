// Swarm mode behind the engine seam: one stack whose services Swarm updates in place, step
// by step (README: Swarm). The compose steps run one by one (up-core, switch, ...) have no
// counterpart here: deploy runs every step itself. Each operation loads its modules when
// it is called, as compose's do (lib/compose/engine.ts).

import { composeStepRefusal, type Engine } from '../context.ts'
import { UsageError } from '../errors.ts'
import { SwarmStore } from './state.ts'

const RUNS: ReadonlySet<string> = new Set(['deploy', 'rollback', 'cleanup', 'status', 'doctor', 'history'])

export const swarmEngine: Engine = {
  name: 'swarm',
  storeFile: (stateDir) => new SwarmStore(stateDir).file,
  refuses: (script) => (RUNS.has(script) ? null : composeStepRefusal(script)),
  deploy: async (ctx, o) => (await import('./deploy.ts')).swarmDeploy(ctx, { release: o.release, rerunJobs: o.rerunJobs }),
  rollback: async (ctx) => (await import('./deploy.ts')).swarmRollback(ctx),
  cleanup: async (ctx) => (await import('./deploy.ts')).swarmCleanup(ctx),
  async status(ctx, json) {
    const { formatSwarmStatus, swarmStatus } = await import('./report.ts')
    const s = await swarmStatus(ctx)
    return json ? JSON.stringify(s, null, 2) : formatSwarmStatus(s)
  },
  doctor: async (ctx) => (await import('./report.ts')).swarmDoctor(ctx),
  recover: async () => {
    throw new UsageError(composeStepRefusal('recover'))
  },
}
