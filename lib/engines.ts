// The engines CALMSWAP_ENGINE picks from: the one place that knows there are two. Only the
// steps that differ by engine (deploy, rollback, cleanup, status, doctor, recover) import it,
// so a step of compose mode (health, switch, ...) loads and copies none of the swarm code.
import { composeEngine } from './compose/engine.ts'
import type { Config } from './config.ts'
import type { Engine } from './context.ts'
import { swarmEngine } from './swarm/engine.ts'

export const ENGINES: Readonly<Record<Config['engine'], Engine>> = { compose: composeEngine, swarm: swarmEngine }
