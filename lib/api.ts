// What `import ... from 'calmswap'` gives: each step as a function of a context, the context
// and config they take, and the steps as the command runs them. The package's one entry
// for code (dist/api.mjs, its types in dist/types/api.d.ts).

export { cleanup } from './cleanup.ts'
export { type Flags, type Invocation, type Main, type RunDeps, run, runStep, type ScriptSpec, type Step } from './cli.ts'
export { type Color, type Config, type ConfigSources, loadConfig, SETTINGS } from './config.ts'
export { type Ctx, makeContext } from './context.ts'
export { type DeployOptions, type DeployResult, deploy } from './deploy.ts'
export { type Check, doctor } from './doctor.ts'
export { checkHealth } from './health.ts'
export { guessSettings, type InitGuess } from './init.ts'
export { rollback } from './rollback.ts'
export { type StatusReport, status } from './status.ts'
export { dispatch, STEPS, version } from './steps/index.ts'
export { switchTo } from './traffic.ts'
export { freezeWorkers, startRest } from './workers.ts'
