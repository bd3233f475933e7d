// Swarm mode behind the engine seam: one stack whose services Swarm updates in place, step
// by step (README: Swarm). The compose steps run one by one (up-core, switch, ...) have no
// counterpart here: deploy runs every step itself.

import { composeStepRefusal, type Engine } from '../context.ts'
import { UsageError } from '../errors.ts'
import { SWARM_STEPS, swarmCleanup, swarmDeploy, swarmRollback } from './deploy.ts'
import { formatSwarmStatus, swarmDoctor, swarmStatus } from './report.ts'
import { SwarmStore } from './state.ts'

const RUNS: ReadonlySet<string> = new Set(['deploy', 'rollback', 'cleanup', 'status', 'doctor', 'history'])

export const swarmEngine: Engine = {
  name: 'swarm',
  steps: SWARM_STEPS,
  storeFile: (stateDir) => new SwarmStore(stateDir).file,
  refuses: (script) => (RUNS.has(script) ? null : composeStepRefusal(script)),
  deploy: (ctx, o) => swarmDeploy(ctx, { release: o.release, rerunJobs: o.rerunJobs }),
  rollback: (ctx) => swarmRollback(ctx),
  cleanup: (ctx) => swarmCleanup(ctx),
  async status(ctx, json) {
    const s = await swarmStatus(ctx)
    return json ? JSON.stringify(s, null, 2) : formatSwarmStatus(s)
  },
  doctor: (ctx) => swarmDoctor(ctx),
  recover: async () => {
    throw new UsageError(composeStepRefusal('recover'))
  },
}
