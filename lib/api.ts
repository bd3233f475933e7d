// What `import ... from 'calmswap'` gives: each step as a function of a context, the context
// and config they take, and the steps as the command runs them. The package's one entry
// for code (dist/api.mjs, its types in dist/types/api.d.ts).

export type { Check } from './checks.ts'
export { type Flags, type Invocation, type Main, type RunDeps, run, runStep, type ScriptSpec, type Step } from './cli.ts'
export { cleanup } from './compose/cleanup.ts'
export { type DeployOptions, type DeployResult, deploy } from './compose/deploy.ts'
export { doctor } from './compose/doctor.ts'
export { checkHealth } from './compose/health.ts'
export { rollback } from './compose/rollback.ts'
export { type StatusReport, status } from './compose/status.ts'
export { switchTo } from './compose/traffic.ts'
export { freezeWorkers, startRest } from './compose/workers.ts'
export { type Color, type Config, SETTINGS } from './config.ts'
export { type ConfigSources, loadConfig } from './config-loader.ts'
export { type Ctx, makeContext } from './context.ts'
export { guessSettings, type InitGuess } from './init.ts'
export { dispatch, STEPS, version } from './steps/index.ts'
